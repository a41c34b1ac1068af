// An example resource server: an "orders" API that trusts Baton's access tokens.
// It verifies every token locally (JWKS, no round trip) and follows Baton's revocation feed,
// so a signed-out session is refused within milliseconds.
import { createAccessTokenVerifier, createRevocationFeed, fastifyProtect } from '@baton/core/verify';
import Fastify from 'fastify';

const BATON_URL = process.env.BATON_URL ?? 'http://127.0.0.1:8080';
const PORT = Number(process.env.PORT ?? 4000);

// The feed needs one of Baton's BATON_RESOURCE_SERVERS credentials.
const feed = createRevocationFeed({
  url: `${BATON_URL}/oauth/revocations`,
  clientId: process.env.RS_ID ?? 'orders-api',
  clientSecret: process.env.RS_SECRET ?? 'orders-api-secret-change-me',
  accessTokenTtl: Number(process.env.BATON_ACCESS_TOKEN_TTL_SECONDS ?? 900) * 1000, // Baton's BATON_ACCESS_TOKEN_TTL
});

const verifier = createAccessTokenVerifier({
  issuer: process.env.BATON_ISSUER ?? BATON_URL, // Baton's BATON_ISSUER
  audience: process.env.BATON_AUDIENCE ?? 'baton', // Baton's BATON_AUDIENCE
  jwksUrl: `${BATON_URL}/.well-known/jwks.json`,
  revocation: feed,
});

const app = Fastify({ logger: { level: 'warn' } });
app.addHook('preHandler', fastifyProtect({ verifier }));

app.get('/orders', async (request) => {
  const { sub, sid } = request.baton;
  return { owner: sub, session: sid, orders: [{ id: 1, item: 'a very fine baton' }] };
});

await feed
  .ready(5000)
  .catch(() => app.log.warn('revocation feed not connected yet; retrying in the background'));
await app.listen({ port: PORT, host: '127.0.0.1' });
console.log(`orders API on http://127.0.0.1:${PORT}/orders`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    feed.close();
    await app.close();
    process.exit(0);
  });
}
