// The browser story end to end in Debian's Chromium, driven by playwright-core: the demo
// app and the @baton/client SDK against a real Baton, in cookie mode.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../packages/server/test/helpers.js';
import { freePort } from '../packages/server/test/processes.js';
import { CHROMIUM_PATH, launchChromium } from '../scripts/chromium.mjs';

const CHROMIUM = CHROMIUM_PATH;
const missing = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
if (missing && process.env.CI === 'true')
  throw new Error(`${missing}; CI must provide it (.ci/run installs it)`);

const PASSWORD = 'correct horse battery staple';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('browser: demo app and SDK in Chromium', { skip: missing || false, concurrency: false }, () => {
  let server: TestServer;
  let browser: Browser;
  let attacker: Server;
  let attackerUrl = '';

  /** Counts of audit events by type (rotations, grace re-use, reuse detections). */
  function audit(): Record<string, number> {
    const db = new Database(join(server.dataDir, 'baton.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT type, count(*) AS n FROM audit_events GROUP BY type').all() as Array<{
        type: string;
        n: number;
      }>;
      return Object.fromEntries(rows.map((r) => [r.type, r.n]));
    } finally {
      db.close();
    }
  }
  const refreshes = () => {
    const a = audit();
    return (a.refresh_rotated ?? 0) + (a.refresh_grace_reused ?? 0);
  };

  async function signUpAndIn(page: Page, email: string): Promise<void> {
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset.state === 'signed-out');
    await page.fill('#signup-form input[name=email]', email);
    await page.fill('#signup-form input[name=password]', PASSWORD);
    await page.click('#signup-form button[type=submit]');
    await page.waitForFunction(() => document.body.dataset.state === 'signed-in');
    // Only the signed-in view shows (the sessions list fills in a moment later).
    assert.equal(await page.isVisible('#signin-form'), false);
    await page.waitForSelector('#sessions tr', { state: 'visible' });
  }
  const state = (page: Page) => page.evaluate(() => document.body.dataset.state);
  const callMe = (page: Page) =>
    page.evaluate(
      async () =>
        (
          await (window as unknown as { baton: { fetch(p: string): Promise<Response> } }).baton.fetch(
            '/auth/me',
          )
        ).status,
    );

  before(async () => {
    // Short-lived access tokens so that expiry happens within the test.
    server = await startTestServer({ BATON_ACCESS_TOKEN_TTL: '4s', BATON_REUSE_GRACE: '10s' });
    browser = await launchChromium();
    // A page on another origin (localhost vs 127.0.0.1 are different sites).
    const port = await freePort();
    attacker = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><title>elsewhere</title>');
    });
    await new Promise<void>((r) => attacker.listen(port, '127.0.0.1', r));
    attackerUrl = `http://localhost:${port}/`;
  });
  after(async () => {
    await browser?.close();
    await new Promise((r) => attacker?.close(r));
    await server?.close();
  });

  it('five tabs stay signed in across an expiry with about one refresh and no reuse', async (t) => {
    const context = await browser.newContext();
    try {
      const first = await context.newPage();
      await signUpAndIn(first, `tabs-${Date.now()}@example.test`);
      const tabs = [first];
      for (let i = 0; i < 4; i++) {
        const page = await context.newPage();
        await page.goto(server.url);
        await page.waitForFunction(() => document.body.dataset.state === 'signed-in');
        tabs.push(page);
      }
      await sleep(300);
      const before = refreshes();
      await sleep(4500); // every tab's access token has expired (or was refreshed on a timer)
      const statuses = await Promise.all(tabs.map(callMe));
      await sleep(200);
      const made = refreshes() - before;
      t.diagnostic(`refreshes made for one expiry across five tabs: ${made}`);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
      assert.ok(made <= 2, `refreshes for one expiry across five tabs: ${made}`);
      for (const t of tabs) assert.equal(await state(t), 'signed-in');
      assert.equal(audit().reuse_detected ?? 0, 0);
    } finally {
      await context.close();
    }
  });

  it('a refresh whose response is dropped is retried and the session survives', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await signUpAndIn(page, `drop-${Date.now()}@example.test`);
      let dropped = 0;
      await page.route('**/auth/refresh', async (route) => {
        if (dropped === 0) {
          dropped++;
          await route.fetch(); // the server rotates…
          await route.abort('connectionreset'); // …but the answer (and its cookie) never arrives
        } else {
          await route.continue();
        }
      });
      await sleep(4200);
      assert.equal(await callMe(page), 200);
      assert.equal(dropped, 1);
      assert.equal(await state(page), 'signed-in');
      assert.equal(audit().reuse_detected ?? 0, 0);
      // The chain goes on normally afterwards.
      await page.unroute('**/auth/refresh');
      await sleep(4200);
      assert.equal(await callMe(page), 200);
    } finally {
      await context.close();
    }
  });

  it('sign out in one tab: the others notice and show signed-out', async () => {
    const context = await browser.newContext();
    try {
      const a = await context.newPage();
      await signUpAndIn(a, `signout-${Date.now()}@example.test`);
      const b = await context.newPage();
      await b.goto(server.url);
      await b.waitForFunction(() => document.body.dataset.state === 'signed-in');
      await a.click('#sign-out');
      await b.waitForFunction(() => document.body.dataset.state === 'signed-out', null, { timeout: 5000 });
      assert.equal(await state(a), 'signed-out');
      assert.match((await b.textContent('#notice')) ?? '', /another tab/);
      assert.deepEqual(
        (await context.cookies()).filter((c) => c.name === 'baton_refresh'),
        [],
      );
    } finally {
      await context.close();
    }
  });

  it('a session revoked from a second browser is signed out at its next call', async () => {
    const email = `revoke-${Date.now()}@example.test`;
    const one = await browser.newContext();
    const two = await browser.newContext();
    try {
      const p1 = await one.newPage();
      await signUpAndIn(p1, email);
      const p2 = await two.newPage();
      await p2.goto(server.url);
      await p2.waitForFunction(() => document.body.dataset.state === 'signed-out');
      await p2.fill('#signin-form input[name=email]', email);
      await p2.fill('#signin-form input[name=password]', PASSWORD);
      await p2.click('#signin-form button[type=submit]');
      await p2.waitForFunction(() => document.querySelectorAll('#sessions tr').length === 2);
      // Revoke the other device's session from the list.
      await p2.click('#sessions tr:not(:has(.badge)) button');
      await p2.waitForFunction(() => document.querySelectorAll('#sessions tr').length === 1);
      assert.equal(await callMe(p1), 401);
      await p1.waitForFunction(() => document.body.dataset.state === 'signed-out');
      assert.equal(await state(p2), 'signed-in');
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('the cookie is HttpOnly, Secure, SameSite=Strict on the two routes; another origin cannot refresh or log out', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await signUpAndIn(page, `cookie-${Date.now()}@example.test`);
      const cookies = (await context.cookies()).filter((c) => c.name === 'baton_refresh');
      assert.deepEqual(cookies.map((c) => c.path).sort(), ['/auth/logout', '/auth/refresh']);
      for (const c of cookies) {
        assert.equal(c.httpOnly, true);
        assert.equal(c.secure, true);
        assert.equal(c.sameSite, 'Strict');
      }
      assert.equal(await page.evaluate(() => document.cookie.includes('baton_refresh')), false);

      const evil = await context.newPage();
      await evil.goto(attackerUrl);
      // Plain JavaScript text: the test runner's transpiler must not touch code run in the page.
      const results = (await evil.evaluate(`(async (baton) => {
        async function attempt(path, headers) {
          try {
            const r = await fetch(baton + path, { method: 'POST', credentials: 'include', headers });
            return r.status;
          } catch {
            return 'blocked';
          }
        }
        return {
          refreshWithHeader: await attempt('/auth/refresh', { 'x-token-transport': 'cookie' }),
          logoutWithHeader: await attempt('/auth/logout', { 'x-token-transport': 'cookie' }),
          refreshSimple: await attempt('/auth/refresh', {}),
        };
      })(${JSON.stringify(server.url)})`)) as Record<string, number | string>;
      assert.equal(results.refreshWithHeader, 'blocked', 'the preflight gets no CORS grant');
      assert.equal(results.logoutWithHeader, 'blocked');
      assert.notEqual(results.refreshSimple, 200);
      // The session is untouched.
      assert.equal(await callMe(page), 200);
      assert.equal(await state(page), 'signed-in');
    } finally {
      await context.close();
    }
  });
});

describe('browser: the README quick start', { skip: missing || false }, () => {
  it('works as printed, from a page on another origin of the same site', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const html = /<!-- browser-example -->\s*```html\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(html, 'README has the browser example');
    const pagePort = await freePort();
    const batonPort = await freePort();
    const server = await startTestServer({
      PORT: String(batonPort),
      BATON_ALLOWED_ORIGINS: `http://localhost:${pagePort}`,
    });
    const page = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(html.replaceAll('http://localhost:8080', `http://localhost:${batonPort}`));
    });
    await new Promise<void>((r) => page.listen(pagePort, '127.0.0.1', r));
    const browser = await launchChromium();
    try {
      const tab = await browser.newPage();
      await tab.goto(`http://localhost:${pagePort}/`);
      await tab.waitForFunction(
        () => document.getElementById('out')?.textContent?.startsWith('signed in'),
        null,
        { timeout: 15_000 },
      );
      assert.equal(await tab.textContent('#out'), 'signed in as grace@example.com');
      // A second visit (already registered) works too.
      await tab.reload();
      await tab.waitForFunction(
        () => document.getElementById('out')?.textContent?.startsWith('signed in'),
        null,
        { timeout: 15_000 },
      );
    } finally {
      await browser.close();
      await new Promise((r) => page.close(r));
      await server.close();
    }
  });
});

if (missing) it(`browser tests skipped: ${missing}`, { skip: missing }, () => {});
