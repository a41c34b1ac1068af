// Takes docs/demo.png: the demo app signed in, with two sessions.
//   BASE_URL=http://127.0.0.1:8080 node scripts/screenshot-demo.mjs
import { launchChromium } from './chromium.mjs';

const base = process.env.BASE_URL ?? 'http://127.0.0.1:8080';
const email = `ada-${Date.now()}@example.com`;
const password = 'correct horse battery staple';
const browser = await launchChromium();
try {
  const other = await browser.newContext({
    userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1',
  });
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(base);
  await page.fill('#signup-form input[name=email]', email);
  await page.fill('#signup-form input[name=password]', password);
  await page.click('#signup-form button[type=submit]');
  await page.waitForFunction(() => document.body.dataset.state === 'signed-in');
  const phone = await other.newPage();
  await phone.goto(base);
  await phone.fill('#signin-form input[name=email]', email);
  await phone.fill('#signin-form input[name=password]', password);
  await phone.click('#signin-form button[type=submit]');
  await phone.waitForFunction(() => document.body.dataset.state === 'signed-in');
  await page.click('#reload-sessions');
  await page.click('#call-me');
  await page.waitForTimeout(1500);
  await page.screenshot({ path: new URL('../docs/demo.png', import.meta.url).pathname, fullPage: true });
  console.log('wrote docs/demo.png');
} finally {
  await browser.close();
}
