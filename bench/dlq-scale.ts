// Measurement 5: N final failures ingested by the DLQ through its deadLetter signal, sent exactly as the report
// activity sends them (signal-with-start, routed to a shard by entry id). Measures the send rate, the time until the
// front's stats are exact, the stats query latency (while ingesting and at rest), and the largest run history of every
// DLQ workflow (front and shards, every continue-as-new run). Entries are spread so that a shard holds ~600 (each
// run carries its entries through continue-as-new, and workflows/dlq budgets ~800 per workflow).
import { WorkflowIdConflictPolicy, type WorkflowHandle } from '@temporalio/client';
import { routeDeadLetter } from '../activities/dlq';
import { deadLetterSignal, dlqStatsQuery, type DlqStats } from '../workflows/messages';
import { WORKFLOW_TYPES } from '../src/domain/names';
import type { DeadLetterReport, FailureClass } from '../src/domain/types';
import { percentile, round, runLengths } from './histories';
import { figure, type MeasurementResult } from './report';
import { NO_WAIT_POLICY, benchEnv, sleep, spawnWorker, startBenchSimulator, withTimeout, type BenchContext, type ChildWorker } from './stack';

export const ENTRIES_PER_SHARD = 600;
const SEND_PARALLELISM = 64;
const QUERIES_AT_REST = 200;

/** A realistic mix of final failures: code, its class, and its share. */
const FAILURES: [code: string, failureClass: FailureClass, share: number][] = [
  ['ERROR_CAPTCHA_UNSOLVABLE', 'resubmit', 0.5],
  ['POLL_DEADLINE', 'timeout', 0.2],
  ['ERROR_NO_SLOT_AVAILABLE', 'transient', 0.15],
  ['ERROR_PAGEURL', 'permanent', 0.1],
  ['HTTP_503', 'transient', 0.05],
];

function failureOf(i: number): [string, FailureClass] {
  let x = (i % 100) / 100;
  for (const [code, failureClass, share] of FAILURES) {
    if (x < share) return [code, failureClass];
    x -= share;
  }
  return [FAILURES[0]![0], FAILURES[0]![1]];
}

/** What solve.ts reports after three unsolvable rounds, ~1 KB of JSON. */
export function report(prefix: string, i: number): DeadLetterReport {
  const [code, failureClass] = failureOf(i);
  const key = `task-${String(i).padStart(6, '0')}`;
  const failedAt = new Date().toISOString();
  return {
    entryId: `${prefix}/${key}`,
    task: { type: 'recaptcha-v2', sitekey: `6Le-SITEKEY-${i % 20}`, pageUrl: `https://shop.example.com/checkout?cart=${100_000 + i}`, key },
    taskKey: key,
    batchId: prefix,
    provider: 'captchaai',
    failureClass,
    code,
    message: `captchaai poll ${71_823_460 + i}: ${code}`,
    attempts: 3,
    paidSubmits: 3,
    providerTaskIds: [0, 1, 2].map((r) => String(71_823_460 + i * 10 + r)),
    history: [1, 2, 3].map((round) => ({ round, providerTaskId: String(71_823_460 + i * 10 + round - 1), failureClass, code, message: code, at: failedAt })),
    failedAt,
  };
}

export async function measureDlqScale(ctx: BenchContext, n: number): Promise<MeasurementResult> {
  const { stack } = ctx;
  const shardCount = Math.max(1, Math.ceil(n / ENTRIES_PER_SHARD));
  const sim = await startBenchSimulator(); // the worker needs a provider; the DLQ never calls it
  const taskQueue = `bench-dlq-${n}`;
  const front = `bench-dlq-${n}`;
  let worker: ChildWorker | undefined;
  try {
    // the worker in a process of its own: its memory is its own, and if it dies the bench reports it and goes on
    const w = (worker = await spawnWorker(stack, benchEnv(stack, taskQueue, sim, NO_WAIT_POLICY, { DLQ_WORKFLOW_ID: front })));
    // once the worker is gone, the loops below stop too (watch() has already failed the measurement)
    const alive = () => w.process.exitCode === null && w.process.signalCode === null;
    return await w.watch((async (): Promise<MeasurementResult> => {
      const handle = stack.client.workflow.getHandle(front);
      await stack.client.workflow.start(WORKFLOW_TYPES.dlq, { workflowId: front, taskQueue, args: [{ shardCount }] });
      const expected: Record<string, number> = {};
      // a query that fails (the server gives up when no worker answers in time) counts with the time it took
      const busy: Timed[] = [];
      let sending = true;
      // stats queries while the reports arrive, one at a time
      const querying = (async () => {
        while (sending && alive()) {
          busy.push(await timedStats(handle));
          await sleep(50);
        }
      })();

      const started = performance.now();
      let next = 0;
      const lane = async () => {
        while (next < n && alive()) {
          const i = next++;
          const r = report(front, i);
          expected[r.code] = (expected[r.code] ?? 0) + 1;
          const target = routeDeadLetter(front, { shardCount }, r.entryId);
          await stack.client.workflow.signalWithStart(WORKFLOW_TYPES.dlq, {
            workflowId: target.workflowId,
            taskQueue,
            args: [target.args],
            signal: deadLetterSignal,
            signalArgs: [r],
            workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          });
          if ((i + 1) % 10_000 === 0) ctx.log(`  ${i + 1} of ${n} sent`);
        }
      };
      await Promise.all(Array.from({ length: SEND_PARALLELISM }, lane));
      const sentMs = performance.now() - started;
      sending = false;
      await querying;

      // the front's stats are exact once every shard's snapshot has landed
      const converged = await withTimeout(
        (async () => {
          for (;;) {
            if (!alive()) return new Promise<never>(() => undefined); // watch() reports the dead worker
            const { stats } = await timedStats(handle);
            if (stats?.total === n && stats.received === n) return stats;
            await sleep(100);
          }
        })(),
        Math.max(300_000, n * 5),
        `DLQ stats reaching ${n}`,
      );
      const exactMs = performance.now() - started;

      const rest: Timed[] = [];
      for (let i = 0; i < QUERIES_AT_REST; i++) rest.push(await timedStats(handle));
      const stats = [...rest].reverse().find((q) => q.stats)?.stats ?? converged;
      const restLatencies = rest.map((q) => q.ms);
      const busyLatencies = busy.map((q) => q.ms);
      const failed = { atRest: rest.filter((q) => q.error).length, whileIngesting: busy.filter((q) => q.error).length };
      const exact = stats.total === n && sameCounts(stats.byCode, expected);
      await sleep(1_000); // visibility catches up with the last continue-as-new
      const runs = await runLengths(stack.client, `WorkflowType = '${WORKFLOW_TYPES.dlq}'`);
      const ours = runs.filter((r) => r.workflowId === front || r.workflowId.startsWith(`${front}/`));
      const largest = ours[0];
      const p = (xs: number[], q: number) => round(percentile(xs, q), 1);
      const label = `${n.toLocaleString('en-US')} entries`;
      return {
        figures: [
          figure('5', `DLQ ingest, ${label}: send rate`, round(n / (sentMs / 1000), 0), 'signals/s', undefined, `${shardCount} DLQ workflows (front + shards), ${SEND_PARALLELISM} signals in flight`),
          figure('5', `DLQ ingest, ${label}: until stats exact`, round(exactMs / 1000, 1), 's', undefined, `${round(n / (exactMs / 1000), 0)} entries/s end to end`),
          figure('5', `DLQ ${label}: largest run history`, largest?.historyLength ?? null, 'events', { op: '<', value: 10_240 },
            `${ours.length} runs across ${new Set(ours.map((r) => r.workflowId)).size} workflows; largest: ${largest?.workflowId}`),
          figure('5', `DLQ ${label}: stats query p50 at rest`, p(restLatencies, 50), 'ms'),
          figure('5', `DLQ ${label}: stats query p95 at rest`, p(restLatencies, 95), 'ms', { op: '<', value: 100 }),
          figure('5', `DLQ ${label}: stats query p95 while ingesting`, p(busyLatencies, 95), 'ms', undefined,
            `p50 ${p(busyLatencies, 50)} ms over ${busyLatencies.length} queries, ${failed.whileIngesting} of them failed (no worker answered in time)`),
          figure('5', `DLQ ${label}: stats exact (total and byCode)`, exact ? 1 : 0, undefined, { op: '=', value: 1 }, `total ${stats.total} of ${n}`),
          figure('5', `DLQ ${label}: worker peak RSS`, round(w.peakRss / 2 ** 20, 0), 'MiB', undefined, 'the worker process alone, sampled every 200 ms'),
        ],
        details: {
          [`dlqScale${n}`]: {
            entries: n,
            shardCount,
            sentMs,
            exactMs,
            expectedByCode: expected,
            stats: { total: stats.total, received: stats.received, byCode: stats.byCode, byClass: stats.byClass, alerts: stats.alerts },
            queryMs: { atRest: summarize(restLatencies), whileIngesting: summarize(busyLatencies) },
            queriesFailed: failed,
            runs: ours.length,
            largestRuns: ours.slice(0, 5),
            workerPeakRssBytes: w.peakRss,
          },
        },
      };
    })());
  } finally {
    await worker?.stop();
    await sim.close();
  }
}

interface Timed {
  ms: number;
  stats?: DlqStats;
  error?: string;
}

async function timedStats(handle: WorkflowHandle): Promise<Timed> {
  const started = performance.now();
  try {
    const stats = await handle.query(dlqStatsQuery, {});
    return { ms: performance.now() - started, stats };
  } catch (err) {
    return { ms: performance.now() - started, error: err instanceof Error ? err.message : String(err) };
  }
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}

function summarize(xs: number[]) {
  return { n: xs.length, p50: round(percentile(xs, 50), 1), p95: round(percentile(xs, 95), 1), max: round(Math.max(...xs), 1) };
}
