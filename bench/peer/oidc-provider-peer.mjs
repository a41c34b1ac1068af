// Benchmark peer: panva's oidc-provider (v9) configured as a refresh-token-rotating
// authorization server whose access tokens are EdDSA (Ed25519) JWTs.
//
//   const peer = await startPeer({ port: 0 });
//   const [rt] = await peer.mintRefreshTokens(1);
//   POST peer.tokenEndpoint
//     content-type: application/x-www-form-urlencoded
//     body: grant_type=refresh_token&refresh_token=<rt>&client_id=<peer.clientId>
//
// The client is public (token_endpoint_auth_method "none"): it authenticates by sending
// client_id in the form body, no Authorization header. No `resource` parameter is needed:
// every refresh token is bound to one resource server (peer.resource) and
// useGrantedResource() makes the refresh grant reuse it, so each refresh yields a JWT.
//
// Storage is oidc-provider's default in-memory adapter. NOTE: that adapter is an LRU
// holding ~1000-2000 entries in total (each chain keeps ~3 live entries: Grant, the
// grant's member index and the current refresh token; every rotation adds one more
// entry for the consumed token). Measured: 250 chains x 10 rotations all succeed, but
// with 300 chains 50 of them failed (400 invalid_grant) because live entries were evicted. For more
// chains pass `lruMaxSize` (e.g. 1e6): the same MemoryAdapter class over a larger LRU.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

const RESOURCE = 'urn:baton-bench:api';
const RESOURCE_SCOPE = 'api';
const CLIENT_ID = 'bench-client';

// oidc-provider prints dev-only notices on import / construction (unsupported runtime on
// Node 20 < "Jod" LTS, in-memory adapter). Silence exactly those so the peer stays quiet.
const SUPPRESSED = [
  'oidc-provider WARNING: Unsupported runtime',
  'oidc-provider WARNING: a quick start development-only in-memory adapter',
];
async function quietly(fn) {
  const { warn } = console;
  console.warn = (...args) => {
    const first = String(args[0] ?? '');
    if (SUPPRESSED.some((prefix) => first.includes(prefix))) return;
    warn.apply(console, args);
  };
  try {
    return await fn();
  } finally {
    console.warn = warn;
  }
}

function ed25519Jwk() {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `bench-ed25519-${randomUUID()}`, alg: 'EdDSA', use: 'sig' };
}

/**
 * @param {{ port?: number, host?: string, idToken?: boolean, lruMaxSize?: number,
 *           accessTokenTTL?: number, refreshTokenTTL?: number }} options
 *   idToken: also put `openid` in the refresh token scope, so every refresh also issues an
 *            (EdDSA) ID Token. Default false: refresh returns access + refresh token only.
 *   lruMaxSize: if set, replace the default LRU(1000) store with a larger one (same adapter code).
 */
export async function startPeer({
  port = 0,
  host = '127.0.0.1',
  idToken = false,
  lruMaxSize,
  accessTokenTTL = 900,
  refreshTokenTTL = 14 * 24 * 3600,
} = {}) {
  const { default: Provider } = await quietly(() => import('oidc-provider'));

  let adapter; // undefined => oidc-provider's default in-memory adapter
  if (lruMaxSize) {
    const [{ default: MemoryAdapter }, { default: LRU }] = await Promise.all([
      import('oidc-provider/lib/adapters/memory_adapter.js'),
      import('oidc-provider/lib/helpers/lru.js'),
    ]);
    const store = new LRU({ maxSize: lruMaxSize });
    adapter = (model) => new MemoryAdapter(model, store);
  }

  // Bind first so port 0 resolves before the issuer URL is fixed.
  const server = createServer();
  server.keepAliveTimeout = 65_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://${host}:${server.address().port}`;

  const configuration = {
    ...(adapter ? { adapter } : {}),
    clients: [
      {
        client_id: CLIENT_ID,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
        id_token_signed_response_alg: 'EdDSA',
      },
    ],
    clientDefaults: { id_token_signed_response_alg: 'EdDSA' },
    jwks: { keys: [ed25519Jwk()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', RESOURCE_SCOPE],
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub }),
    }),
    rotateRefreshToken: true,
    ttl: {
      AccessToken: accessTokenTTL,
      RefreshToken: refreshTokenTTL,
      Grant: refreshTokenTTL,
      IdToken: 3600,
      Interaction: 600,
      Session: refreshTokenTTL,
      AuthorizationCode: 60,
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: false },
      introspection: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          if (resourceIndicator !== RESOURCE) {
            throw new Provider.errors.InvalidTarget();
          }
          return {
            scope: RESOURCE_SCOPE,
            audience: RESOURCE,
            accessTokenTTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'EdDSA' } },
          };
        },
      },
    },
  };

  const provider = await quietly(() => new Provider(url, configuration));
  server.on('request', provider.callback());

  const client = await provider.Client.find(CLIENT_ID);
  const scope = idToken ? `openid offline_access ${RESOURCE_SCOPE}` : `offline_access ${RESOURCE_SCOPE}`;

  async function mintOne() {
    const accountId = `bench-user-${randomUUID()}`;
    const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
    grant.addOIDCScope(idToken ? 'openid offline_access' : 'offline_access');
    grant.addResourceScope(RESOURCE, RESOURCE_SCOPE);
    const grantId = await grant.save();

    const now = Math.floor(Date.now() / 1000);
    const rt = new provider.RefreshToken({
      accountId,
      client,
      grantId,
      gty: 'authorization_code',
      scope,
      resource: RESOURCE,
      authTime: now,
      rotations: 0,
    });
    return rt.save();
  }

  return {
    url,
    tokenEndpoint: `${url}/token`,
    clientId: CLIENT_ID,
    resource: RESOURCE,
    provider,
    async mintRefreshTokens(n) {
      const out = [];
      for (let i = 0; i < n; i += 1) out.push(await mintOne());
      return out;
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
