// The DLQ's published stats (issue 15 point 4): the front publishes its `stats` in its memo, which the client reads with
// `describe()` from the server alone — readable while no worker can answer the exact query, equal to the exact stats once
// the reports stop, carried across continue-as-new, and published at most once per interval (events in the history).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { deadLetterQueueWorkflow } from '../workflows/dlq';
import { deadLetterSignal, dlqStatsQuery, DLQ_STATS_MEMO_KEY, type DlqStats, type DlqStatsSnapshot } from '../workflows/messages';
import { WORKFLOW_TYPES } from '../src/domain/names';
import type { DeadLetterReport, FailureClass } from '../src/domain/types';
import { CaptchaSolver } from '../src/client';
import { startStack, type Stack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

const CODES: [string, FailureClass][] = [
  ['ERROR_CAPTCHA_UNSOLVABLE', 'resubmit'],
  ['POLL_DEADLINE', 'timeout'],
  ['ERROR_NO_SLOT_AVAILABLE', 'transient'],
  ['ERROR_PAGEURL', 'permanent'],
];

function report(prefix: string, i: number): DeadLetterReport {
  const [code, failureClass] = CODES[i % CODES.length]!;
  const key = `task-${String(i).padStart(6, '0')}`;
  const failedAt = new Date().toISOString();
  return {
    entryId: `${prefix}/${key}`,
    task: { type: 'recaptcha-v2', sitekey: `6Le-SITEKEY-${i % 7}`, pageUrl: `https://shop.example.com/checkout?cart=${100_000 + i}`, key },
    taskKey: key,
    batchId: `${prefix}-batch-${i % 3}`,
    provider: 'captchaai',
    failureClass,
    code,
    message: `captchaai poll: ${code}`,
    attempts: 2,
    paidSubmits: 2,
    providerTaskIds: ['1', '2'],
    history: [1, 2].map((round) => ({ round, providerTaskId: String(round), failureClass, code, message: code, at: failedAt })),
    failedAt,
  };
}

async function send(handle: WorkflowHandle, prefix: string, from: number, to: number): Promise<void> {
  let next = from;
  const lane = async () => {
    while (next < to) await handle.signal(deadLetterSignal, report(prefix, next++));
  };
  await Promise.all(Array.from({ length: 16 }, lane));
}

async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await fn();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: not reached in ${timeoutMs} ms; last ${JSON.stringify(last)?.slice(0, 500)}`);
}

/** The fields both answers share, without their times. */
function counts(s: DlqStats | DlqStatsSnapshot) {
  const { asOf: _a, oldestEntryAgeMs: _o, ...rest } = s as DlqStats & Partial<DlqStatsSnapshot>;
  const { publishedAt: _p, run: _r, seq: _s, shardsReporting: _n, shards: _h, ...same } = rest;
  return same;
}

test('the published stats are read while no worker answers, equal the exact stats once reports stop, and survive continue-as-new', async () => {
  const name = 'dlq-snapshot';
  const interval = 300;
  const s: Stack = await startStack(env, { name });
  try {
    const dlq = s.solver.dlq();
    const handle = await s.client.workflow.start<typeof deadLetterQueueWorkflow>(WORKFLOW_TYPES.dlq, {
      workflowId: s.config.dlqWorkflowId,
      taskQueue: s.taskQueue,
      args: [{ statsPublishIntervalMs: interval, maxMessagesPerRun: 60 }],
    });

    // 1. 150 reports with a worker: more than two runs' worth, so the DLQ continues as new while they arrive
    const first = await s.run(async () => {
      await send(handle, name, 0, 150);
      const exact = await eventually('exact stats of 150', () => dlq.stats(), (st) => st.received === 150);
      const published = await eventually('published stats of 150', () => dlq.statsSnapshot(), (p) => p?.received === 150);
      assert.ok(published);
      assert.deepEqual(counts(published), counts(exact));
      assert.equal(published.total, 150);
      assert.ok(published.run >= 2, `published by run ${published.run}: the DLQ continued as new`);
      assert.ok(published.asOf <= published.publishedAt);
      assert.equal(published.shardsReporting, 0);
      return published;
    });

    // 2. no worker: the exact query has nobody to answer it, the published stats are read from the server alone
    await send(handle, name, 150, 190);
    const stale = await dlq.statsSnapshot();
    assert.ok(stale);
    assert.equal(stale.received, 150, 'the last published counts, as of their asOf');
    assert.ok(stale.publishedAt >= first.publishedAt);
    const fast = await dlq.statsFast({ top: 3 });
    assert.equal(fast.source, 'snapshot');
    assert.equal(fast.received, 150);
    assert.equal(fast.bySitekey.length, 3);

    // 3. the worker back: the 40 reports taken meanwhile are published, equal to the exact stats
    await s.run(async () => {
      const exact = await eventually('exact stats of 190', () => dlq.stats(), (st) => st.received === 190);
      const published = await eventually('published stats of 190', () => dlq.statsSnapshot(), (p) => p?.received === 190);
      assert.ok(published);
      assert.deepEqual(counts(published), counts(exact));
      assert.equal(published.total, 190);
    });

    // 4. history cost: publications in each run are at least `interval` of workflow time apart
    let runId: string | undefined = handle.firstExecutionRunId;
    let runs = 0;
    let publications = 0;
    while (runId) {
      const history: temporal.api.history.v1.IHistory = await s.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
      const events = history.events ?? [];
      const times = events.map((e) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6));
      const modified = events.filter((e) => e.workflowPropertiesModifiedEventAttributes);
      assert.ok(modified.every((e) => Object.keys(e.workflowPropertiesModifiedEventAttributes!.upsertedMemo?.fields ?? {}).join() === DLQ_STATS_MEMO_KEY));
      const span = times[times.length - 1]! - times[0]!;
      assert.ok(modified.length <= Math.floor(span / interval) + 1, `run ${runs + 1}: ${modified.length} publications in ${span} ms`);
      publications += modified.length;
      runs++;
      runId = events[events.length - 1]!.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    assert.ok(runs >= 2, `${runs} runs`);
    assert.ok(publications >= runs - 1, `${publications} publications in ${runs} runs: one at least in each run that took reports`);
  } finally {
    await s.close();
  }
});

test('with the default settings the published stats catch up with the exact stats; no DLQ is refused as by the query', async () => {
  const name = 'dlq-snapshot-query';
  const s: Stack = await startStack(env, { name });
  try {
    const handle = await s.client.workflow.start<typeof deadLetterQueueWorkflow>(WORKFLOW_TYPES.dlq, {
      workflowId: s.config.dlqWorkflowId,
      taskQueue: s.taskQueue,
      args: [{}],
    });
    await s.run(async () => {
      await send(handle, name, 0, 10);
      const exact = await eventually('exact stats of 10', () => handle.query(dlqStatsQuery, {}), (st) => st.received === 10);
      const published = await eventually('published stats of 10', () => s.solver.dlq().statsSnapshot(), (p) => p?.received === 10);
      assert.ok(published);
      assert.deepEqual(counts(published), counts(exact));
      // a worker that answers within the wait: the exact answer
      const answered = await s.solver.dlq().statsFast({}, { waitMs: 60_000 });
      assert.equal(answered.source, 'query');
      const { source: _source, ...answer } = answered;
      assert.deepEqual(counts(answer as DlqStats), counts(exact));
    });
    // no DLQ under the id: the same refusal as the query's
    const missing = new CaptchaSolver(s.client, { ...s.config, dlqWorkflowId: `${name}-missing` });
    await assert.rejects(missing.dlq().statsSnapshot(), WorkflowNotFoundError);
  } finally {
    await s.close();
  }
});
