import { chromium, type Browser, type Page } from 'playwright-core';
import t from 'tap';
import { createMetricsStage } from '../../src/admin/index.js';
import { compose } from '../../src/pipeline.js';
import {
  HoldingHandler,
  RecordingSink,
  TOKEN,
  contextFor,
  startAdmin,
  words,
} from '../fixtures/admin-fakes.js';
import { eventually } from '../fixtures/eventually.js';
import { startLockoutAdmin } from '../fixtures/lockout-admin.js';

const CHROMIUM = '/usr/bin/chromium';

async function launch(t: { teardown(fn: () => unknown): void }): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  t.teardown(() => browser.close());
  return browser;
}

/** The text of one figure's value on a router's card, polled until it equals `expected`. */
async function figureBecomes(page: Page, router: string, figure: string, expected: string) {
  const selector = `[data-router="${router}"] [data-figure="${figure}"] .value`;
  let text: string | null = null;
  // On a timeout the caller's assertion shows the last text seen.
  await eventually(
    async () => {
      text = (await (await page.$(selector))?.textContent()) ?? null;
      return text === expected;
    },
    { until: (isShown) => isShown, what: `${figure} ${expected}`, intervalMs: 10, attempts: 200 },
  ).catch(() => undefined);
  return text;
}

t.test('the dashboard shows a router’s figures and follows them as they change', async (t) => {
  const admin = await startAdmin(t, { routers: ['core', 'edge'] });
  const browser = await launch(t);
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));
  await page.clock.install();

  const response = await page.goto(`${admin.url}/monitoring/dashboard?token=${TOKEN}`);
  t.equal(response?.status(), 200);
  t.equal(new URL(page.url()).search, '', 'the token is gone from the address');
  t.equal(await page.title(), 'rosgate dashboard');

  t.equal(await figureBecomes(page, 'core', 'pool', '1 / 2'), '1 / 2');
  t.equal(await figureBecomes(page, 'core', 'cache', '75.0 %'), '75.0 %');
  t.equal(await figureBecomes(page, 'core', 'queue', '6'), '6');
  t.equal(await figureBecomes(page, 'core', 'requests', '0.0'), '0.0');
  t.ok(await page.isVisible('[data-router="edge"]'), 'every router has a card');
  t.match(await page.textContent('[data-router="core"] h2'), /core.*up.*breaker half-open/);
  t.equal(await page.locator('[data-router="core"] svg polyline').count(), 5, 'five charts');

  // Traffic and new figures: the next refresh shows them.
  const inner = new HoldingHandler();
  const handler = compose([createMetricsStage(admin.metrics).stage], inner);
  for (let i = 0; i < 10; i++) {
    handler.handle(contextFor('core', ['/ip/hotspot/active/print']), new RecordingSink());
    inner.last().sink.reply(words('!re', '=user=a'));
    inner.last().sink.done(words('!done'));
  }
  const core = admin.sources.router('core');
  core.poolFigures = { ...core.poolFigures, busy: 2, ready: 3 };
  core.breakerFigures = { state: 'open', failures: 9, transitions: 4 };
  admin.metrics.recordEvent({ kind: 'breaker', router: 'core', message: 'half-open -> open' });
  admin.clock.advance(2000);
  await page.clock.runFor(2000);

  t.equal(await figureBecomes(page, 'core', 'pool', '2 / 3'), '2 / 3');
  t.equal(await figureBecomes(page, 'core', 'requests', '5.0'), '5.0', '10 commands in 2 s');
  t.equal(await figureBecomes(page, 'core', 'users', '1'), '1');
  t.match(await page.textContent('[data-router="core"] h2'), /breaker open/);
  t.match(await page.textContent('.events'), /breaker\s*core: half-open -> open/);
  t.same(problems, [], 'no console error or warning');
});

t.test('the dashboard says how to sign in when its session is refused', async (t) => {
  const admin = await startAdmin(t);
  const browser = await launch(t);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.clock.install();
  await page.goto(`${admin.url}/monitoring/dashboard?token=${TOKEN}`);
  await figureBecomes(page, 'core', 'pool', '1 / 2');
  await page.context().clearCookies();
  await page.clock.runFor(2000);
  const banner = await eventually(
    async () => (await (await page.$('#banner'))?.textContent()) ?? null,
    {
      until: (text) => (text ?? '').startsWith('Not signed in'),
      what: 'the not-signed-in banner',
      intervalMs: 10,
      attempts: 200,
    },
  );
  t.match(banner, /^Not signed in: open \/monitoring\/dashboard\?token=/);
  t.ok(await page.isVisible('#banner'));
  t.same(errors, []);
});

t.test('the dashboard lists the login lockouts in force and drops those cleared', async (t) => {
  const until = Date.UTC(2025, 0, 1, 12, 15, 0);
  const admin = await startLockoutAdmin(t, [
    {
      router: 'core',
      scope: 'source-user',
      source: '127.0.0.1',
      user: 'mallory',
      failures: 3,
      untilMs: until,
    },
    { router: 'edge', scope: 'source', source: '192.0.2.1', failures: 5, untilMs: until },
    { router: 'edge', scope: 'user', user: 'eve', failures: 20, untilMs: until },
  ]);
  const browser = await launch(t);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.clock.install();
  await page.goto(`${admin.url}/monitoring/dashboard?token=${TOKEN}`);
  const time = await page.evaluate((ms) => new Date(ms).toLocaleTimeString(), until);
  const items = page.locator('.lockouts li');
  await items.first().waitFor();
  t.same(await items.allTextContents(), [
    `until ${time}source-usercore: user mallory from 127.0.0.1, 3 failed logins`,
    `until ${time}sourceedge: address 192.0.2.1, 5 failed logins`,
    `until ${time}useredge: user eve, 20 failed logins`,
  ]);
  t.equal(await page.getAttribute('.lockouts li', 'data-scope'), 'source-user');

  t.equal((await admin.request('/monitoring/lockouts', { method: 'DELETE' })).status, 200);
  await page.clock.runFor(2000);
  await page.locator('.lockouts .empty', { hasText: 'None.' }).waitFor();
  t.equal(await items.count(), 0, 'cleared lockouts leave the page');
  t.same(errors, []);
});

t.test('with no token configured the dashboard works as it is on loopback', async (t) => {
  const admin = await startAdmin(t, { isTokenless: true });
  const browser = await launch(t);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.clock.install();
  const response = await page.goto(`${admin.url}/monitoring/dashboard`);
  t.equal(response?.status(), 200);
  t.equal(await figureBecomes(page, 'core', 'pool', '1 / 2'), '1 / 2', 'the figures are drawn');
  t.notOk(await page.isVisible('#banner'), 'no sign-in banner');
  t.same(errors, []);
});
