// The OpenAPI document (/docs/json) and the Swagger UI (/docs): the document lists every
// endpoint of the contract, every operation it lists exists, the bodies the server sends match
// the documented responses, the UI loads from this origin only, and no secret leaks into it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import {
  bearer,
  call,
  newEmail,
  PASSWORD,
  type Reply,
  signIn,
  startTestServer,
  type TestServer,
} from './helpers.js';

/** Every endpoint of the contract's table (docs/http-api.md follows it), plus Baton's own password change. */
const CONTRACT: ReadonlyArray<readonly [string, string]> = [
  ['POST', '/auth/register'],
  ['POST', '/auth/login'],
  ['POST', '/auth/refresh'],
  ['POST', '/oauth/token'],
  ['POST', '/oauth/revoke'],
  ['POST', '/oauth/introspect'],
  ['GET', '/.well-known/jwks.json'],
  ['GET', '/.well-known/oauth-authorization-server'],
  ['GET', '/auth/me'],
  ['POST', '/auth/logout'],
  ['POST', '/auth/logout-all'],
  ['GET', '/auth/sessions'],
  ['DELETE', '/auth/sessions/:id'],
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['POST', '/auth/password'],
];

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const SPEC_PATH = '/docs/json';

// biome-ignore lint/suspicious/noExplicitAny: the document is inspected field by field
type Json = any;

interface Operation {
  method: string;
  path: string;
  op: Json;
}

function operations(spec: Json): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<Json>(spec.paths)) {
    for (const method of METHODS) if (item[method]) out.push({ method, path, op: item[method] });
  }
  return out;
}

/** `/auth/sessions/:id` → `/auth/sessions/{id}`. */
const openapiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function resolveRef(spec: Json, ref: string): Json {
  assert.match(ref, /^#\//, `only local references: ${ref}`);
  let node = spec;
  for (const part of ref.slice(2).split('/')) {
    node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  assert.ok(node !== undefined, `dangling $ref ${ref}`);
  return node;
}

/**
 * A response schema with every `$ref` inlined and, for the test only, every object closed
 * (`additionalProperties: false` unless it says otherwise): a field the server sends but the
 * document does not describe fails.
 */
function strict(spec: Json, schema: Json): Json {
  if (Array.isArray(schema)) return schema.map((s) => strict(spec, s));
  if (schema === null || typeof schema !== 'object') return schema;
  if (typeof schema.$ref === 'string') {
    const { $ref, ...rest } = schema;
    return strict(spec, { ...resolveRef(spec, $ref), ...rest });
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) out[k] = strict(spec, v);
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

describe('OpenAPI document and /docs', () => {
  let server: TestServer;
  let spec: Json;
  let specText: string;
  const resourceServer = { id: 'rs-docs', secret: randomBytes(24).toString('base64url') };
  const confidential = { id: 'docs-app', secret: randomBytes(24).toString('base64url') };
  const basic = (id: string, secret: string) => ({
    authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
  });

  before(async () => {
    server = await startTestServer({
      BATON_RESOURCE_SERVERS: `${resourceServer.id}:${resourceServer.secret}`,
      BATON_CLIENTS: `${confidential.id}:${confidential.secret}`,
      BATON_ALLOWED_ORIGINS: 'https://app.example.test',
      // The operator endpoints exist only when configured: configured here, so they are checked too.
      BATON_ADMIN_TOKEN: 'admin-token-for-the-openapi-test-0123456789',
      BATON_METRICS_TOKEN: 'metrics-token-for-the-openapi-test',
    });
    const r = await call(server.url, 'GET', SPEC_PATH);
    assert.equal(r.status, 200, r.text);
    specText = r.text;
    spec = r.data;
  });

  after(async () => {
    await server?.close();
  });

  it('serves an OpenAPI 3.1.0 document at /docs/json (and YAML at /docs/yaml)', async () => {
    assert.equal(spec.openapi, '3.1.0');
    assert.equal(typeof spec.info?.title, 'string');
    assert.ok(spec.info.title.length > 0);
    assert.match(spec.info.version, /^\d+\.\d+\.\d+/);
    assert.equal(typeof spec.paths, 'object');
    assert.ok(Object.keys(spec.paths).length >= CONTRACT.length);
    assert.deepEqual(Object.keys(spec.components.securitySchemes).sort(), [
      'bearerAuth',
      'clientBasic',
      'operatorToken',
      'refreshCookie',
      'resourceServerBasic',
    ]);
    const yaml = await call(server.url, 'GET', '/docs/yaml');
    assert.equal(yaml.status, 200);
    assert.match(yaml.text, /^openapi: 3\.1\.0$/m);
  });

  it('documents every endpoint of the contract, and POST /auth/password, with its method', () => {
    for (const [method, path] of CONTRACT) {
      const item = spec.paths[openapiPath(path)];
      assert.ok(item, `${path} is not documented`);
      assert.ok(item[method.toLowerCase()], `${method} ${path} is not documented`);
    }
    assert.ok(
      spec.paths['/auth/sessions/{id}'].delete.parameters.some(
        (p: Json) => p.in === 'path' && p.name === 'id' && p.required === true,
      ),
      'the session id is a documented path parameter',
    );
  });

  it('documents each operation: summary, declared tag, security, request media types, error bodies', () => {
    const tags = new Set(spec.tags.map((t: Json) => t.name));
    const schemes = new Set(Object.keys(spec.components.securitySchemes));
    for (const { method, path, op } of operations(spec)) {
      const name = `${method.toUpperCase()} ${path}`;
      assert.ok(typeof op.summary === 'string' && op.summary.length > 0, `${name}: summary`);
      assert.ok(op.tags?.length > 0, `${name}: tags`);
      for (const t of op.tags) assert.ok(tags.has(t), `${name}: undeclared tag ${t}`);
      for (const requirement of op.security ?? []) {
        for (const s of Object.keys(requirement)) assert.ok(schemes.has(s), `${name}: unknown scheme ${s}`);
      }
      for (const param of path.match(/\{[^}]+\}/g) ?? []) {
        assert.ok(
          op.parameters?.some((p: Json) => p.in === 'path' && `{${p.name}}` === param),
          `${name}: path parameter ${param}`,
        );
      }
      const statuses = Object.keys(op.responses);
      assert.ok(
        statuses.some((s) => /^2\d\d$/.test(s)),
        `${name}: no success response`,
      );
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        assert.match(status, /^[1-5]\d\d$/, `${name}: response key ${status}`);
        assert.notEqual(response.description, 'Default Response', `${name} ${status}: undescribed`);
        if (Number(status) >= 400) {
          const body = strict(spec, response.content?.['application/json']?.schema);
          assert.deepEqual(body?.required, ['error', 'error_description'], `${name} ${status}: error body`);
          assert.ok(body.properties.error.enum.length > 0, `${name} ${status}: error codes`);
        }
      }
      const media = Object.keys(op.requestBody?.content ?? {});
      if (path.startsWith('/oauth/') && method === 'post') {
        assert.deepEqual(media, ['application/x-www-form-urlencoded'], `${name}: form body`);
      } else if (path.startsWith('/auth/') && media.length > 0) {
        assert.deepEqual(media, ['application/json'], `${name}: JSON body`);
      }
    }
    const login = spec.paths['/auth/login'].post;
    assert.deepEqual(login.responses['429'].content['application/json'].schema.properties.error.enum, [
      'rate_limited',
    ]);
    assert.ok(login.responses['429'].headers['Retry-After'], '429 documents Retry-After');
    assert.deepEqual(spec.paths['/auth/me'].get.security, [{ bearerAuth: [] }]);
    assert.deepEqual(spec.paths['/oauth/introspect'].post.security, [{ resourceServerBasic: [] }]);
    assert.deepEqual(spec.paths['/oauth/token'].post.security, [{}, { clientBasic: [] }]);
    assert.ok(spec.paths['/auth/refresh'].post.security.some((s: Json) => 'refreshCookie' in s));
    assert.equal(spec.paths['/auth/refresh'].post.requestBody.required, false, 'cookie mode sends no body');
  });

  it('leaves out its own routes, HEAD routes and the CORS preflight', () => {
    for (const { method, path } of operations(spec)) {
      assert.ok(!path.startsWith('/docs'), `${path} is documented`);
      assert.ok(method !== 'options' && method !== 'head', `${method} ${path} is documented`);
    }
  });

  it('every documented operation exists on the server', async () => {
    // What the not-found handler answers, to tell it from a route's own 404.
    const missing = await call(server.url, 'GET', '/no-such-route');
    assert.equal(missing.status, 404);
    for (const { method, path, op } of operations(spec)) {
      const url = path.replace(/\{[^}]+\}/g, 'no-such-id');
      const media = Object.keys(op.requestBody?.content ?? {})[0];
      const init =
        media === 'application/json'
          ? { json: {} }
          : media === 'application/x-www-form-urlencoded'
            ? { raw: '', headers: { 'content-type': media } }
            : {};
      const r = await call(server.url, method.toUpperCase(), url, init);
      const name = `${method.toUpperCase()} ${url}`;
      assert.ok(
        !(r.status === 404 && r.data?.error_description === missing.data.error_description),
        `${name} is documented but the server has no such route`,
      );
      assert.ok(r.status < 500, `${name}: ${r.status} ${r.text}`);
      assert.ok(
        op.responses[String(r.status)],
        `${name} answered ${r.status}, which is not documented: ${r.text.slice(0, 200)}`,
      );
    }
  });

  it('the bodies and headers the server sends match the documented responses', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    const seen = new Set<string>();
    const check = (method: string, path: string, r: Reply, expected: number): Reply => {
      const name = `${method} ${path}`;
      assert.equal(r.status, expected, `${name}: ${r.text}`);
      const op = spec.paths[path]?.[method.toLowerCase()];
      assert.ok(op, `${name} is not documented`);
      const response = op.responses[String(r.status)];
      assert.ok(response, `${name} answered ${r.status}, which is not documented`);
      seen.add(`${name} ${r.status}`);
      const schema = response.content?.['application/json']?.schema;
      if (schema === undefined) {
        assert.equal(r.text, '', `${name} ${r.status}: documented without a body`);
      } else {
        const validate = ajv.compile(strict(spec, schema));
        assert.ok(validate(r.data), `${name} ${r.status}: ${ajv.errorsText(validate.errors)} in ${r.text}`);
      }
      for (const [header, doc] of Object.entries<Json>(response.headers ?? {})) {
        if (/\bonly\b/i.test(doc.description ?? '')) continue; // sent in some cases only
        assert.ok(r.headers.get(header) !== null, `${name} ${r.status}: documented header ${header} missing`);
      }
      return r;
    };
    const url = server.url;

    check('GET', '/healthz', await call(url, 'GET', '/healthz'), 200);
    check('GET', '/readyz', await call(url, 'GET', '/readyz'), 200);
    check('GET', '/.well-known/jwks.json', await call(url, 'GET', '/.well-known/jwks.json'), 200);
    const metadataPath = '/.well-known/oauth-authorization-server';
    check('GET', metadataPath, await call(url, 'GET', metadataPath), 200);

    const email = newEmail();
    const credentials = { email, password: PASSWORD };
    check('POST', '/auth/register', await call(url, 'POST', '/auth/register', { json: credentials }), 201);
    check('POST', '/auth/register', await call(url, 'POST', '/auth/register', { json: credentials }), 409);
    check('POST', '/auth/register', await call(url, 'POST', '/auth/register', { json: { email } }), 400);
    const login = check(
      'POST',
      '/auth/login',
      await call(url, 'POST', '/auth/login', { json: credentials }),
      200,
    );
    const wrong = { email, password: 'not the password' };
    check('POST', '/auth/login', await call(url, 'POST', '/auth/login', { json: wrong }), 401);
    const cookieLogin = await call(url, 'POST', '/auth/login', {
      json: credentials,
      headers: { 'x-token-transport': 'cookie' },
    });
    check('POST', '/auth/login', cookieLogin, 200);
    assert.equal(cookieLogin.data.refresh_token, undefined);
    const other = { email: newEmail(), password: PASSWORD };
    for (let i = 0; i < 5; i++) await call(url, 'POST', '/auth/login', { json: other });
    check('POST', '/auth/login', await call(url, 'POST', '/auth/login', { json: other }), 429);

    const access = bearer(login.data.access_token);
    check('GET', '/auth/me', await call(url, 'GET', '/auth/me', { headers: access }), 200);
    check('GET', '/auth/me', await call(url, 'GET', '/auth/me'), 401);
    const list = check(
      'GET',
      '/auth/sessions',
      await call(url, 'GET', '/auth/sessions', { headers: access }),
      200,
    );
    assert.ok(list.data.sessions.length >= 2);

    const refreshed = check(
      'POST',
      '/auth/refresh',
      await call(url, 'POST', '/auth/refresh', { json: { refresh_token: login.data.refresh_token } }),
      200,
    );
    check('POST', '/auth/refresh', await call(url, 'POST', '/auth/refresh', { json: {} }), 400);
    check(
      'POST',
      '/auth/refresh',
      await call(url, 'POST', '/auth/refresh', { json: { refresh_token: 'x' } }),
      401,
    );
    const cookieRefresh = await call(url, 'POST', '/auth/refresh', {
      headers: { cookie: `baton_refresh=${cookieLogin.data.session_id}.0.x` },
    });
    check('POST', '/auth/refresh', cookieRefresh, 403);

    const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
      raw: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });
    const grant = await call(
      url,
      'POST',
      '/oauth/token',
      form({ grant_type: 'refresh_token', refresh_token: refreshed.data.refresh_token }),
    );
    check('POST', '/oauth/token', grant, 200);
    check(
      'POST',
      '/oauth/token',
      await call(url, 'POST', '/oauth/token', form({ grant_type: 'password' })),
      400,
    );
    check(
      'POST',
      '/oauth/token',
      await call(
        url,
        'POST',
        '/oauth/token',
        form({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'nobody' }),
      ),
      401,
    );

    const rs = basic(resourceServer.id, resourceServer.secret);
    const introspect = (token: string, headers = rs) =>
      call(url, 'POST', '/oauth/introspect', form({ token }, headers));
    const activeAccess = check('POST', '/oauth/introspect', await introspect(grant.data.access_token), 200);
    assert.equal(activeAccess.data.active, true);
    const activeRefresh = check('POST', '/oauth/introspect', await introspect(grant.data.refresh_token), 200);
    assert.equal(activeRefresh.data.token_type, 'refresh_token');
    const inactive = check('POST', '/oauth/introspect', await introspect('not-a-token'), 200);
    assert.deepEqual(inactive.data, { active: false });
    check('POST', '/oauth/introspect', await introspect('x', basic(resourceServer.id, 'wrong')), 401);

    const revoke = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      call(url, 'POST', '/oauth/revoke', form(fields, headers));
    check('POST', '/oauth/revoke', await revoke({ token: 'unknown' }), 200);
    check(
      'POST',
      '/oauth/revoke',
      await revoke({ token: grant.data.refresh_token }, basic(confidential.id, confidential.secret)),
      400,
    );
    check('POST', '/oauth/revoke', await revoke({ token: grant.data.access_token }), 200);

    const feed = await fetch(`${url}/oauth/revocations`);
    check(
      'GET',
      '/oauth/revocations',
      { status: feed.status, headers: feed.headers, text: '', data: await feed.json() },
      401,
    );

    const second = (await signIn(url)).tokens.data;
    const third = await call(url, 'POST', '/auth/login', { json: credentials });
    const mine = bearer(third.data.access_token);
    const sessionPath = '/auth/sessions/{id}';
    check(
      'DELETE',
      sessionPath,
      await call(url, 'DELETE', `/auth/sessions/${second.session_id}`, { headers: mine }),
      404,
    );
    check(
      'DELETE',
      sessionPath,
      await call(url, 'DELETE', `/auth/sessions/${cookieLogin.data.session_id}`, { headers: mine }),
      204,
    );
    check('DELETE', sessionPath, await call(url, 'DELETE', '/auth/sessions/x'), 401);

    const change = (json: unknown, headers = mine) => call(url, 'POST', '/auth/password', { json, headers });
    check('POST', '/auth/password', await change({ current_password: PASSWORD }), 400);
    check(
      'POST',
      '/auth/password',
      await change({ current_password: 'wrong password', new_password: 'x'.repeat(12) }),
      401,
    );
    check(
      'POST',
      '/auth/password',
      await change({ current_password: PASSWORD, new_password: PASSWORD }, {}),
      401,
    );
    check(
      'POST',
      '/auth/password',
      await change({ current_password: PASSWORD, new_password: `${PASSWORD}!` }),
      204,
    );

    check('POST', '/auth/logout', await call(url, 'POST', '/auth/logout', { headers: mine }), 204);
    check('POST', '/auth/logout', await call(url, 'POST', '/auth/logout', { headers: mine }), 401);
    const fourth = await call(url, 'POST', '/auth/login', { json: { email, password: `${PASSWORD}!` } });
    const fourthAuth = bearer(fourth.data.access_token);
    check(
      'POST',
      '/auth/logout-all',
      await call(url, 'POST', '/auth/logout-all', { headers: fourthAuth }),
      204,
    );
    check(
      'POST',
      '/auth/logout-all',
      await call(url, 'POST', '/auth/logout-all', { headers: fourthAuth }),
      401,
    );

    // Every documented success response of the contract's endpoints was seen at least once.
    for (const [method, path] of CONTRACT) {
      const p = openapiPath(path);
      const ok = Object.keys(spec.paths[p][method.toLowerCase()].responses).filter((s) => s.startsWith('2'));
      for (const s of ok) assert.ok(seen.has(`${method} ${p} ${s}`), `${method} ${p} ${s} was not checked`);
    }
  });

  it('GET /docs serves the UI, whose assets all come from this origin', async () => {
    const page = await call(server.url, 'GET', '/docs');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html\b/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/, `scripts from this origin only: ${csp}`);
    assert.match(csp, /connect-src 'self'(;|$)/, `the UI calls this server only: ${csp}`);
    assert.doesNotMatch(csp, /https?:|\*/, `no remote sources: ${csp}`);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), page.text);
    const origin = new URL(server.url).origin;
    for (const asset of assets) {
      const assetUrl = new URL(asset, `${server.url}/docs`);
      assert.equal(assetUrl.origin, origin, `${asset} is not served by Baton`);
      const r = await fetch(assetUrl);
      await r.arrayBuffer();
      assert.equal(r.status, 200, `${asset}: ${r.status}`);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', asset);
    }
    // The initializer points the UI at this document and at no validator service.
    const init = await (await fetch(`${server.url}/docs/static/swagger-initializer.js`)).text();
    assert.match(init, /resolveUrl\('\.\/json'\)/);
    assert.match(init, /validatorUrl: null/);
    const trailing = await call(server.url, 'GET', '/docs/');
    assert.equal(trailing.status, 200);
  });

  it('leaves the API and the demo their own headers (no CSP of the UI leaks)', async () => {
    const health = await call(server.url, 'GET', '/healthz');
    assert.equal(health.headers.get('content-security-policy'), null);
    assert.equal(health.headers.get('x-frame-options'), 'DENY');
    const demo = await call(server.url, 'GET', '/');
    assert.equal(demo.status, 200);
    assert.match(
      demo.headers.get('content-security-policy') ?? '',
      /^default-src 'none'; script-src 'self'; style-src 'self';/,
    );
    const preflight = await fetch(`${server.url}/auth/login`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.test', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.status, 204);
  });

  it('contains no secret, token or real-looking credential', () => {
    for (const secret of [resourceServer.secret, confidential.secret]) {
      assert.ok(!specText.includes(secret), 'a configured secret is in the document');
    }
    const strings: Array<[string, string]> = [];
    const walk = (node: Json, at: string): void => {
      if (typeof node === 'string') strings.push([at, node]);
      else if (node && typeof node === 'object')
        for (const [k, v] of Object.entries(node)) walk(v, `${at}/${k}`);
    };
    walk(spec, '#');
    for (const [at, text] of strings) {
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+/, `a JWT at ${at}`);
      assert.doesNotMatch(text, /\$argon2|-----BEGIN/, `key or hash material at ${at}`);
      assert.doesNotMatch(text, /\bBasic [A-Za-z0-9+/]{8,}={0,2}/, `Basic credentials at ${at}`);
      for (const word of text.match(/[A-Za-z0-9_+/=.-]{24,}/g) ?? []) {
        // Long mixed letters-and-digits runs look like tokens or keys; prose and field names do not.
        const random = /[a-z]/.test(word) && /[A-Z]/.test(word) && /\d/.test(word);
        assert.ok(!random, `a token-like value at ${at}: ${word}`);
      }
    }
    // Examples and defaults of credential fields, if any, are placeholders.
    const credentialish = /password|secret|token$|^token|cookie/i;
    const visit = (node: Json, at: string): void => {
      if (!node || typeof node !== 'object') return;
      for (const [name, prop] of Object.entries<Json>(node.properties ?? {})) {
        if (!credentialish.test(name)) continue;
        for (const key of ['example', 'examples', 'default', 'const']) {
          const values =
            key === 'examples' ? (prop?.[key] ?? []) : prop?.[key] === undefined ? [] : [prop[key]];
          for (const v of values)
            assert.match(String(v), /^<[^>]+>$/, `${at}/${name}/${key} looks real: ${v}`);
        }
      }
      for (const [k, v] of Object.entries(node)) visit(v, `${at}/${k}`);
    };
    visit(spec, '#');
  });
});

it('BATON_API_DOCS=off removes /docs and /docs/json; the API itself is unchanged', async () => {
  const server = await startTestServer({ BATON_API_DOCS: 'off' });
  try {
    for (const path of ['/docs', '/docs/json', '/docs/yaml']) {
      const r = await call(server.url, 'GET', path);
      assert.equal(r.status, 404, path);
      assert.equal(r.data.error, 'not_found', path);
    }
    assert.equal((await call(server.url, 'GET', '/.well-known/jwks.json')).status, 200);
  } finally {
    await server.close();
  }
});
