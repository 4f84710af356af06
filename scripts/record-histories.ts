// `node --import tsx scripts/record-histories.ts`: runs a few workflows of the current code on a local dev server and
// saves their histories under test/fixtures/histories/, for test/replay.test.ts (a change to workflow code that is not
// behind `patched()` fails to replay them). Recorded:
//   dlq-shards-*   a DLQ of 3 shards: reports to every shard, a retry order forwarded to the shards, continue-as-new
//   batch-can-*    a batch that continues as new (children per run capped), and one of its solve children
// Histories of older code must stay: record new ones under a tag (`… record-histories.ts v2` writes `v2-*.json`); only
// the files of that same tag are replaced. Untagged: recorded before the local first submit; v2: with it.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';

import { routeDeadLetter } from '../activities/dlq';
import { deadLetterSignal, dlqRetryUpdate, dlqStatsQuery, type DlqStats } from '../workflows/messages';
import { WORKFLOW_TYPES } from '../src/domain/names';
import type { DeadLetterReport } from '../src/domain/types';
import { historyToJson } from '../test/helpers/histories';
import { startStack } from '../test/helpers/stack';
import { startTestEnv } from '../test/helpers/temporal';

const OUT = join(__dirname, '..', 'test', 'fixtures', 'histories');
const TAG = process.argv[2] ? `${process.argv[2]}-` : '';
const SITE_FAIL = '6LfD3PIbAAAAAJs_eEHvoOl75_83eXSqpPSRFJ_u';

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (ok(v)) return v;
    } catch {
      // not there yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function report(i: number, sitekey: string): DeadLetterReport {
  const key = `task-${String(i).padStart(4, '0')}`;
  const at = new Date(Date.UTC(2024, 5, 1, i % 24)).toISOString();
  return {
    entryId: `rec/b1/${key}`,
    task: { type: 'recaptcha-v2', sitekey, pageUrl: `https://shop.example.com/p/${i}`, key },
    taskKey: key,
    batchId: 'b1',
    provider: 'captchaai',
    failureClass: 'resubmit',
    code: sitekey === SITE_FAIL ? 'ERROR_CAPTCHA_UNSOLVABLE' : 'ERROR_NO_SLOT_AVAILABLE',
    message: 'recorded failure',
    attempts: 1,
    paidSubmits: 1,
    providerTaskIds: [String(1000 + i)],
    history: [{ round: 1, providerTaskId: String(1000 + i), failureClass: 'resubmit', code: 'ERROR_CAPTCHA_UNSOLVABLE', message: 'x', at }],
    failedAt: at,
  };
}

/** Saves every run of a workflow id, oldest first, as `<name>-<n>.json`. */
async function save(client: Client, workflowId: string, name: string): Promise<number> {
  const runs: { runId: string; start: number }[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push({ runId: w.runId, start: w.startTime.getTime() });
  runs.sort((a, b) => a.start - b.start);
  for (const [i, r] of runs.entries()) {
    const history = await client.workflow.getHandle(workflowId, r.runId).fetchHistory();
    writeFileSync(join(OUT, `${TAG}${name}-${i + 1}.json`), historyToJson(history, workflowId));
  }
  return runs.length;
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const ours = (f: string) => f.endsWith('.json') && (TAG ? f.startsWith(TAG) : /^(dlq|batch)-/.test(f));
  for (const f of readdirSync(OUT)) if (ours(f)) rmSync(join(OUT, f));
  const env = await startTestEnv({ dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 150 } });
  try {
    // (a) a DLQ of 3 shards
    const dlqStack = await startStack(env, {
      name: 'rec-dlq',
      simulator: { scenarios: { sitekeys: { [SITE_FAIL]: { outcome: { type: 'unsolvable', afterMs: 5 } } } } },
      env: { SOLVE_MAX_RESUBMITS: '0' },
    });
    try {
      await dlqStack.run(async () => {
        const s = dlqStack;
        const front = s.config.dlqWorkflowId;
        const settings = { shardCount: 3, snapshotIntervalMs: 100, maxMessagesPerRun: 10, solvePolicy: s.config.solvePolicy };
        const dlq = await s.client.workflow.start(WORKFLOW_TYPES.dlq, { workflowId: front, taskQueue: s.taskQueue, args: [settings] });
        const reports = Array.from({ length: 12 }, (_, i) => report(i, i % 3 === 0 ? SITE_FAIL : '6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI'));
        for (const r of reports) {
          const target = routeDeadLetter(front, settings, r.entryId);
          await s.client.workflow.signalWithStart(WORKFLOW_TYPES.dlq, {
            workflowId: target.workflowId,
            taskQueue: s.taskQueue,
            args: [target.args],
            signal: deadLetterSignal,
            signalArgs: [r],
          });
        }
        await until('12 entries', () => dlq.query(dlqStatsQuery, {}), (x: DlqStats) => x.total === 12 && (x.shards?.length ?? 0) === 2);
        const retried = await dlq.executeUpdate(dlqRetryUpdate, { args: [{ all: true, reason: 'recorded retry', requestId: 'rec-retry' }] });
        assert.equal(retried.matched, 12);
        await until('retries reported', () => dlq.query(dlqStatsQuery, {}), (x: DlqStats) => x.retriesInFlight === 0 && x.retriesQueued === 0 && x.recovered === 8, 120_000);
        for (let i = 0; i < 10; i++) await dlq.signal(deadLetterSignal, report(100 + i, SITE_FAIL));
        await until('continued as new', () => dlq.describe(), (d) => d.runId !== dlq.firstExecutionRunId);
        await until('22 received', () => dlq.query(dlqStatsQuery, {}), (x: DlqStats) => x.received === 22);
        await dlq.terminate('recorded');
        for (let i = 1; i < 3; i++) await s.client.workflow.getHandle(`${front}/shard-${i}`).terminate('recorded').catch(() => undefined);
        const n = await save(s.client, front, 'dlq-shards-front');
        assert.ok(n >= 2, `the front ran ${n} runs: no continue-as-new recorded`);
        for (let i = 1; i < 3; i++) await save(s.client, `${front}/shard-${i}`, `dlq-shards-shard${i}`);
      });
    } finally {
      await dlqStack.close();
    }

    // (b) a batch that continues as new
    const batchStack = await startStack(env, { name: 'rec-batch', simulator: { timeScale: 0.004 } });
    try {
      await batchStack.run(async () => {
        const tasks = Array.from({ length: 12 }, (_, i) => ({ type: 'recaptcha-v2' as const, sitekey: '6Le-SITEKEY-rec', pageUrl: `https://example.com/p/${i}`, key: `t${i}` }));
        const { handle, batchId } = await batchStack.solver.startBatch({ tasks, concurrency: 4, tuning: { maxChildrenPerRun: 5 } });
        const summary = await handle.result();
        assert.ok(summary.runs >= 2, `the batch ran ${summary.runs} runs`);
        await save(batchStack.client, batchId, 'batch-can');
        await save(batchStack.client, `${batchId}/t0`, 'batch-can-child');
      });
    } finally {
      await batchStack.close();
    }
  } finally {
    await env.teardown();
  }
  for (const f of readdirSync(OUT).sort()) console.log(f);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
