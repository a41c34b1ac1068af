// Smoke check for oidc-provider-peer.mjs: 3 chains x 5 rotations, EdDSA JWT access
// tokens, and replay of a used refresh token must fail.
//   node bench/peer/check-peer.mjs
import { freePort } from '../lib.mjs';
import { startPeer } from './oidc-provider-peer.mjs';

function decodeJwtPart(jwt, i) {
  return JSON.parse(Buffer.from(jwt.split('.')[i], 'base64url').toString('utf8'));
}

let failures = 0;
function check(cond, msg) {
  if (!cond) {
    failures += 1;
    console.log(`  FAIL: ${msg}`);
  }
}

const port = await freePort();
const peer = await startPeer({ port });
console.log(`peer ${peer.url} token endpoint ${peer.tokenEndpoint} client_id ${peer.clientId}`);

async function refresh(refreshToken) {
  const res = await fetch(peer.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: peer.clientId,
    }),
  });
  return { status: res.status, body: await res.json() };
}

try {
  const tokens = await peer.mintRefreshTokens(3);
  check(new Set(tokens).size === 3, 'minted tokens are distinct');

  for (const [chain, initial] of tokens.entries()) {
    let current = initial;
    const used = [];
    for (let step = 1; step <= 5; step += 1) {
      const { status, body } = await refresh(current);
      const next = body.refresh_token;
      const rotated = typeof next === 'string' && next !== current;
      let alg = '-';
      let typ = '-';
      let aud = '-';
      let scope = '-';
      if (typeof body.access_token === 'string' && body.access_token.split('.').length === 3) {
        ({ alg, typ } = decodeJwtPart(body.access_token, 0));
        ({ aud, scope } = decodeJwtPart(body.access_token, 1));
      }
      console.log(
        `chain ${chain + 1} refresh ${step}: status=${status} rotated=${rotated} alg=${alg} typ=${typ} aud=${aud} scope=${scope} expires_in=${body.expires_in}${status === 200 ? '' : ` error=${JSON.stringify(body)}`}`,
      );
      check(status === 200, 'status 200');
      check(rotated, 'refresh token rotated');
      check(alg === 'EdDSA', 'access token alg EdDSA');
      used.push(current);
      current = next;
    }

    // Replay the token used in the last step (already consumed): must be rejected.
    const replay = await refresh(used.at(-1));
    console.log(
      `chain ${chain + 1} replay of used token: status=${replay.status} body=${JSON.stringify(replay.body)}`,
    );
    check(
      replay.status === 400 && replay.body.error === 'invalid_grant',
      'replay rejected with invalid_grant',
    );

    // Reuse detection revokes the whole grant: the latest (unused) token is dead too.
    const after = await refresh(current);
    console.log(
      `chain ${chain + 1} latest token after replay: status=${after.status} body=${JSON.stringify(after.body)}`,
    );
    check(after.status === 400, 'grant revoked after replay');
  }
} finally {
  await peer.close();
}

console.log(failures === 0 ? 'PASS' : `FAILED (${failures} checks)`);
process.exitCode = failures === 0 ? 0 : 1;
