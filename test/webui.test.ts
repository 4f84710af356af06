// The Web UI tells the story: a real dev server WITH its Web UI, the simulator and a real worker; a small batch in which
// one sitekey is rejected and one page is unsolvable; then Debian's Chromium (driven by playwright-core) opens the UI:
//   - the workflows list holds the DLQ (`captcha-dlq`) and the batch, and their pages show their summaries;
//   - the DLQ's page shows its current details (the Markdown table of counts by status and top errors), read by the UI
//     through the built-in metadata query (so the worker keeps running while the browser looks) and fresh after a change;
//   - the list filtered by our typed search attributes shows exactly the failed solves of the batch;
//   - a failed solve shows its sitekey and page as summary, and its activities' summaries in the event history.
// With UPDATE_SCREENSHOTS=1 it also writes the README's screenshots to docs/screenshots/ (CI never rewrites them).
//
// Chromium: /usr/bin/chromium (Debian's `chromium`; `.ci/run` installs it), or CHROMIUM_PATH. A missing browser fails
// the test loudly; it is never skipped.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, type LogLevel, type Worker } from '@temporalio/worker';
import { chromium, type Browser, type BrowserContext, type FrameLocator, type Page } from 'playwright-core';
import type { CaptchaSolver } from '../src/client';
import { startLocalStack, type LocalStack } from '../src/dev/stack';
import { FAST_ENV, SENTINEL_KEY } from './helpers/stack';
import { bundleWorkflows } from './helpers/temporal';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The flags that let Chromium run as root on a machine with a closed network (see the machine notes). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const SCREENSHOTS = join(__dirname, '..', 'docs', 'screenshots');
const SCREENSHOT_MAX_BYTES = 300 * 1024;
/** How long the UI may take to show what the server already holds. */
const UI_TIMEOUT_MS = 20_000;

const BAD_SITEKEY = '6Lc-REJECTED-KEY'; // the provider rejects it at submit: ERROR_WRONG_GOOGLEKEY (permanent)
const UNSOLVABLE_PAGE = 'https://example.com/login/7'; // ERROR_CAPTCHA_UNSOLVABLE on every round (resubmit, then final)
const SITEKEY = '6Lc-EXAMPLE-COM-KEY';

/** 12 reCAPTCHA v2 tasks for example.com: 9 solve, 2 have a rejected sitekey, 1 is unsolvable. */
const TASKS = Array.from({ length: 12 }, (_, i) => ({
  type: 'recaptcha-v2' as const,
  sitekey: i === 3 || i === 8 ? BAD_SITEKEY : SITEKEY,
  pageUrl: i === 7 ? UNSOLVABLE_PAGE : `https://example.com/login/${i}`,
  key: `task-${String(i).padStart(2, '0')}`,
}));
const FAILED: Record<string, string> = {
  'task-03': 'ERROR_WRONG_GOOGLEKEY',
  'task-07': 'ERROR_CAPTCHA_UNSOLVABLE',
  'task-08': 'ERROR_WRONG_GOOGLEKEY',
};

interface UiStack {
  stack: LocalStack;
  uiUrl: string;
  client: Client;
  worker: Worker;
  workerDone: Promise<void>;
  solver: CaptchaSolver;
}

/**
 * The local stack (src/dev/stack.ts) on a server of our own that serves the Web UI, its worker running. The server is
 * this file's alone, so the product's default names (task queue `captcha-solve`, DLQ `captcha-dlq`) appear as a user
 * would see them.
 */
async function startUiStack(): Promise<UiStack> {
  if (!Runtime._instance) Runtime.install({ logger: new DefaultLogger((process.env.TEMPORAL_TEST_LOG_LEVEL ?? 'ERROR') as LogLevel) });
  const workflowBundle = await bundleWorkflows();
  const stack = await startLocalStack({
    temporal: { devServer: { headless: false, startTimeoutMs: 60_000 } },
    simulator: {
      timeScale: 0.001,
      scenarios: {
        sitekeys: { [BAD_SITEKEY]: { submit: [{ type: 'error', code: 'ERROR_WRONG_GOOGLEKEY' }] } },
        pages: { [UNSOLVABLE_PAGE]: { outcome: { type: 'unsolvable' } } },
      },
    },
    env: { CAPTCHA_API_KEY: SENTINEL_KEY, ...FAST_ENV },
    workflowBundle,
  });
  assert.ok(stack.server?.uiUrl, 'the dev server was started with its Web UI');
  const worker = await stack.newWorker();
  const workerDone = worker.run();
  return { stack, uiUrl: stack.server.uiUrl, client: stack.client, worker, workerDone, solver: stack.solver };
}

async function stopUiStack(s: UiStack | undefined): Promise<void> {
  if (!s) return;
  if (s.worker.getState() === 'RUNNING') s.worker.shutdown();
  await s.workerDone.catch(() => undefined);
  await s.stack.stop();
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = UI_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

type Row = Record<string, string>;
/** The little of the DOM the page functions use (this project compiles without the DOM library). */
interface DomNode {
  innerText: string;
  querySelectorAll(selector: string): ArrayLike<DomNode>;
}

/** The workflows table as rows keyed by column header ("Status", "Workflow ID", "Type", "CaptchaOutcome", …). */
async function readWorkflowTable(page: Page): Promise<Row[]> {
  return page.evaluate(() => {
    // no named functions in here: tsx would wrap them in a `__name` helper the browser does not have
    const doc = (globalThis as unknown as { document: DomNode }).document;
    const headers = Array.from(doc.querySelectorAll('thead th'), (th) => th.innerText.trim());
    return Array.from(doc.querySelectorAll('[data-testid="workflows-summary-configurable-table-row"]'), (tr) => {
      const cells = Array.from(tr.querySelectorAll('td'), (td) => td.innerText.trim());
      // the first cells (checkbox, actions) have no header text: align from the right
      const offset = cells.length - headers.length;
      return Object.fromEntries(headers.map((h, i) => [h, cells[i + offset] ?? '']).filter(([h]) => h !== ''));
    });
  });
}

/** Waits until the table shows rows that satisfy `ok`, and returns them. */
function waitForRows(page: Page, what: string, ok: (rows: Row[]) => boolean): Promise<Row[]> {
  return waitFor(what, async () => {
    const rows = await readWorkflowTable(page);
    return ok(rows) ? rows : undefined;
  });
}

/** Text of a Markdown preview (the UI renders summary, details and current details into iframes). */
async function markdownText(page: Page, frameId: string, expect: (text: string) => boolean, what: string): Promise<{ text: string; frame: FrameLocator }> {
  const frame = page.frameLocator(`iframe#${frameId}`);
  const text = await waitFor(what, async () => {
    const t = await frame.locator('body').innerText({ timeout: 2_000 });
    return expect(t) ? t : undefined;
  });
  return { text, frame };
}

/** Each Markdown list inside a preview, as its items' `label: value` pairs (what the details show). */
async function markdownLists(frame: FrameLocator): Promise<string[][][]> {
  return frame.locator('ul').evaluateAll((lists) =>
    (lists as unknown as DomNode[]).map((ul) =>
      Array.from(ul.querySelectorAll('li'), (li) => {
        const text = li.innerText.trim();
        const at = text.indexOf(': ');
        return at < 0 ? [text] : [text.slice(0, at), text.slice(at + 2)];
      }),
    ),
  );
}

/**
 * What an operator sees in a details preview: its text as rendered (cells and list items as they read on screen), and
 * every code line that does not fit the preview's width (a command cut at the right edge).
 */
async function renderedDetails(frame: FrameLocator): Promise<{ items: string[]; cellsTouching: string[]; codeBlocks: number; cutCode: string[] }> {
  return frame.locator('body').evaluate((body) => {
    const b = body as unknown as {
      querySelectorAll(s: string): ArrayLike<{ innerText: string; scrollWidth: number; clientWidth: number; getBoundingClientRect(): { left: number; right: number } }>;
    };
    const items = Array.from(b.querySelectorAll('li'), (li) => li.innerText.trim());
    const cellsTouching: string[] = [];
    for (const row of Array.from(b.querySelectorAll('tr'))) {
      const cells = Array.from((row as unknown as { querySelectorAll(s: string): ArrayLike<{ innerText: string; getBoundingClientRect(): { left: number; right: number } }> }).querySelectorAll('th,td'));
      for (let i = 1; i < cells.length; i++) {
        // the cells' boxes hold their text edge to edge when the UI gives them no padding
        const gap = cells[i]!.getBoundingClientRect().left - cells[i - 1]!.getBoundingClientRect().right;
        if (gap < 4 && cells[i - 1]!.innerText.trim() && cells[i]!.innerText.trim()) cellsTouching.push(`${cells[i - 1]!.innerText.trim()}|${cells[i]!.innerText.trim()}`);
      }
    }
    const cutCode = Array.from(b.querySelectorAll('pre'))
      .filter((pre) => pre.scrollWidth > pre.clientWidth + 1)
      .map((pre) => pre.innerText.split('\n').find((l) => l.length > 0) ?? '');
    return { items, cellsTouching, codeBlocks: b.querySelectorAll('pre').length, cutCode };
  });
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (!UPDATE_SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, name);
  await page.screenshot({ path, animations: 'disabled' });
  const size = statSync(path).size;
  assert.ok(size < SCREENSHOT_MAX_BYTES, `${path} is ${size} bytes (keep README screenshots under ${SCREENSHOT_MAX_BYTES})`);
}

describe('Web UI inspection (dev server with UI, real headless Chromium)', () => {
  let s: UiStack | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let ui: string;
  let batchId: string;
  const runIds: Record<string, string> = {};

  before(async () => {
    // loud, never a skip: the browser check is part of the product's promise
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`);
    }
    const launching = chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    launching.catch(() => undefined); // awaited below; don't let a failure go unhandled while the stack starts
    s = await startUiStack();
    browser = await launching;
    // a fresh profile per launch (playwright's own temporary user-data-dir); stable time and locale for screenshots
    context = await browser.newContext({ viewport: { width: 1600, height: 900 }, locale: 'en-US', timezoneId: 'UTC' });
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    // the list's columns as an operator would configure them (persisted in localStorage by the UI)
    await context.addInitScript(() => {
      const columns = ['Status', 'Workflow ID', 'Type', 'CaptchaOutcome', 'CaptchaErrorCode'];
      (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem(
        'namespace-workflow-table-columns',
        JSON.stringify({ default: columns.map((label, i) => ({ label, pinned: i < 2 })) }),
      );
    });
    ui = `${s.uiUrl}/namespaces/${s.stack.config.temporal.namespace}`;

    const started = await s.solver.startBatch({ tasks: TASKS, concurrency: 6 });
    batchId = started.batchId;
    const summary = await started.handle.result();
    assert.equal(summary.solved, 9);
    assert.equal(summary.deadLettered, 3);
    // the UI reads visibility: wait until the search attributes of every failed solve are indexed
    const query = failedQuery(batchId);
    await waitFor(`visibility: 3 workflows for ${query}`, async () => ((await s!.client.workflow.count(query)).count === 3 ? true : undefined));
    for (const id of [batchId, s.solver.config.dlqWorkflowId, `${batchId}/task-03`]) {
      runIds[id] = (await s.client.workflow.getHandle(id).describe()).runId;
    }
  });

  after(async () => {
    await browser?.close();
    await stopUiStack(s);
  });

  const failedQuery = (id: string) => `CaptchaBatchId="${id}" AND CaptchaOutcome="dead-lettered"`;
  const runUrl = (id: string, tab: string) => `${ui}/workflows/${encodeURIComponent(id)}/${runIds[id]}/${tab}`;

  test('the workflows list shows the DLQ and the batch; their pages show their summaries and details', async () => {
    const page = await context.newPage();
    await page.goto(`${ui}/workflows`);
    const dlqId = s!.solver.config.dlqWorkflowId;
    const rows = await waitForRows(page, 'the DLQ, the batch and its 12 solves in the list', (r) => r.length === 14);
    const byId = new Map(rows.map((r) => [r['Workflow ID'], r]));
    assert.equal(dlqId, 'captcha-dlq');
    assert.match(byId.get(dlqId)?.['Type'] ?? '', /deadLetterQueueWorkflow/);
    assert.match(byId.get(dlqId)?.['Status'] ?? '', /running/i);
    assert.match(byId.get(batchId)?.['Type'] ?? '', /captchaBatchWorkflow/);
    assert.match(byId.get(batchId)?.['Status'] ?? '', /completed/i);
    for (const t of TASKS) {
      const row = byId.get(`${batchId}/${t.key}`);
      assert.ok(row, `solve ${t.key} is listed`);
      assert.equal(row['CaptchaOutcome'], FAILED[t.key] ? 'dead-lettered' : 'solved', `outcome column of ${t.key}`);
    }
    await screenshot(page, 'web-ui-workflows.png');

    // Web UI 2.54's list has no summary column (the list API returns no user metadata): each run's page shows it
    await page.goto(runUrl(batchId, 'user-metadata'));
    await markdownText(page, 'user-metadata-summary', (t) => t.includes('12 reCAPTCHA v2 tasks for example.com'), 'the batch summary');
    const { frame } = await markdownText(page, 'user-metadata-current-details', (t) => t.includes(`Batch ${batchId}`), "the batch's current details");
    const [counts] = await markdownLists(frame);
    const count = (name: string) => counts?.find((r) => r[0] === name)?.[1];
    assert.deepEqual([count('total'), count('solved'), count('dead-lettered'), count('in flight')], ['12', '9', '3', '0'], JSON.stringify(counts));
    const batchSeen = await renderedDetails(frame);
    assert.deepEqual(batchSeen.cellsTouching, [], "the batch's details: a label runs into its value on screen");
    assert.ok(batchSeen.items.length >= 4 && batchSeen.items.every((i) => /^\S.*: \S/.test(i)), `the batch's details read "label: value": ${JSON.stringify(batchSeen.items)}`);

    await page.goto(runUrl(dlqId, 'user-metadata'));
    await markdownText(page, 'user-metadata-summary', (t) => t.trim() === 'dead-letter queue', 'the DLQ summary');
    await page.close();
  });

  test("the DLQ's page shows its current details (counts by status, top errors) and they stay fresh", async () => {
    const page = await context.newPage();
    const dlqId = s!.solver.config.dlqWorkflowId;
    await page.goto(runUrl(dlqId, 'user-metadata'));
    const { text, frame } = await markdownText(page, 'user-metadata-current-details', (t) => t.includes('Dead-letter queue') && t.includes('ERROR_CAPTCHA_UNSOLVABLE'), "the DLQ's current details");
    const [statusList, errorList] = await markdownLists(frame);
    assert.deepEqual(statusList, [['dead', '3'], ['retrying', '0'], ['parked', '0'], ['total', '3']], text);
    assert.deepEqual(errorList, [['ERROR_WRONG_GOOGLEKEY', '2'], ['ERROR_CAPTCHA_UNSOLVABLE', '1']], text);
    await markdownText(page, 'user-metadata-summary', (t) => t.trim() === 'dead-letter queue', 'the DLQ summary');
    const dlqSeen = await renderedDetails(frame);
    assert.deepEqual(dlqSeen.cellsTouching, [], "the DLQ's details: a label runs into its value on screen");
    assert.ok(dlqSeen.items.length >= 4 && dlqSeen.items.every((i) => /^\S.*: \S/.test(i)), `the DLQ's details read "label: value": ${JSON.stringify(dlqSeen.items)}`);
    const commands = await renderedDetails(page.frameLocator('iframe#user-metadata-details'));
    assert.equal(commands.codeBlocks, 1, "the DLQ's operator commands");
    assert.deepEqual(commands.cutCode, [], "the DLQ's operator commands are cut at the preview's right edge");
    await screenshot(page, 'web-ui-dlq.png');

    // an operator discards the unsolvable entry; the page shows it after "R" (the UI asks the running worker again)
    const result = await s!.solver.dlq().discard({ errorCodes: ['ERROR_CAPTCHA_UNSOLVABLE'], reason: 'web ui test: details stay fresh', by: 'webui.test' });
    assert.equal(result.matched, 1);
    const details = page.frameLocator('iframe#user-metadata-current-details').locator('body');
    await waitFor('fresh current details after a discard', async () => {
      await page.locator('body').press('R');
      // give the UI's query time to come back before asking again
      await details.filter({ hasText: 'discarded 1' }).waitFor({ timeout: 3_000 }).catch(() => undefined);
      const t = await details.innerText({ timeout: 2_000 });
      return /discarded 1/.test(t) && !t.includes('ERROR_CAPTCHA_UNSOLVABLE') ? t : undefined;
    });
    const [freshStatus] = await markdownLists(page.frameLocator('iframe#user-metadata-current-details'));
    assert.deepEqual(freshStatus?.at(-1), ['total', '2']);
    await page.close();
  });

  test('the list filtered by search attributes shows exactly the failed solves of the batch', async () => {
    const page = await context.newPage();
    await page.goto(`${ui}/workflows?query=${encodeURIComponent(failedQuery(batchId))}`);
    const expected = Object.keys(FAILED).map((k) => `${batchId}/${k}`).sort();
    // the UI first renders the unfiltered list, then the query's: wait for the filtered one
    const rows = await waitForRows(page, 'the filtered list', (r) => r.length === expected.length && r.every((x) => x['CaptchaOutcome'] === 'dead-lettered'));
    assert.deepEqual(rows.map((r) => r['Workflow ID']).sort(), expected);
    for (const r of rows) {
      assert.match(r['Status'] ?? '', /failed/i);
      assert.match(r['Type'] ?? '', /solveCaptchaWorkflow/);
      assert.equal(r['CaptchaErrorCode'], FAILED[r['Workflow ID']!.slice(batchId.length + 1)]);
    }
    await screenshot(page, 'web-ui-failed-solves.png');
    await page.close();
  });

  test("a failed solve's page shows its sitekey and page as summary, and its activities' summaries", async () => {
    const page = await context.newPage();
    const id = `${batchId}/task-03`;
    await page.goto(runUrl(id, 'user-metadata'));
    await markdownText(page, 'user-metadata-summary', (t) => t.includes(`reCAPTCHA v2 ${BAD_SITEKEY} on https://example.com/login/3`), 'the solve summary');
    await page.goto(runUrl(id, 'history'));
    await page.getByText(`submit ${BAD_SITEKEY} on https://example.com/login/3`).first().waitFor();
    await page.getByText('record in the DLQ').first().waitFor();
    await page.close();
  });
});
