// The DLQ console (src/console/) in real headless Chromium, on the real stack: a batch against the simulator leaves
// three unsolvable entries (resubmit class) and two with a rejected sitekey (permanent class) in the DLQ; then
//   - the overview's numbers equal the DLQ's own `stats`;
//   - a filtered retry from the page (dry run first, then a reason) recovers the unsolvable entries once the provider
//     solves them, and the page's live numbers follow;
//   - a discard calls out the permanent-class entries and refuses to run without a reason;
//   - a console with a token refuses a bad token (Bearer and sign-in), a foreign Origin, and a non-loopback bind
//     without a token.
// With UPDATE_SCREENSHOTS=1 it also writes docs/screenshots/console.png. Chromium: /usr/bin/chromium or CHROMIUM_PATH.
import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { statsView } from '../src/console/data';
import { startConsole, type ConsoleServer } from '../src/console/server';
import { startStack, type Stack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOTS = join(__dirname, '..', 'docs', 'screenshots');
const TIMEOUT_MS = 60_000;

const SITE_OK = '6Lc-CONSOLE-OK-KEY';
const SITE_FAIL = '6Lc-CONSOLE-UNSOLVABLE';
const SITE_BAD = '6Lc-CONSOLE-REJECTED';
/** the provider refuses the account: a batch's circuit opens and holds its tasks (the batch keeps running) */
const SITE_ACCOUNT = '6Lc-CONSOLE-BAD-ACCOUNT';
const TOKEN = 'console-test-token-0123456789abcdef';

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function statText(page: Page, key: string): Promise<string> {
  return (await page.locator(`[data-stat="${key}"]`).first().innerText()).trim();
}

describe('DLQ console (real stack, headless Chromium)', () => {
  let env: TestEnv;
  let s: Stack;
  let browser: Browser;
  let consoleServer: ConsoleServer;
  let stopWorker: () => void;
  let workerDone: Promise<unknown>;

  before(async () => {
    env = await startTestEnv();
    s = await startStack(env, {
      name: 'console',
      simulator: {
        scenarios: {
          sitekeys: {
            [SITE_FAIL]: { outcome: { type: 'unsolvable', afterMs: 5 } },
            [SITE_BAD]: { submit: [{ type: 'error', code: 'ERROR_WRONG_GOOGLEKEY' }] },
            [SITE_ACCOUNT]: { submit: [{ type: 'error', code: 'ERROR_WRONG_USER_KEY' }] },
          },
        },
      },
      env: { SOLVE_MAX_RESUBMITS: '0' },
    });
    // the worker runs for the whole file: retries ordered from the page need it
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    stopWorker = release;
    workerDone = s.run(() => held);
    const tasks = [
      ...[0, 1, 2].map((i) => ({ type: 'recaptcha-v2', sitekey: SITE_FAIL, pageUrl: `https://shop.example.com/cart/${i}`, key: `fail-${i}` })),
      ...[0, 1].map((i) => ({ type: 'recaptcha-v2', sitekey: SITE_BAD, pageUrl: `https://shop.example.com/login/${i}`, key: `bad-${i}` })),
      ...[0, 1].map((i) => ({ type: 'recaptcha-v2', sitekey: SITE_OK, pageUrl: `https://shop.example.com/ok/${i}`, key: `ok-${i}` })),
    ];
    const started = await s.solver.startBatch({ batchId: 'console-batch-1', tasks });
    const summary = await started.handle.result();
    assert.equal(summary.deadLettered, 5);
    await waitFor('5 DLQ entries', async () => ((await s.solver.dlq().stats()).total === 5 ? true : undefined));
    consoleServer = await startConsole({ solver: s.solver, port: 0, temporalUiUrl: 'http://127.0.0.1:8233', by: 'console-test' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await consoleServer?.close();
    stopWorker?.();
    await workerDone?.catch(() => undefined);
    await s?.close();
    await env?.teardown();
  });

  test('the overview loads and its numbers and charts equal the DLQ stats', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(consoleServer.url);
    const stats = await s.solver.dlq().stats({ top: 12 });
    const view = statsView(stats);
    for (const [key, n] of Object.entries(view.numbers)) assert.equal(await statText(page, key), String(n), key);
    assert.equal(await statText(page, 'total'), '5');
    const codes = await page.locator('[data-chart="byCode"] li').evaluateAll((lis) =>
      lis.map((li) => [(li as unknown as { querySelector(s: string): { textContent: string } }).querySelector('.label').textContent, (li as unknown as { querySelector(s: string): { textContent: string } }).querySelector('.n').textContent]),
    );
    assert.deepEqual(codes, Object.entries(stats.byCode).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([c, n]) => [c, String(n)]));
    // the live refresh ran at least once without breaking the numbers
    await page.waitForResponse((r) => r.url().endsWith('/api/stats') && r.ok(), { timeout: TIMEOUT_MS });
    assert.equal(await statText(page, 'total'), '5');
    assert.deepEqual(errors, []);
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      mkdirSync(SCREENSHOTS, { recursive: true });
      const path = join(SCREENSHOTS, 'console.png');
      await page.screenshot({ path, fullPage: true, animations: 'disabled' });
      assert.ok(statSync(path).size < 300 * 1024);
    }
    await page.close();
  });

  test('an entry page shows its attempt history and links into the Temporal Web UI', async () => {
    const page = await browser.newPage();
    await page.goto(`${consoleServer.url}/entries?code=ERROR_WRONG_GOOGLEKEY`);
    await page.locator('table.entries tbody a').first().click();
    const link = page.locator('ul.links a').first();
    const id = (await link.innerText()).trim();
    assert.match(id, /bad-/);
    assert.equal(await link.getAttribute('href'), `http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(id)}`);
    assert.ok((await page.locator('table tbody tr').count()) >= 1, 'the attempt history has a row');
    assert.match(await page.locator('main').innerText(), /ERROR_WRONG_GOOGLEKEY/);
    await page.close();
  });

  test('a filtered retry from the page shows the dry run, asks a reason and recovers the entries', async () => {
    s.sim.setScenarios({ sitekeys: { [SITE_FAIL]: { outcome: { type: 'solve', afterMs: 5 } } } }); // the provider recovers
    const page = await browser.newPage();
    await page.goto(`${consoleServer.url}/entries?code=ERROR_CAPTCHA_UNSOLVABLE`);
    assert.equal(await page.locator('table.entries tbody tr').count(), 3);
    await page.locator('input[name=scope][value=filter]').check();
    await page.locator('button[value=retry]').click();
    await page.waitForURL(/\/actions\/preview$/);
    assert.equal(await page.locator('.dry-run').getAttribute('data-matched'), '3');
    assert.equal(await page.locator('[data-permanent]').count(), 0);
    // its cost, expected and at worst: CaptchaAI sells threads (a submit costs $0), and this worker resubmits nothing
    // (SOLVE_MAX_RESUBMITS 0), so the worst case is one paid submit each
    const cost = page.locator('table.cost');
    assert.deepEqual([await cost.getAttribute('data-expected'), await cost.getAttribute('data-worst')], ['0', '0']);
    assert.match(await cost.innerText(), /at worst \(1 paid submit each\)/);
    await page.locator('textarea[name=reason]').fill('provider fixed the unsolvable pages');
    await page.locator('button[data-run]').click();
    await page.waitForURL(/\/actions\/run$/);
    assert.equal(await page.locator('.outcome').getAttribute('data-matched'), '3');
    assert.match(await page.locator('table.audit').innerText(), /provider fixed the unsolvable pages/);
    await waitFor('3 recovered', async () => ((await s.solver.dlq().stats()).recovered === 3 ? true : undefined));
    await waitFor('the page shows 3 recovered', async () => ((await statText(page, 'recovered')) === '3' ? true : undefined));
    // this order's own progress, live from its audit record: matched 3, then 3 recovered and none in flight
    const panel = page.locator('[data-live=order]');
    const field = async (k: string) => (await panel.locator(`[data-order-field="${k}"]`).innerText()).trim();
    assert.equal(await field('matched'), '3');
    await waitFor('the order panel shows 3 recovered, 0 in flight', async () => ((await field('recovered')) === '3' && (await field('inFlight')) === '0' ? true : undefined));
    assert.equal(await field('failed'), '0');
    const audit = await s.solver.dlq().audit();
    assert.deepEqual([audit[0]!.outcomes?.recovered, audit[0]!.outcomes?.failed, audit[0]!.inFlight], [3, 0, 0]);
    const auditPage = await browser.newPage();
    await auditPage.goto(`${consoleServer.url}/audit`);
    const row = auditPage.locator(`tr[data-request="${audit[0]!.requestId}"]`);
    assert.deepEqual(await row.locator('[data-order-field]').allInnerTexts(), ['0', '3', '0'], 'in flight, recovered, failed');
    await auditPage.close();
    assert.equal(audit[0]!.by, 'console-test');
    assert.deepEqual(audit[0]!.filter.errorCodes, ['ERROR_CAPTCHA_UNSOLVABLE']);
    await page.close();
  });

  test('a discard calls out permanent-class entries and does not run without a reason', async () => {
    const page = await browser.newPage();
    await page.goto(`${consoleServer.url}/entries?code=ERROR_WRONG_GOOGLEKEY`);
    await page.locator('input[name=scope][value=filter]').check();
    await page.locator('button[value=discard]').click();
    await page.waitForURL(/\/actions\/preview$/);
    assert.equal(await page.locator('[data-permanent]').getAttribute('data-permanent'), '2');
    // the browser will not send the form without a reason …
    await page.locator('button[data-run]').click();
    assert.ok(page.url().endsWith('/actions/preview'));
    assert.equal(await page.locator('textarea[name=reason]').evaluate((t) => (t as unknown as { validity: { valueMissing: boolean } }).validity.valueMissing), true);
    // … and the server refuses one sent anyway
    const fields = Object.fromEntries(await page.locator('form[action="/actions/run"] input[type=hidden]').evaluateAll((els) => els.map((e) => [(e as unknown as { name: string }).name, (e as unknown as { value: string }).value])));
    const refused = await page.request.post(`${consoleServer.url}/actions/run`, { form: { ...fields, reason: '  ' }, headers: { origin: consoleServer.url } });
    assert.equal(refused.status(), 400);
    assert.match(await refused.text(), /a reason is required to discard/);
    assert.equal((await s.solver.dlq().stats()).discarded, 0);
    await page.locator('textarea[name=reason]').fill('the sitekey is wrong in the task file');
    await page.locator('button[data-run]').click();
    await page.waitForURL(/\/actions\/run$/);
    assert.equal(await page.locator('.outcome').getAttribute('data-matched'), '2');
    assert.equal((await s.solver.dlq().stats()).discarded, 2);
    await page.close();
  });

  test('the batches page lists the batch with its counts', async () => {
    const page = await browser.newPage();
    await page.goto(`${consoleServer.url}/batches`);
    const row = page.locator('tr[data-batch="console-batch-1"]');
    assert.equal(await row.locator('[data-field=solved]').innerText(), '2');
    assert.equal(await row.locator('[data-field=deadLettered]').innerText(), '5');
    await page.close();
  });

  test('a running batch shows its open circuit and is cancelled from the page', async () => {
    const tasks = [0, 1, 2].map((i) => ({ type: 'recaptcha-v2', sitekey: SITE_ACCOUNT, pageUrl: `https://shop.example.com/held/${i}`, key: `held-${i}` }));
    const { handle } = await s.solver.startBatch({ batchId: 'console-batch-held', tasks, concurrency: 1, breakerThreshold: 1 });
    const batch = s.solver.batch('console-batch-held');
    await waitFor('the circuit to open', async () => ((await batch.progress()).circuit.open ? true : undefined));
    const page = await browser.newPage();
    await page.goto(`${consoleServer.url}/batches`);
    const row = page.locator('tr[data-batch="console-batch-held"]');
    assert.match(await row.innerText(), /OPEN \(ERROR_WRONG_USER_KEY\)/);
    page.once('dialog', (d) => void d.accept());
    await row.locator('form[action$="/cancel"] button').click();
    await page.waitForURL(/\/batches$/);
    const summary = await handle.result();
    assert.equal(summary.status, 'cancelled');
    await page.close();
  });

  test('bad input is refused with one sentence and changes nothing; what is shown is escaped', async () => {
    const before = await s.solver.dlq().stats();
    const cls = await fetch(`${consoleServer.url}/entries?class=nope`);
    assert.equal(cls.status, 400);
    assert.match(await cls.text(), /the class is not valid: one of transient, resubmit, permanent, account, timeout, internal\./);
    const unknown = await fetch(`${consoleServer.url}/entries?limit=5000`);
    assert.match(await unknown.text(), /the page size is not valid: at most 200\./);
    const missing = await fetch(`${consoleServer.url}/entries/${encodeURIComponent('<script>alert(1)</script>')}`);
    assert.equal(missing.status, 404);
    const body = await missing.text();
    assert.ok(!body.includes('<script>alert(1)'), 'the id is escaped');
    assert.match(body, /no entry &#60;script&#62;alert\(1\)&#60;\/script&#62; is held/);
    assert.deepEqual(await s.solver.dlq().stats().then((x) => [x.total, x.recovered, x.discarded]), [before.total, before.recovered, before.discarded]);
  });

  test('with a token: a bad token, a foreign origin and a tokenless non-loopback bind are refused', async () => {
    await assert.rejects(startConsole({ solver: s.solver, host: '0.0.0.0', port: 0 }), /give it a token/);
    const guarded = await startConsole({ solver: s.solver, port: 0, token: TOKEN });
    try {
      const order = new URLSearchParams({ operation: 'purge', scope: 'all' });
      const bad = await fetch(`${guarded.url}/actions/preview`, { method: 'POST', body: order, headers: { authorization: 'Bearer not-the-token-at-all-0000' } });
      assert.equal(bad.status, 401);
      const none = await fetch(`${guarded.url}/actions/preview`, { method: 'POST', body: order });
      assert.equal(none.status, 403); // no CSRF token and no credential
      const good = await fetch(`${guarded.url}/actions/preview`, { method: 'POST', body: order, headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/html' } });
      assert.equal(good.status, 200);
      assert.match(await good.text(), /Dry run: the DLQ would purge/);

      const page = await browser.newPage();
      await page.goto(`${guarded.url}/entries`);
      assert.equal(await page.locator('button[value=retry]').count(), 0, 'no action buttons before signing in');
      await page.goto(`${guarded.url}/login`);
      await page.locator('input[name=token]').fill('wrong-token-wrong-token-wrong');
      await page.locator('form[action="/login"] button').click();
      assert.match(await page.locator('.error').innerText(), /not this console's token/);
      await page.locator('input[name=token]').fill(TOKEN);
      await page.locator('form[action="/login"] button').click();
      await page.waitForURL(/\/entries$/);
      assert.equal(await page.locator('button[value=retry]').count(), 1, 'signed in: actions offered');
      // a signed-in browser's cookie does not let another site act
      const csrf = await page.locator('input[name=csrf]').first().inputValue();
      const foreign = await page.request.post(`${guarded.url}/actions/preview`, { form: { csrf, operation: 'purge', scope: 'all' }, headers: { origin: 'http://evil.example' } });
      assert.equal(foreign.status(), 403);
      assert.match(await foreign.text(), /may not act on this console/);
      await page.close();
    } finally {
      await guarded.close();
    }
  });

  test('bound beyond loopback: every page needs the token, the sign-in page does not', async () => {
    const wide = await startConsole({ solver: s.solver, host: '0.0.0.0', port: 0, token: TOKEN });
    try {
      const base = `http://127.0.0.1:${wide.port}`;
      for (const path of ['/', '/entries', '/entries/console-batch-1%2Ffail-0', '/audit', '/batches']) {
        const anonymous = await fetch(`${base}${path}`, { redirect: 'manual' });
        assert.equal(anonymous.status, 303, `${path} without the token`);
        assert.equal(anonymous.headers.get('location'), '/login');
        assert.doesNotMatch(await anonymous.text(), /console-batch-1|shop\.example\.com|6Lc-CONSOLE/);
      }
      const api = await fetch(`${base}/api/stats`);
      assert.equal(api.status, 401);
      assert.doesNotMatch(await api.text(), /numbers|charts/);
      const wrong = await fetch(`${base}/entries`, { headers: { authorization: 'Bearer not-the-token-at-all-0000' }, redirect: 'manual' });
      assert.equal(wrong.status, 303);
      assert.equal((await fetch(`${base}/login`)).status, 200);
      assert.equal((await fetch(`${base}/console.css`)).status, 200);
      const held = await fetch(`${base}/entries`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(held.status, 200);
      assert.match(await held.text(), /<title>[^<]*Entries/);
      const stats = (await (await fetch(`${base}/api/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { numbers: { total: number } };
      assert.equal(stats.numbers.total, (await s.solver.dlq().stats()).total);
    } finally {
      await wide.close();
    }
  });
});
