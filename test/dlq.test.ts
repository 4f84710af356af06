// The DLQ workflow against a real server, a real worker and the provider simulator: entries, stats, list, retry (cap,
// parking, account class, rate and concurrency), discard/purge with dry run, watermarks, bad orders, continue-as-new
// with retries in flight and a worker restart, sharding, the soft-limit alert, the plain `temporal` CLI, and the size
// of the continue-as-new state (the per-shard entry budget).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { WorkflowUpdateFailedError, WorkflowUpdateStage, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { routeDeadLetter } from '../activities/dlq';
import { dlqStartDetails } from '../activities/dlq-signal';
import { executeUpdateAcrossRuns } from '../src/client';
import { resolveTemporalCli } from '../src/dev/temporal-cli';
import type { deadLetterQueueWorkflow } from '../workflows/dlq';
import { packEntries, unpackEntries } from '../workflows/dlq/pack';
import { dlqShardOf } from '../src/domain/dlq-routing';
import { deadLetterSignal, dlqAuditQuery, dlqDiscardSignal, dlqDiscardUpdate, dlqListQuery, dlqPurgeUpdate, dlqRetrySignal, dlqRetryUpdate, dlqStatsQuery, type DlqAuditRecord, type DlqEntry, type DlqInput, type DlqListPage, type DlqStats } from '../workflows/messages';
import { WORKFLOW_TYPES } from '../src/domain/names';
import type { DeadLetterReport, FailureClass } from '../src/domain/types';
import { startStack, withStack as withTestStack, type Stack, type StackOptions } from './helpers/stack';
import { cliEnvOf, expectCode, runCli as runOurCli } from './helpers/cli';
import { bundleWorkflows, startTestEnv, type TestEnv } from './helpers/temporal';

let env: TestEnv;
before(async () => {
  // a low threshold so that the server's continue-as-new suggestion also fires in this suite
  env = await startTestEnv({ dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 150 } });
});
after(async () => {
  await env?.teardown();
});

// ---------------------------------------------------------------------------------------------------------------------
// Helpers

const SITE_OK = '6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI';
const SITE_FAIL = '6LfD3PIbAAAAAJs_eEHvoOl75_83eXSqpPSRFJ_u';
const SITE_SLOW = '6LcR_okUAAAAAPYrPe-HK_0RULO1aZM15ENyM-Mf';
const SITE_HANG = '6Lf7UL0cAAAAAIt_m-d24WG9mlw7KwhmpKDKvVsq';
/** solves after 4 s: a retry of it is still running when the DLQ continues as new */
const SITE_LATE = '6LdK7fEUAAAAAHcQm1ow_Tq0rDYwpHLm3Gnx9kVa';

const SCENARIOS = {
  sitekeys: {
    [SITE_FAIL]: { outcome: { type: 'unsolvable' as const, afterMs: 5 } },
    [SITE_SLOW]: { outcome: { type: 'solve' as const, afterMs: 400 } },
    [SITE_HANG]: { outcome: { type: 'never-ready' as const } },
    [SITE_LATE]: { outcome: { type: 'solve' as const, afterMs: 4_000 } },
  },
};

/** Entry ids are workflow-id based and the server is shared by the file: each test prefixes its own. */
let idPrefix = 'dlq';

async function withStack<T>(name: string, fn: (s: Stack) => Promise<T>, options: Partial<StackOptions> = {}): Promise<T> {
  idPrefix = name;
  return withTestStack(env, { name, simulator: { scenarios: SCENARIOS }, ...options, env: { SOLVE_MAX_RESUBMITS: '0', ...options.env } }, fn);
}

type DlqHandle = WorkflowHandleWithFirstExecutionRunId<typeof deadLetterQueueWorkflow>;

/** Starts the stack's DLQ with test settings (retry children use the stack's fast solve policy). */
async function startDlq(s: Stack, settings: DlqInput = {}, workflowId = s.config.dlqWorkflowId): Promise<DlqHandle> {
  return s.client.workflow.start<typeof deadLetterQueueWorkflow>(WORKFLOW_TYPES.dlq, {
    workflowId,
    taskQueue: s.taskQueue,
    args: [{ solvePolicy: s.config.solvePolicy, ...settings }],
  });
}

interface ReportOptions {
  sitekey?: string;
  code?: string;
  failureClass?: FailureClass;
  batchId?: string;
  failedAt?: string;
  paidSubmits?: number;
  attempts?: number;
  rounds?: number;
  prefix?: string;
}

/** A realistic final failure: three rounds of an unsolvable reCAPTCHA unless told otherwise. */
function report(i: number, o: ReportOptions = {}): DeadLetterReport {
  const failedAt = o.failedAt ?? new Date().toISOString();
  const code = o.code ?? 'ERROR_CAPTCHA_UNSOLVABLE';
  const failureClass = o.failureClass ?? 'resubmit';
  const batchId = o.batchId ?? 'batch-2024-06-01';
  const message = `${code}: the captcha could not be solved by 3 workers`;
  const rounds = o.rounds ?? 3;
  return {
    entryId: `${o.prefix ?? idPrefix}/${batchId}/task-${String(i).padStart(6, '0')}`,
    task: {
      type: 'recaptcha-v2',
      sitekey: o.sitekey ?? SITE_OK,
      pageUrl: `https://shop.example.com/checkout/step-2?cart=${100_000 + i}`,
      key: `task-${String(i).padStart(6, '0')}`,
    },
    taskKey: `task-${String(i).padStart(6, '0')}`,
    batchId,
    provider: 'captchaai',
    failureClass,
    code,
    message,
    attempts: o.attempts ?? rounds,
    paidSubmits: o.paidSubmits ?? rounds,
    providerTaskIds: Array.from({ length: rounds }, (_, r) => String(71_823_460 + i * 10 + r)),
    history: Array.from({ length: rounds }, (_, r) => ({
      round: r + 1,
      providerTaskId: String(71_823_460 + i * 10 + r),
      failureClass,
      code,
      message,
      at: failedAt,
    })),
    failedAt,
  };
}

async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 1500)} ${lastError ? String(lastError) : ''}`);
    }
    await sleep(100);
  }
}

const stats = (h: DlqHandle, top?: number): Promise<DlqStats> => h.query(dlqStatsQuery, top === undefined ? {} : { top });

/** Every entry of one workflow (or, following nextWorkflowId, of every shard), page by page. */
async function listAll(s: Stack, frontId: string, filter: Record<string, unknown> = {}, limit = 500): Promise<{ entries: DlqEntry[]; pages: DlqListPage[] }> {
  const entries: DlqEntry[] = [];
  const pages: DlqListPage[] = [];
  let workflowId = frontId;
  let cursor: string | undefined;
  for (;;) {
    const page = await s.client.workflow.getHandle(workflowId).query(dlqListQuery, { ...filter, limit, ...(cursor && { cursor }) });
    pages.push(page);
    entries.push(...page.entries);
    if (!page.nextCursor) return { entries, pages };
    cursor = page.nextCursor;
    workflowId = page.nextWorkflowId ?? workflowId;
  }
}

/** Stats without the fields that move with the clock. */
function still(st: DlqStats): Omit<DlqStats, 'asOf' | 'oldestEntryAgeMs'> {
  const { asOf: _a, oldestEntryAgeMs: _o, ...rest } = st;
  return rest;
}

/** Rejection message of an update (the validator's text). */
async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof WorkflowUpdateFailedError, `expected an update rejection, got ${String(err)}`);
    return String(err.cause?.message ?? err.message);
  }
  assert.fail('the update was accepted');
}

function runCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    void resolveTemporalCli({ allowInstall: false }).then((cli) => {
      execFile(cli.path!, args, { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    }, reject);
  });
}

function count<T>(items: T[], key: (t: T) => string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

function sortedEntries(r: Record<string, number>): [string, number][] {
  return Object.entries(r).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

// ---------------------------------------------------------------------------------------------------------------------

void describe('dead-letter queue', () => {
  void test('end to end: a failed solve lands once, the CLI reads stats and its `retry` signal (top-level errorCodes) recovers it', async () => {
    await withStack('dlq-e2e', async (s) => {
      const dlq = await startDlq(s);
      const task = { type: 'recaptcha-v2', sitekey: SITE_FAIL, pageUrl: 'https://shop.example.com/login', key: 'e2e-1' };
      await assert.rejects(s.solver.solve(task), /ERROR_CAPTCHA_UNSOLVABLE/);

      const st = await eventually('the entry', () => stats(dlq), (x) => x.total === 1);
      assert.deepEqual(st.byCode, { ERROR_CAPTCHA_UNSOLVABLE: 1 });
      const [entry] = (await dlq.query(dlqListQuery, {})).entries;
      assert.ok(entry);
      assert.equal(entry.id, 'solve/e2e-1');
      assert.equal(entry.status, 'dead');
      assert.equal(entry.failureClass, 'resubmit');
      assert.equal(entry.provider, 'captchaai');
      assert.equal(entry.paidSubmits, 1);
      assert.ok(entry.attempts >= 1 && entry.history.length === 1);
      assert.deepEqual(entry.task, { type: 'recaptcha-v2', sitekey: SITE_FAIL, pageUrl: 'https://shop.example.com/login', key: 'e2e-1' });
      assert.ok(!JSON.stringify(entry).includes(s.config.provider.apiKey!), 'the API key leaked into the entry');

      // the same report again (a retried report activity): nothing changes
      const { id, task: t, taskKey, batchId, provider, failureClass, code, message, attempts, paidSubmits, history, firstFailedAt } = entry;
      await dlq.signal(deadLetterSignal, { entryId: id, task: t, taskKey, ...(batchId && { batchId }), provider, failureClass, code, message, attempts, paidSubmits, providerTaskIds: [], history, failedAt: firstFailedAt });
      const again = await eventually('the repeat to be counted', () => stats(dlq), (x) => x.duplicateReports === 1);
      assert.equal(again.total, 1);
      assert.deepEqual((await dlq.query(dlqListQuery, {})).entries, [entry]);

      // the operator's CLI, as written in the issue (plus the address of this test server)
      const address = ['--address', env.env.address, '--namespace', env.namespace];
      const out = await runCli(['workflow', 'query', '--workflow-id', dlq.workflowId, '--type', 'stats', ...address]);
      assert.match(out, /ERROR_CAPTCHA_UNSOLVABLE/);
      assert.match(out, /byStatus/);

      s.sim.setScenarios({ sitekeys: { [SITE_FAIL]: { outcome: { type: 'solve', afterMs: 5 } } } });
      await runCli(['workflow', 'signal', '--workflow-id', dlq.workflowId, '--name', 'retry', '--input', '{"errorCodes":["ERROR_CAPTCHA_UNSOLVABLE"]}', ...address]);
      const done = await eventually('the recovery', () => stats(dlq), (x) => x.recovered === 1);
      assert.equal(done.total, 0);
      assert.equal(done.retriesInFlight, 0);
      const audit = await dlq.query(dlqAuditQuery, {});
      assert.equal(audit[0]?.operation, 'retry');
      assert.equal(audit[0]?.matched, 1);
      assert.deepEqual(audit[0]?.filter, { errorCodes: ['ERROR_CAPTCHA_UNSOLVABLE'] });
    });
  });

  void test('stats: every facet against a known set of failures; list: filters, paging, limits', async () => {
    await withStack('dlq-stats', async (s) => {
      // failures from 2024: no oldest-age alert in this test (the alerts test covers it)
      const dlq = await startDlq(s, { oldestAgeAlertMs: 100 * 365 * 86_400_000 });
      const hour = (h: number, day = 1) => `2024-06-0${day}T${String(h).padStart(2, '0')}:17:00.000Z`;
      const spec: ReportOptions[] = [
        { code: 'ERROR_CAPTCHA_UNSOLVABLE', failureClass: 'resubmit', sitekey: 'sk-a-000000000000', batchId: 'b1', failedAt: hour(3), paidSubmits: 3 },
        { code: 'ERROR_CAPTCHA_UNSOLVABLE', failureClass: 'resubmit', sitekey: 'sk-a-000000000000', batchId: 'b1', failedAt: hour(3), paidSubmits: 3 },
        { code: 'ERROR_CAPTCHA_UNSOLVABLE', failureClass: 'resubmit', sitekey: 'sk-b-000000000000', batchId: 'b2', failedAt: hour(14), paidSubmits: 3 },
        { code: 'POLL_DEADLINE', failureClass: 'timeout', sitekey: 'sk-a-000000000000', batchId: 'b1', failedAt: hour(14), paidSubmits: 1 },
        { code: 'POLL_DEADLINE', failureClass: 'timeout', sitekey: 'sk-a-000000000000', batchId: 'b2', failedAt: hour(14), paidSubmits: 1 },
        { code: 'POLL_DEADLINE', failureClass: 'timeout', sitekey: 'sk-c-000000000000', batchId: 'b2', failedAt: hour(14, 2), paidSubmits: 1 },
        { code: 'ERROR_PAGEURL', failureClass: 'permanent', sitekey: 'sk-c-000000000000', batchId: 'b3', failedAt: hour(0), paidSubmits: 0 },
        { code: 'ERROR_NO_SLOT_AVAILABLE', failureClass: 'transient', sitekey: 'sk-b-000000000000', batchId: 'b3', failedAt: hour(23), paidSubmits: 0 },
        { code: 'ERROR_WRONG_USER_KEY', failureClass: 'account', sitekey: 'sk-d-000000000000', batchId: 'b3', failedAt: hour(23), paidSubmits: 0 },
        { code: 'ERROR_CAPTCHA_UNSOLVABLE', failureClass: 'resubmit', sitekey: 'sk-a-000000000000', batchId: 'b1', failedAt: hour(9), paidSubmits: 2 },
      ];
      const reports = spec.map((o, i) => report(i, o));
      for (const r of reports) await dlq.signal(deadLetterSignal, r);
      await dlq.signal(deadLetterSignal, reports[4]!); // a repeat: changes nothing
      const st = await eventually('10 entries', () => stats(dlq, 2), (x) => x.received === 11);

      assert.equal(st.total, 10);
      assert.equal(st.duplicateReports, 1);
      assert.deepEqual(st.byStatus, { dead: 10, retrying: 0, parked: 0 });
      assert.deepEqual(st.byCode, { ERROR_CAPTCHA_UNSOLVABLE: 4, POLL_DEADLINE: 3, ERROR_NO_SLOT_AVAILABLE: 1, ERROR_PAGEURL: 1, ERROR_WRONG_USER_KEY: 1 });
      assert.deepEqual(st.byClass, { resubmit: 4, timeout: 3, account: 1, permanent: 1, transient: 1 });
      assert.deepEqual(st.bySitekey, [
        { sitekey: 'sk-a-000000000000', count: 5 },
        { sitekey: 'sk-b-000000000000', count: 2 },
      ]);
      assert.deepEqual(Object.keys(st.byHour).sort(), Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0')));
      assert.deepEqual(
        Object.fromEntries(Object.entries(st.byHour).filter(([, n]) => n > 0)),
        { '00': 1, '03': 2, '09': 1, '14': 4, '23': 2 },
      );
      assert.deepEqual(st.byBatch, { b1: 4, b2: 3, b3: 3 });
      assert.equal(st.oldestFailedAt, hour(0));
      assert.ok(st.oldestEntryAgeMs! >= Date.now() - Date.parse(hour(0)) - 60_000);
      assert.equal(st.paidSubmitsOnDead, 14);
      assert.equal(st.recovered, 0);
      assert.equal(st.discarded, 0);
      assert.equal(st.parked, 0);
      assert.deepEqual(st.alerts, []);
      assert.equal((await stats(dlq, 10)).bySitekey.length, 4);

      // list: every filter narrows; the page total counts the matches
      const ids = (page: DlqListPage) => page.entries.map((e) => e.id);
      const q = (req: Record<string, unknown>) => dlq.query(dlqListQuery, req);
      assert.deepEqual(ids(await q({ errorCodes: ['POLL_DEADLINE'] })), [reports[3]!, reports[4]!, reports[5]!].map((r) => r.entryId));
      assert.equal((await q({ classes: ['timeout', 'permanent'] })).total, 4);
      assert.equal((await q({ sitekeys: ['sk-a-000000000000'], batchIds: ['b1'] })).total, 4);
      assert.equal((await q({ statuses: ['dead'] })).total, 10);
      assert.equal((await q({ statuses: ['parked', 'retrying'] })).total, 0);
      assert.deepEqual(ids(await q({ ids: [reports[7]!.entryId, 'no-such-id'] })), [reports[7]!.entryId]);
      assert.equal((await q({ since: '2024-06-01T14:00:00Z', until: '2024-06-02T00:00:00Z' })).total, 5);
      assert.equal((await q({ since: '2024-06-02' })).total, 1);
      assert.equal((await q({ classes: ['timeout'], since: '2024-06-02T00:00:00+00:00' })).total, 1);

      // paging: a stable order, no entry twice, no entry lost
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await q({ limit: 3, ...(cursor && { cursor }) });
        assert.equal(page.total, 10);
        assert.ok(page.entries.length <= 3);
        seen.push(...ids(page));
        cursor = page.nextCursor;
        if (cursor) assert.equal(page.nextWorkflowId, dlq.workflowId);
        pages++;
      } while (cursor);
      assert.equal(pages, 4);
      assert.deepEqual(seen, reports.map((r) => r.entryId));
      assert.equal((await q({ limit: 500 })).entries.length, 10);

      // bad list requests are rejected with a clear message
      await assert.rejects(q({ limit: 501 }), /limit must be an integer from 1 to 500 \(got 501\)/);
      await assert.rejects(q({ codes: ['X'] }), /unknown field "codes" \(did you mean "errorCodes"\?\)/);
      await assert.rejects(q({ since: 'yesterday' }), /since must be an ISO time with a zone/);
      await assert.rejects(q({ cursor: '3:0' }), /continues in workflow .*\/shard-3/);
      await assert.rejects(dlq.query(dlqStatsQuery, { top: 0 }), /top must be an integer from 1 to 1000/);
    });
  });

  void test('retry: recovers what now solves, updates what still fails, the cap parks, parked and account entries stay put unless named', async () => {
    await withStack('dlq-retry', async (s) => {
      const dlq = await startDlq(s, { retryCap: 2 });
      const failing = report(1, { sitekey: SITE_FAIL });
      const fine = report(2, { sitekey: SITE_OK });
      const account = report(3, { sitekey: SITE_OK, code: 'ERROR_ZERO_BALANCE', failureClass: 'account' });
      for (const r of [failing, fine, account]) await dlq.signal(deadLetterSignal, r);
      await eventually('3 entries', () => stats(dlq), (x) => x.total === 3);

      const dry = await dlq.executeUpdate(dlqRetryUpdate, { args: [{ all: true, dryRun: true }] });
      assert.deepEqual({ matched: dry.matched, skipped: dry.skipped, dryRun: dry.dryRun }, { matched: 2, skipped: 1, dryRun: true });
      assert.equal((await stats(dlq)).byStatus.dead, 3, 'a dry run changed something');

      const first = await dlq.executeUpdate(dlqRetryUpdate, { args: [{ all: true, reason: 'provider outage over', by: 'ops' }] });
      assert.equal(first.matched, 2);
      assert.equal(first.skipped, 1, 'the account-class entry must not be retried by "all"');
      assert.deepEqual(first.sample.sort(), [failing.entryId, fine.entryId].sort());
      let st = await eventually('first retry pass', () => stats(dlq), (x) => x.recovered === 1 && x.retriesInFlight === 0 && x.retriesQueued === 0);
      assert.equal(st.total, 2);
      const entry = async (id: string) => (await dlq.query(dlqListQuery, { ids: [id] })).entries[0];
      let f = (await entry(failing.entryId))!;
      assert.equal(f.status, 'dead');
      assert.equal(f.dlqRetries, 1);
      assert.equal(f.attempts, failing.attempts + 1, 'attempts of the retry are added');
      assert.equal(f.paidSubmits, failing.paidSubmits + 1);
      assert.equal(f.history.length, 4);
      assert.ok(f.lastFailedAt > f.firstFailedAt);
      assert.equal(await entry(fine.entryId), undefined, 'a recovered entry is removed');

      // second failure reaches the cap (2): parked
      await dlq.executeUpdate(dlqRetryUpdate, { args: [{ all: true }] });
      st = await eventually('parked', () => stats(dlq), (x) => x.parked === 1 && x.retriesInFlight === 0 && x.retriesQueued === 0);
      f = (await entry(failing.entryId))!;
      assert.equal(f.status, 'parked');
      assert.equal(f.dlqRetries, 2);

      // "all" now finds nothing to retry: the parked and the account entry are skipped
      const none = await dlq.executeUpdate(dlqRetryUpdate, { args: [{ all: true }] });
      assert.deepEqual({ matched: none.matched, skipped: none.skipped }, { matched: 0, skipped: 2 });
      const byStatus = await dlq.executeUpdate(dlqRetryUpdate, { args: [{ statuses: ['parked'] }] });
      assert.equal(byStatus.matched, 0, 'a filter that is not explicit ids never retries parked entries');

      // named explicitly: retried (and parked again after another failure); the account entry recovers
      const named = await dlq.executeUpdate(dlqRetryUpdate, { args: [{ ids: [failing.entryId, account.entryId] }] });
      assert.equal(named.matched, 2);
      st = await eventually('named retries', () => stats(dlq), (x) => x.recovered === 2 && x.retriesInFlight === 0 && x.retriesQueued === 0);
      f = (await entry(failing.entryId))!;
      assert.equal(f.status, 'parked');
      assert.equal(f.dlqRetries, 3);
      assert.equal(st.total, 1);

      // every retry was a child with a deterministic id per generation
      for (const g of [1, 2, 3]) {
        const d = await s.client.workflow.getHandle(`${failing.entryId}/retry-${g}`).describe();
        assert.equal(d.status.name, 'FAILED');
      }
    });
  });

  void test('retry pacing: at most retryConcurrency children at once and at most retryRatePerSecond started per second', async () => {
    await withStack('dlq-pace', async (s) => {
      const dlq = await startDlq(s, { retryConcurrency: 2, retryRatePerSecond: 4 });
      const reports = Array.from({ length: 8 }, (_, i) => report(i, { sitekey: SITE_SLOW }));
      for (const r of reports) await dlq.signal(deadLetterSignal, r);
      await eventually('8 entries', () => stats(dlq), (x) => x.total === 8);
      await dlq.executeUpdate(dlqRetryUpdate, { args: [{ all: true }] });
      await eventually('all recovered', () => stats(dlq), (x) => x.recovered === 8, 60_000);
      const spans = await Promise.all(
        reports.map(async (r) => {
          const d = await s.client.workflow.getHandle(`${r.entryId}/retry-1`).describe();
          return { start: d.startTime.getTime(), end: d.closeTime!.getTime() };
        }),
      );
      for (const a of spans) {
        const running = spans.filter((b) => b.start <= a.start && b.end > a.start).length;
        assert.ok(running <= 2, `${running} retry children ran at once`);
      }
      const starts = spans.map((x) => x.start).sort((a, b) => a - b);
      for (let i = 0; i + 4 < starts.length; i++) {
        assert.ok(starts[i + 4]! - starts[i]! >= 900, `5 retry children started within ${starts[i + 4]! - starts[i]!} ms`);
      }
    });
  });

  void test('discard and purge: the dry run counts first and matches the real order; retrying entries are skipped', async () => {
    await withStack('dlq-discard', async (s) => {
      const dlq = await startDlq(s, { retryCap: 1 });
      const dead = Array.from({ length: 5 }, (_, i) => report(i, { code: 'ERROR_PAGEURL', failureClass: 'permanent' }));
      const toPark = Array.from({ length: 2 }, (_, i) => report(10 + i, { sitekey: SITE_FAIL }));
      const hanging = report(20, { sitekey: SITE_HANG, code: 'ERROR_PAGEURL', failureClass: 'permanent' });
      for (const r of [...dead, ...toPark, hanging]) await dlq.signal(deadLetterSignal, r);
      await eventually('8 entries', () => stats(dlq), (x) => x.total === 8);
      await dlq.executeUpdate(dlqRetryUpdate, { args: [{ ids: [...toPark.map((r) => r.entryId), hanging.entryId] }] });
      await eventually('2 parked, 1 retrying', () => stats(dlq), (x) => x.parked === 2 && x.byStatus.retrying === 1);
      const before = still(await stats(dlq));

      const dry = await dlq.executeUpdate(dlqDiscardUpdate, { args: [{ errorCodes: ['ERROR_PAGEURL'], reason: 'bad page URLs', dryRun: true }] });
      assert.deepEqual({ matched: dry.matched, skipped: dry.skipped, dryRun: dry.dryRun }, { matched: 5, skipped: 1, dryRun: true });
      assert.deepEqual(still(await stats(dlq)), before, 'a dry run changed the state');
      const real = await dlq.executeUpdate(dlqDiscardUpdate, { args: [{ errorCodes: ['ERROR_PAGEURL'], reason: 'bad page URLs', by: 'ops' }] });
      assert.deepEqual({ matched: real.matched, skipped: real.skipped }, { matched: dry.matched, skipped: dry.skipped });
      let st = await stats(dlq);
      assert.equal(st.discarded, 5);
      assert.equal(st.total, 3);

      const purgeDry = await dlq.executeUpdate(dlqPurgeUpdate, { args: [{ all: true, reason: 'graveyard', dryRun: true }] });
      assert.equal(purgeDry.matched, 2, 'purge acts on parked entries only');
      const purge = await dlq.executeUpdate(dlqPurgeUpdate, { args: [{ all: true, reason: 'graveyard' }] });
      assert.equal(purge.matched, 2);
      st = await stats(dlq);
      assert.deepEqual({ total: st.total, purged: st.purged, parked: st.parked, discarded: st.discarded }, { total: 1, purged: 2, parked: 0, discarded: 5 });

      // the same order again (same requestId): a no-op that returns the first result
      const once = await dlq.executeUpdate(dlqDiscardUpdate, { args: [{ all: true, reason: 'x', requestId: 'ops-42' }] });
      const twice = await dlq.executeUpdate(dlqDiscardUpdate, { args: [{ all: true, reason: 'x', requestId: 'ops-42' }] });
      assert.equal(twice.duplicate, true);
      assert.equal(twice.matched, once.matched);

      // by signal, too
      await dlq.signal(dlqDiscardSignal, { ids: [hanging.entryId], reason: 'never ready' });
      const audit = await eventually('the signal order in the audit log', () => dlq.query(dlqAuditQuery, { limit: 10 }), (a) => a[0]?.filter.ids?.[0] === hanging.entryId);
      assert.equal(audit[0]!.skipped, 1, 'an entry being retried is not discarded');
      assert.ok(audit.every((a) => a.at && a.requestId && (a.operation === 'retry' || a.reason)));
      assert.equal(audit.find((a) => a.requestId === 'ops-42')?.by, 'unknown');
      assert.equal(audit.find((a) => a.reason === 'bad page URLs')?.by, 'ops');
    });
  });

  void test('watermark: entries that arrive while a slow retry runs are not retried', async () => {
    await withStack('dlq-watermark', async (s) => {
      const dlq = await startDlq(s, { retryConcurrency: 1, retryRatePerSecond: 2 });
      const early = Array.from({ length: 3 }, (_, i) => report(i));
      const late = Array.from({ length: 3 }, (_, i) => report(10 + i));
      for (const r of early) await dlq.signal(deadLetterSignal, r);
      await eventually('3 entries', () => stats(dlq), (x) => x.total === 3);
      await dlq.signal(dlqRetrySignal, { all: true });
      for (const r of late) await dlq.signal(deadLetterSignal, r);
      const st = await eventually('the early ones recovered', () => stats(dlq), (x) => x.recovered === 3 && x.retriesQueued === 0 && x.retriesInFlight === 0);
      assert.equal(st.total, 3);
      const left = (await dlq.query(dlqListQuery, {})).entries;
      assert.deepEqual(left.map((e) => [e.id, e.status, e.dlqRetries]), late.map((r) => [r.entryId, 'dead', 0]));
      for (const r of late) await assert.rejects(s.client.workflow.getHandle(`${r.entryId}/retry-1`).describe(), /not found/i);
    });
  });

  void test('bad orders: malformed signals leave the state unchanged; malformed updates are rejected with a clear message', async () => {
    await withStack('dlq-bad', async (s) => {
      const dlq = await startDlq(s);
      for (let i = 0; i < 4; i++) await dlq.signal(deadLetterSignal, report(i));
      await eventually('4 entries', () => stats(dlq), (x) => x.total === 4);
      const before = still(await stats(dlq));
      const bad: unknown[] = [{}, { all: false }, { codes: ['ERROR_CAPTCHA_UNSOLVABLE'] }, { errorCodes: 'ERROR_CAPTCHA_UNSOLVABLE' }, 'all', null, [1], { all: 'yes' }, { since: 'last week', all: true }, { filter: { errorCodes: ['X'] } }, { classes: ['nope'] }, { errorCodes: [] }];
      for (const b of bad) await dlq.signal(dlqRetrySignal, b as never);
      for (const b of [{ all: true }, { errorCodes: ['ERROR_CAPTCHA_UNSOLVABLE'], reason: '' }, { all: true, reason: 'x', dryRun: 'no' }]) {
        await dlq.signal(dlqDiscardSignal, b as never);
      }
      for (const b of [{}, { entryId: '' }, { entryId: 'x', task: 'not a task' }, 42]) await dlq.signal(deadLetterSignal, b as never);
      // a valid no-op order marks the point where every signal above has been handled
      await dlq.signal(dlqRetrySignal, { ids: ['no-such-entry'], requestId: 'marker' });
      await eventually('the marker', () => dlq.query(dlqAuditQuery, {}), (a) => a.some((r) => r.requestId === 'marker'));
      assert.deepEqual(still(await stats(dlq)), before);
      assert.equal((await dlq.query(dlqAuditQuery, {})).length, 1, 'only the marker was applied');

      const retry = (req: unknown) => rejection(dlq.executeUpdate(dlqRetryUpdate, { args: [req as never] }));
      const discard = (req: unknown) => rejection(dlq.executeUpdate(dlqDiscardUpdate, { args: [req as never] }));
      assert.match(await retry({}), /empty filter: .*"all": true/);
      assert.match(await retry({ codes: ['X'] }), /unknown field "codes" \(did you mean "errorCodes"\?\)/);
      assert.match(await retry({ filter: { errorCodes: ['X'] } }), /put the filter fields at the top level/);
      assert.match(await retry({ errorCodes: 'X' }), /errorCodes must be an array of strings/);
      assert.match(await retry({ classes: ['nope'] }), /classes: "nope" is not one of transient, resubmit/);
      assert.match(await retry({ statuses: ['gone'] }), /statuses: "gone" is not one of dead, retrying, parked/);
      assert.match(await retry({ all: true, until: '2024-13-45T00:00:00Z' }), /until must be an ISO time with a zone/);
      assert.match(await retry({ since: '2024-06-02T00:00:00Z', until: '2024-06-01T00:00:00Z' }), /since .* must be before until/);
      assert.match(await retry('everything'), /expected a JSON object/);
      assert.match(await discard({ all: true }), /reason is required/);
      assert.match(await discard({ all: true, reason: 'x', dryRun: 1 }), /dryRun must be true or false/);
      assert.match(await rejection(dlq.executeUpdate(dlqPurgeUpdate, { args: [{ errorCodes: ['X'] } as never] })), /reason is required/);
      assert.deepEqual(still(await stats(dlq)), before);
    });
  });

  void test('continue-as-new with retries in flight, reports arriving and a worker restart: totals exact, nothing lost or duplicated', async () => {
    idPrefix = 'dlq-can';
    const failing = Array.from({ length: 10 }, (_, i) => report(i, { sitekey: SITE_FAIL }));
    // two retries outlive every burst of messages, so a continue-as-new certainly happens while they run
    const slow = Array.from({ length: 20 }, (_, i) => report(100 + i, { sitekey: i < 2 ? SITE_LATE : SITE_SLOW }));
    const late = Array.from({ length: 30 }, (_, i) => report(200 + i));
    const stack = await startStack(env, {
      name: 'dlq-can',
      simulator: { scenarios: SCENARIOS },
      env: { SOLVE_MAX_RESUBMITS: '0', SOLVE_POLL_DEADLINE_MS: '20000' },
    });
    try {
      const dlq = await startDlq(stack, { maxMessagesPerRun: 20, retryConcurrency: 8, retryRatePerSecond: 40 });
      // worker 1: ingest, order the retry, keep reporting while the retries run, then stop mid-retry
      await stack.run(async () => {
        for (const r of [...failing, ...slow]) await dlq.signal(deadLetterSignal, r);
        await eventually('30 entries', () => stats(dlq), (x) => x.total === 30);
        const order = await executeUpdateAcrossRuns(dlq, dlqRetryUpdate, { args: [{ all: true, requestId: 'can-retry' }] });
        assert.equal(order.matched, 30);
        for (const r of late.slice(0, 15)) {
          await dlq.signal(deadLetterSignal, r);
          await sleep(15);
        }
        await eventually('retries in flight', () => stats(dlq), (x) => x.retriesInFlight > 0);
      });
      // worker 2: the rest
      await stack.run(async () => {
        for (const r of late.slice(15)) {
          await dlq.signal(deadLetterSignal, r);
          await sleep(15);
        }
        const again = await executeUpdateAcrossRuns(dlq, dlqRetryUpdate, { args: [{ all: true, requestId: 'can-retry' }] });
        assert.equal(again.duplicate, true, 'the repeated request id was forgotten across continue-as-new');
        const st = await eventually('every retry reported', () => stats(dlq), (x) => x.retriesInFlight === 0 && x.retriesQueued === 0 && x.received === 60, 60_000);
        assert.equal(st.recovered, 20);
        assert.equal(st.total, 40);
        assert.deepEqual(st.byStatus, { dead: 40, retrying: 0, parked: 0 });
        const { entries } = await listAll(stack, dlq.workflowId, {}, 7);
        const ids = entries.map((e) => e.id);
        assert.equal(new Set(ids).size, 40, 'duplicate entries');
        assert.deepEqual(ids.sort(), [...failing, ...late].map((r) => r.entryId).sort());
        for (const e of entries) assert.equal(e.dlqRetries, failing.some((r) => r.entryId === e.id) ? 1 : 0, e.id);
        // the order's own figures came through every continue-as-new and the restart: each retry counted once
        const record = (await dlq.query(dlqAuditQuery, {})).find((a) => a.requestId === 'can-retry');
        assert.deepEqual([record?.matched, record?.inFlight, record?.outcomes?.recovered, record?.outcomes?.failed, record?.outcomes?.cancelled], [30, 0, 20, 10, 0]);
      });

      // the runs: several; one child started in a run reported to a later one
      const runs: { runId: string }[] = [];
      for await (const w of stack.client.workflow.list({ query: `WorkflowId = '${dlq.workflowId}'` })) runs.push({ runId: w.runId });
      assert.ok(runs.length >= 3, `only ${runs.length} runs`);
      const histories = await Promise.all(runs.map((r) => stack.client.workflow.getHandle(dlq.workflowId, r.runId).fetchHistory()));
      const startedIn = new Map<string, number>();
      const reportedIn = new Map<string, number>();
      histories.forEach((h, run) => {
        const started = run;
        for (const e of h.events ?? []) {
          const child = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
          if (child) startedIn.set(child, started);
          const sig = e.workflowExecutionSignaledEventAttributes;
          if (sig?.signalName === 'solveOutcome') {
            const data = sig.input?.payloads?.[0]?.data;
            const outcome = JSON.parse(Buffer.from(data!).toString('utf8')) as { retry: { entryId: string; generation: number } };
            reportedIn.set(`${outcome.retry.entryId}/retry-${outcome.retry.generation}`, started);
          }
        }
      });
      assert.equal(startedIn.size, 30, 'each retry child started exactly once');
      const runOf = (m: Map<string, number>, id: string) => m.get(id);
      const crossed = [...startedIn.keys()].filter((id) => runOf(reportedIn, id) !== undefined && runOf(reportedIn, id) !== runOf(startedIn, id));
      assert.ok(crossed.length > 0, 'no retry crossed a continue-as-new boundary');
      // the histories replay deterministically
      const workflowBundle = await bundleWorkflows();
      for await (const r of Worker.runReplayHistories({ workflowBundle }, histories.map((history, i) => ({ workflowId: `${dlq.workflowId}-${i}`, history })))) {
        assert.equal(r.error, undefined, String(r.error));
      }
    } finally {
      await stack.close();
    }
  });

  void test('sharding (4 workflows): exact merged stats, list paging across shards, orders forwarded with one watermark', async () => {
    await withStack('dlq-shards', async (s) => {
      const front = s.config.dlqWorkflowId;
      const dlq = await startDlq(s, { shardCount: 4, snapshotIntervalMs: 100 });
      const codes = ['ERROR_CAPTCHA_UNSOLVABLE', 'POLL_DEADLINE', 'ERROR_NO_SLOT_AVAILABLE'] as const;
      const classes: Record<string, FailureClass> = { ERROR_CAPTCHA_UNSOLVABLE: 'resubmit', POLL_DEADLINE: 'timeout', ERROR_NO_SLOT_AVAILABLE: 'transient' };
      const send = async (r: DeadLetterReport) => {
        const target = routeDeadLetter(front, { shardCount: 4 }, r.entryId);
        await s.client.workflow.signalWithStart(WORKFLOW_TYPES.dlq, {
          workflowId: target.workflowId,
          taskQueue: s.taskQueue,
          args: [target.args],
          signal: deadLetterSignal,
          signalArgs: [r],
        });
      };
      const reports = Array.from({ length: 40 }, (_, i) =>
        report(i, { code: codes[i % 3]!, failureClass: classes[codes[i % 3]!]!, sitekey: `sk-${i % 5}-00000000000`, batchId: `b${i % 4}`, paidSubmits: i % 3, failedAt: `2024-06-01T${String(i % 24).padStart(2, '0')}:00:00.000Z` }),
      );
      const perShard = count(reports, (r) => String(dlqShardOf(4, r.entryId)));
      assert.equal(Object.keys(perShard).length, 4, 'the test ids do not reach every shard');
      for (const r of reports) await send(r);

      const st = await eventually('merged stats', () => stats(dlq, 10), (x) => x.total === 40 && (x.shards?.length ?? 0) === 3);
      assert.deepEqual(sortedEntries(st.byCode), sortedEntries(count(reports, (r) => r.code)));
      assert.deepEqual(sortedEntries(st.byClass), sortedEntries(count(reports, (r) => r.failureClass)));
      assert.deepEqual(sortedEntries(st.byBatch), sortedEntries(count(reports, (r) => r.batchId)));
      assert.deepEqual(st.bySitekey.map((x) => x.count), [8, 8, 8, 8, 8]);
      assert.deepEqual(
        Object.fromEntries(Object.entries(st.byHour).filter(([, n]) => n > 0)),
        count(reports, (r) => r.failedAt.slice(11, 13)),
      );
      assert.equal(st.paidSubmitsOnDead, reports.reduce((n, r) => n + r.paidSubmits, 0));
      assert.equal(st.oldestFailedAt, '2024-06-01T00:00:00.000Z');
      assert.deepEqual(st.shards!.map((x) => [x.shard, x.total]), [1, 2, 3].map((i) => [i, perShard[String(i)] ?? 0]));

      // list: the front's page, then shard 1, 2, 3 by nextWorkflowId
      const { entries, pages } = await listAll(s, front, {}, 7);
      assert.deepEqual(entries.map((e) => e.id).sort(), reports.map((r) => r.entryId).sort());
      assert.deepEqual([...new Set(pages.map((p) => p.shard))], [0, 1, 2, 3]);
      const filtered = await listAll(s, front, { errorCodes: ['POLL_DEADLINE'] }, 500);
      assert.equal(filtered.entries.length, reports.filter((r) => r.code === 'POLL_DEADLINE').length);

      // a retry by filter, through the front: every shard acts, the result sums them
      const unsolvable = reports.filter((r) => r.code === 'ERROR_CAPTCHA_UNSOLVABLE').length;
      const retried = await dlq.executeUpdate(dlqRetryUpdate, { args: [{ errorCodes: ['ERROR_CAPTCHA_UNSOLVABLE'], reason: 'sharded retry' }] });
      assert.equal(retried.matched, unsolvable);
      assert.equal(retried.workflows, 4);
      await eventually('recovered across shards', () => stats(dlq), (x) => x.recovered === unsolvable && x.total === 40 - unsolvable && x.retriesInFlight === 0);

      // dry run counts across shards; then a discard while new reports arrive: the watermark splits them exactly
      const left = 40 - unsolvable;
      const dry = await dlq.executeUpdate(dlqDiscardUpdate, { args: [{ all: true, reason: 'cleanup', dryRun: true }] });
      assert.equal(dry.matched, left);
      const late = Array.from({ length: 12 }, (_, i) => report(500 + i));
      const pending = await dlq.startUpdate(dlqDiscardUpdate, { args: [{ all: true, reason: 'cleanup', requestId: 'wm-1' }], waitForStage: WorkflowUpdateStage.ACCEPTED });
      await Promise.all(late.map(send));
      const discarded = await pending.result();
      assert.ok(discarded.matched >= left, `discarded ${discarded.matched} < ${left}`);
      const watermark = (await dlq.query(dlqAuditQuery, {})).find((a) => a.requestId === 'wm-1')!.watermarkAt!;
      const after = await eventually('stats converge', () => stats(dlq), (x) => x.received === 52 && x.total === 52 - unsolvable - discarded.matched && x.discarded === discarded.matched);
      const remaining = (await listAll(s, front)).entries;
      assert.equal(remaining.length, after.total);
      for (const e of remaining) assert.ok(e.receivedAt >= watermark, `${e.id} (received ${e.receivedAt}) was older than the watermark ${watermark}`);
    });
  });

  void test('per-order outcomes: each retry order counts its recovered, failed-again and in-flight entries, front and shards together (audit query and `dlq audit`)', async () => {
    // never-ready retries hold (no poll deadline) until terminated: the in-flight figure is not a race
    await withStack(
      'dlq-order-outcomes',
      async (s) => {
        const front = s.config.dlqWorkflowId;
        const shardCount = 4;
        const dlq = await startDlq(s, { shardCount, snapshotIntervalMs: 100, retryConcurrency: 40, retryRatePerSecond: 40, retryStaleAfterMs: 1_000 });
        // one entry that recovers and one that fails again in every workflow (front and 3 shards); hanging ones in two
        const picked = { ok: new Map<number, DeadLetterReport>(), fail: new Map<number, DeadLetterReport>(), hang: new Map<number, DeadLetterReport>() };
        for (let i = 0; picked.ok.size + picked.fail.size + picked.hang.size < 2 * shardCount + 2; i++) {
          const kind = (['ok', 'fail', 'hang'] as const)[i % 3]!;
          const r = report(i, { sitekey: { ok: SITE_OK, fail: SITE_FAIL, hang: SITE_HANG }[kind] });
          const shard = dlqShardOf(shardCount, r.entryId);
          if (kind === 'hang' && (picked.hang.size === 2 || (shard !== 0 && [...picked.hang.keys()].some((k) => k !== 0)))) continue;
          if (!picked[kind].has(shard)) picked[kind].set(shard, r);
        }
        const [ok, fail, hang] = [[...picked.ok.values()], [...picked.fail.values()], [...picked.hang.values()]];
        assert.ok(picked.hang.has(0) && hang.length === 2, 'a hanging entry in the front and one in a shard');
        for (const r of [...ok, ...fail, ...hang]) {
          const target = routeDeadLetter(front, { shardCount }, r.entryId);
          await s.client.workflow.signalWithStart(WORKFLOW_TYPES.dlq, { workflowId: target.workflowId, taskQueue: s.taskQueue, args: [target.args], signal: deadLetterSignal, signalArgs: [r] });
        }
        const n = ok.length + fail.length + hang.length;
        await eventually('every entry counted', () => stats(dlq), (x) => x.total === n && (x.shards?.length ?? 0) === shardCount - 1);

        const first = await dlq.executeUpdate(dlqRetryUpdate, { args: [{ all: true, reason: 'order A', by: 'ops', requestId: 'order-a' }] });
        assert.deepEqual([first.matched, first.workflows], [n, shardCount]);
        const byRequest = async (id: string, workflowId = front) => (await s.client.workflow.getHandle(workflowId).query(dlqAuditQuery, {})).find((a) => a.requestId === id);
        const figures = (r: DlqAuditRecord | undefined) => [r?.matched, r?.inFlight, r?.outcomes?.recovered, r?.outcomes?.failed, r?.outcomes?.cancelled];
        // the shards' parts arrive with their snapshots: the front's record sums every workflow's
        let a = await eventually('order A: recovered and failed counted, the hanging ones in flight', () => byRequest('order-a'), (r) => r?.outcomes?.recovered === ok.length && r.outcomes.failed === fail.length);
        assert.deepEqual(figures(a), [n, hang.length, ok.length, fail.length, 0]);
        const parts = await Promise.all(Array.from({ length: shardCount }, (_, i) => byRequest('order-a', i === 0 ? front : `${front}/shard-${i}`)));
        for (const [i, part] of parts.entries()) {
          const here = (list: DeadLetterReport[]) => list.filter((r) => dlqShardOf(shardCount, r.entryId) === i).length;
          if (i > 0) assert.deepEqual(figures(part), [here(ok) + here(fail) + here(hang), here(hang), here(ok), here(fail), 0], `shard ${i}'s own record`);
        }

        // the CLI shows the same figures (in flight, recovered, failed), live
        const cliEnv = cliEnvOf(env, s);
        const asJson = await runOurCli(['dlq', 'audit', '--json'], { env: cliEnv });
        expectCode(asJson, 0, 'dlq audit --json');
        assert.deepEqual(figures((JSON.parse(asJson.stdout) as DlqAuditRecord[]).find((r) => r.requestId === 'order-a')), figures(a));
        const table = await runOurCli(['dlq', 'audit'], { env: cliEnv });
        expectCode(table, 0, 'dlq audit');
        assert.match(table.stdout, new RegExp(`retry\\s+│ ops\\s+│ order A\\s+│ ${n}\\s+│ 0\\s+│ ${hang.length}\\s+│ ${ok.length}\\s+│ ${fail.length}\\s+│`), table.stdout);
        assert.match(table.stderr, /in flight \/ recovered \/ failed: what became of each retry order's entries/);

        // the hanging retries end without reporting (terminated): found by the sweep, counted as failed; nothing in flight
        for (const r of hang) await s.client.workflow.getHandle(`${r.entryId}/retry-1`).terminate('operator');
        a = await eventually('order A settled', () => byRequest('order-a'), (r) => r?.inFlight === 0);
        assert.deepEqual(figures(a), [n, 0, ok.length, fail.length + hang.length, 0]);

        // a second order on the failed entries has figures of its own; the first order's stay as they were
        const ids = [...fail, ...hang].map((r) => r.entryId);
        s.sim.setScenarios({ sitekeys: { ...SCENARIOS.sitekeys, [SITE_HANG]: { outcome: { type: 'solve', afterMs: 5 } } } });
        const second = await dlq.executeUpdate(dlqRetryUpdate, { args: [{ ids, reason: 'order B', by: 'ops', requestId: 'order-b' }] });
        assert.equal(second.matched, ids.length);
        const b = await eventually('order B settled', () => byRequest('order-b'), (r) => r?.inFlight === 0 && r.outcomes!.recovered + r.outcomes!.failed === ids.length);
        assert.deepEqual(figures(b), [ids.length, 0, hang.length, fail.length, 0]);
        assert.deepEqual(figures(await byRequest('order-a')), figures(a));
        const st = await eventually('stats agree', () => stats(dlq), (x) => x.recovered === ok.length + hang.length);
        assert.equal(st.total, fail.length);
      },
      { env: { SOLVE_POLL_DEADLINE_MS: '600000' } },
    );
  });

  void test("a front first started by a shard's snapshot gets the operator commands in the Web UI, as one started by a report", async () => {
    await withStack('dlq-front-by-shard', async (s) => {
      const front = `${s.config.dlqWorkflowId}-by-shard`;
      const shardCount = 3;
      let r = report(0);
      for (let i = 1; dlqShardOf(shardCount, r.entryId) === 0; i++) r = report(i);
      const target = routeDeadLetter(front, { shardCount }, r.entryId);
      await assert.rejects(s.client.workflow.getHandle(front).describe(), /not found/i, 'the front is not running yet');
      await s.client.workflow.signalWithStart(WORKFLOW_TYPES.dlq, { workflowId: target.workflowId, taskQueue: s.taskQueue, args: [target.args], signal: deadLetterSignal, signalArgs: [r] });
      // the shard's snapshot signals-with-start the front (activities/dlq.ts pushDlqSnapshot)
      const st = await eventually("the shard's snapshot in the front's stats", () => stats(s.client.workflow.getHandle(front) as DlqHandle), (x) => x.total === 1);
      assert.deepEqual(st.shards?.map((x) => x.workflowId), [target.workflowId]);
      const d = await s.client.workflow.getHandle(front).describe();
      assert.equal(await d.staticSummary(), 'dead-letter queue');
      const details = await d.staticDetails();
      assert.match(details ?? '(none)', new RegExp(`temporal workflow query --type stats \\\\\\n  --workflow-id ${front}\\n`));
      assert.equal(details, dlqStartDetails(front, {}).staticDetails, 'the same details as a front started by a report');
      assert.deepEqual(dlqStartDetails(target.workflowId, target.args), { staticSummary: `dead-letter queue shard ${target.args.shard} of ${front}`, staticDetails: details });
    });
  });

  void test('soft limit: the alert is raised once, across continue-as-new, and every failure is still recorded', async () => {
    await withStack('dlq-soft', async (s) => {
      // no message threshold: the server's suggestion (150 history events in this file) makes it continue as new
      const dlq = await startDlq(s, { softLimit: 5, maxMessagesPerRun: 9_000 });
      for (let i = 0; i < 200; i++) await dlq.signal(deadLetterSignal, report(i));
      const st = await eventually('200 entries', () => stats(dlq), (x) => x.total === 200);
      assert.equal(st.alerts.length, 1);
      assert.deepEqual({ kind: st.alerts[0]!.kind, threshold: st.alerts[0]!.threshold, value: st.alerts[0]!.value }, { kind: 'depth', threshold: 5, value: 6 });
      // the run continues as new once its alert is delivered: on a loaded machine a query may still reach the first run
      await eventually('the suggested continue-as-new', () => dlq.describe(), (d) => d.runId !== dlq.firstExecutionRunId);
      assert.deepEqual((await listAll(s, dlq.workflowId)).entries.map((e) => e.seq), Array.from({ length: 200 }, (_, i) => i + 1));
    });
  });

  void test('alerts: depth and oldest age raise one alert per crossing, logged and POSTed to the webhook', async () => {
    const received: { kind: string; threshold: number; value: number; dlqWorkflowId: string }[] = [];
    let failFirst = true;
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        // the first delivery meets a receiver that is down: the activity retries it
        if (failFirst) {
          failFirst = false;
          res.writeHead(503).end();
          return;
        }
        received.push(JSON.parse(body) as (typeof received)[number]);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
    try {
      await withStack(
        'dlq-alerts',
        async (s) => {
          const dlq = await startDlq(s, { softLimit: 3, oldestAgeAlertMs: 2_000 });
          for (let i = 0; i < 8; i++) await dlq.signal(deadLetterSignal, report(i));
          await eventually('8 entries', () => stats(dlq), (x) => x.total === 8);
          await eventually('both alerts', async () => received.length, (n) => n >= 2, 15_000);
          for (let i = 8; i < 12; i++) await dlq.signal(deadLetterSignal, report(i));
          await eventually('12 entries', () => stats(dlq), (x) => x.total === 12);
          await sleep(1_500);
          assert.deepEqual(received.map((a) => a.kind).sort(), ['depth', 'oldest-age'], 'one alert per crossing, not one per entry');
          const depth = received.find((a) => a.kind === 'depth')!;
          assert.deepEqual([depth.threshold, depth.value, depth.dlqWorkflowId], [3, 4, dlq.workflowId]);
          const age = received.find((a) => a.kind === 'oldest-age')!;
          assert.ok(age.value >= 2_000 && age.threshold === 2_000);
          const st = await stats(dlq);
          assert.deepEqual(st.alerts.map((a) => a.kind).sort(), ['depth', 'oldest-age']);
        },
        { env: { ALERT_WEBHOOK_URL: url } },
      );
    } finally {
      hook.close();
    }
  });

  void test('a retry child that ends without reporting (terminated) is found and its entry updated', async () => {
    await withStack('dlq-lost', async (s) => {
      const dlq = await startDlq(s, { retryStaleAfterMs: 1_000 });
      const r = report(1, { sitekey: SITE_HANG });
      await dlq.signal(deadLetterSignal, r);
      await eventually('the entry', () => stats(dlq), (x) => x.total === 1);
      await dlq.executeUpdate(dlqRetryUpdate, { args: [{ ids: [r.entryId] }] });
      await eventually('in flight', () => stats(dlq), (x) => x.retriesInFlight === 1);
      await s.client.workflow.getHandle(`${r.entryId}/retry-1`).terminate('operator');
      const [e] = (await eventually('the sweep', () => dlq.query(dlqListQuery, {}), (p) => p.entries[0]?.status === 'dead')).entries;
      assert.equal(e!.code, 'RETRY_TERMINATED');
      assert.equal(e!.dlqRetries, 1);
    });
  });

  void test('capacity: the continue-as-new state per entry, and the per-shard budget for 100,000 entries', async (t) => {
    await withStack('dlq-size', async (s) => {
      const n = 300;
      const dlq = await startDlq(s, { maxMessagesPerRun: n });
      const fresh = Array.from({ length: n / 2 }, (_, i) => report(i));
      // entries after three DLQ retries: ten attempts of history
      const worn = Array.from({ length: n / 2 }, (_, i) => report(1_000 + i, { rounds: 10 }));
      const started = Date.now();
      await Promise.all([...fresh, ...worn].map((r) => dlq.signal(deadLetterSignal, r)));
      const ingestMs = Date.now() - started;
      await eventually('a second run', async () => (await dlq.describe()).runId !== dlq.firstExecutionRunId, (x) => x);
      const history = await dlq.fetchHistory();
      const bytes = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data?.length ?? 0;
      const queryStarted = Date.now();
      const st = await stats(dlq);
      const queryMs = Date.now() - queryStarted;
      assert.equal(st.total, n);
      const sample = async (rs: DeadLetterReport[]) => (await dlq.query(dlqListQuery, { ids: rs.slice(0, 100).map((r) => r.entryId) })).entries;
      const [freshEntries, wornEntries] = [await sample(fresh), await sample(worn)];
      const plain = (es: DlqEntry[]) => JSON.stringify(es).length / es.length;
      const packed = (es: DlqEntry[]) => JSON.stringify(packEntries(es)).length / es.length;
      const perWorn = packed(wornEntries);
      // 1 MB per run, less ~150 KB for the audit log, request ids, recent removals and shard snapshots
      const budget = Math.floor(850_000 / perWorn);
      t.diagnostic(
        `entry JSON: fresh ${plain(freshEntries).toFixed(0)} B, 10 attempts ${plain(wornEntries).toFixed(0)} B; packed: fresh ${packed(freshEntries).toFixed(0)} B, ` +
          `10 attempts ${perWorn.toFixed(0)} B; continue-as-new payload ${bytes} B for ${n} entries (${(bytes / n).toFixed(0)} B/entry); ` +
          `budget (1 MB/run, all entries worn): ${budget} per workflow → shardCount ${Math.ceil(100_000 / budget)} for 100,000; ` +
          `ingest ${n} signals in ${ingestMs} ms; stats query ${queryMs} ms`,
      );
      assert.ok(perWorn < 700, `a packed entry with ten attempts is ${perWorn} B`);
      assert.ok(packed(freshEntries) < 400, `a packed fresh entry is ${packed(freshEntries)} B`);
      assert.ok(bytes < 200_000, `the continue-as-new payload is ${bytes} B`);
    });
  });

  void test('packed rows round-trip every entry shape exactly (pure, no server)', () => {
    const base = report(7, { rounds: 4 });
    const entries: DlqEntry[] = [
      {
        id: base.entryId,
        task: base.task,
        taskKey: base.taskKey,
        batchId: base.batchId!,
        provider: base.provider,
        failureClass: base.failureClass,
        code: base.code,
        message: base.message,
        attempts: 4,
        paidSubmits: 4,
        firstFailedAt: '2024-06-01T03:17:00.000Z',
        lastFailedAt: '2024-06-02T04:00:00.123Z',
        history: base.history,
        dlqRetries: 2,
        status: 'parked',
        seq: 12,
        receivedAt: '2024-06-01T03:17:01.000Z',
        lastGeneration: 2,
      },
      {
        id: 'solve/img-1',
        task: { type: 'image', body: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', options: { proxy: 'u:p@h:1', proxyType: 'HTTP' } },
        taskKey: 'img-1',
        provider: '2captcha',
        failureClass: 'permanent',
        code: 'ERROR_ZERO_CAPTCHA_FILESIZE',
        message: '',
        attempts: 1,
        paidSubmits: 0,
        firstFailedAt: 'not a time',
        lastFailedAt: '2024-06-01T00:00:00Z',
        history: [{ round: 1, failureClass: 'permanent', code: 'ERROR_ZERO_CAPTCHA_FILESIZE', message: 'x', at: 'later', note: 'extra' } as never],
        dlqRetries: 0,
        status: 'retrying',
        seq: 13,
        receivedAt: '2024-06-01T00:00:01.000Z',
        future: { field: [1, 2] },
      } as DlqEntry,
      {
        id: 'no-key',
        task: { type: 'turnstile', sitekey: '0x4AAAAAAA', pageUrl: '' },
        taskKey: 'k',
        provider: 'captchaai',
        failureClass: 'timeout',
        code: 'POLL_DEADLINE',
        message: 'not ready after 120 s',
        attempts: 1,
        paidSubmits: 1,
        firstFailedAt: '2024-06-01T00:00:00.000Z',
        lastFailedAt: '2024-06-01T00:00:00.000Z',
        history: [],
        dlqRetries: 0,
        status: 'dead',
        seq: 14,
        receivedAt: '2024-06-01T00:00:00.000Z',
      },
    ];
    const roundTripped = unpackEntries(JSON.parse(JSON.stringify(packEntries(entries))));
    assert.deepEqual(roundTripped, JSON.parse(JSON.stringify(entries)));
  });
});
