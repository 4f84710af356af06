// Measurement 1: solved captchas per second through the whole pipeline (batch → solve children → submit/poll
// activities → provider client → simulator answering at once), against the same server running the trivial shape
// (bench/trivial-workflows.ts: the same window of children, two no-op activities each). Rounds alternate the order
// of the two (ABBA), and the means are compared: the server slows as finished workflows pile up, so going first helps.
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { CaptchaSolver } from '../src/client';
import { loadConfig, type Config } from '../src/config';
import { costFigures, costOf, remoteLedger, type Cost } from './cost';
import { cpuMeter } from './cpu';
import { eventCount, historiesOfRuns, round } from './histories';
import { figure, type MeasurementResult } from './report';
import { NO_WAIT_POLICY, benchEnv, spawnSimulator, withTimeout, withWorker, type BenchContext, type RemoteSimulator } from './stack';
import { trivialActivities } from './trivial-activities';
import type { trivialBatchWorkflow } from './trivial-workflows';

/** Zero latency and instant solves, with a policy that does not wait: only the machinery is left to measure. */
const INSTANT = { scenarios: { sitekeys: { '*': { outcome: { type: 'solve' as const, afterMs: 0 } } } } };

export async function measureThroughput(ctx: BenchContext): Promise<MeasurementResult> {
  const { sizes } = ctx;
  const n = sizes.throughputTasks;
  // in its own process, like a remote provider: the trivial shape's worker does not share its event loop with one
  const sim = await spawnSimulator(INSTANT);
  const pipelineRounds: number[] = [];
  const trivialRounds: number[] = [];
  // the parent is the one workflow every child goes through: its events per child say where the difference is
  const parentEvents = { pipeline: 0, trivial: 0 };
  let cost: Cost;
  try {
    for (let r = 1; r <= sizes.throughputRounds; r++) {
      // the server slows as finished workflows pile up in it, so whichever shape runs first in a round has the
      // edge: odd rounds run the trivial shape first, even rounds the pipeline (ABBA), and the means cancel the drift
      const trivialFirst = r % 2 === 1;
      let trivial: Round | undefined;
      if (trivialFirst) trivial = await runTrivial(ctx, `bench-trivial-${r}`);
      const pipeline = await runPipeline(ctx, sim, `bench-throughput-${r}`);
      trivial ??= await runTrivial(ctx, `bench-trivial-${r}`);
      trivialRounds.push(n / (trivial.ms / 1000));
      pipelineRounds.push(n / (pipeline.ms / 1000));
      parentEvents.trivial = trivial.parentEvents / n;
      parentEvents.pipeline = pipeline.parentEvents / n;
      ctx.log(`  round ${r} (${trivialFirst ? 'trivial first' : 'pipeline first'}): trivial ${round(trivialRounds.at(-1)!, 1)}/s, pipeline ${round(pipelineRounds.at(-1)!, 1)}/s`);
    }
    // every pipeline round solved every task (runPipeline throws otherwise) on this one simulator
    cost = costOf(await remoteLedger(sim.url), n * sizes.throughputRounds, 'recaptcha-v2', 'captchaai');
  } finally {
    await sim.close();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const pipeline = mean(pipelineRounds);
  const trivial = mean(trivialRounds);
  return {
    figures: [
      figure('1', `pipeline throughput (${n} tasks, ${sizes.concurrency} in flight)`, round(pipeline, 1), 'solves/s'),
      figure('1', 'trivial-shape throughput (same server)', round(trivial, 1), 'children/s'),
      figure('1', 'throughput ratio pipeline / trivial', round(pipeline / trivial, 2), undefined, { op: '>=', value: 0.8 },
        `means of ${sizes.throughputRounds} rounds in ABBA order (trivial first, then pipeline first, …); every round's ratio: ${pipelineRounds.map((p, i) => round(p / trivialRounds[i]!, 2)).join(', ')}; ` +
          `parent events per child: pipeline ${round(parentEvents.pipeline, 2)}, trivial ${round(parentEvents.trivial, 2)}`),
      ...costFigures('1', `pipeline (${n * sizes.throughputRounds} solves)`, cost),
    ],
    details: { throughput: { tasks: n, concurrency: sizes.concurrency, pipelinePerSecond: pipelineRounds, trivialPerSecond: trivialRounds, parentEventsPerChild: parentEvents, cost } },
  };
}

export interface Round {
  ms: number;
  /** CPU of the dev server and of this process (the in-process worker and the driver) during the batch */
  cpu: { serverMs: number; workerMs: number };
  /** history events of the parent, all runs */
  parentEvents: number;
}

/** Wall time of one batch through the product, with a worker of its own. */
export async function runPipeline(ctx: BenchContext, sim: RemoteSimulator, batchId: string): Promise<Round> {
  return withWorker(ctx.stack, benchEnv(ctx.stack, `q-${batchId}`, sim, NO_WAIT_POLICY), (config) => pipelineBatch(ctx, config, batchId));
}

/** One batch through the product, on a worker already running with `config` (its task queue). */
export async function pipelineBatch(ctx: BenchContext, config: Readonly<Config>, batchId: string): Promise<Round> {
  const { stack, sizes } = ctx;
  const solver = new CaptchaSolver(stack.client, config);
  const tasks = Array.from({ length: sizes.throughputTasks }, (_, i) => ({
    type: 'recaptcha-v2',
    sitekey: '6Le-SITEKEY',
    pageUrl: `https://example.com/page/${i}`,
    key: `t${i}`,
  }));
  const meter = cpuMeter(stack.server.pid);
  const started = performance.now();
  const { handle } = await solver.startBatch({ batchId, tasks, concurrency: sizes.concurrency, policy: NO_WAIT_POLICY });
  const summary = await withTimeout(handle.result(), 600_000, `pipeline batch ${batchId}`);
  const ms = performance.now() - started;
  const cpu = meter.stop();
  if (summary.solved !== tasks.length) throw new Error(`pipeline batch ${batchId}: ${summary.solved} of ${tasks.length} solved`);
  const runs = await historiesOfRuns(stack.client, batchId, summary.runs);
  return { ms, cpu, parentEvents: runs.reduce((sum, h) => sum + eventCount(h), 0) };
}

/** A worker for the trivial shape, with the product worker's concurrency settings. */
export function trivialWorker(ctx: BenchContext, taskQueue: string, options: Partial<WorkerOptions> = {}): Promise<Worker> {
  const defaults = loadConfig({}).worker;
  return Worker.create({
    connection: ctx.stack.connection,
    namespace: ctx.stack.server.namespace,
    taskQueue,
    workflowBundle: ctx.stack.trivialBundle,
    activities: trivialActivities,
    maxConcurrentActivityTaskExecutions: defaults.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: defaults.maxConcurrentWorkflowTasks,
    ...options,
  });
}

/** Wall time of the trivial shape, on a worker of its own. */
export async function runTrivial(ctx: BenchContext, workflowId: string): Promise<Round> {
  const taskQueue = `q-${workflowId}`;
  const worker = await trivialWorker(ctx, taskQueue);
  return worker.runUntil(trivialBatch(ctx, taskQueue, workflowId));
}

/** One trivial batch, on a worker already polling `taskQueue`. */
export async function trivialBatch(ctx: BenchContext, taskQueue: string, workflowId: string): Promise<Round> {
  const { stack, sizes } = ctx;
  const meter = cpuMeter(stack.server.pid);
  const started = performance.now();
  const done = await withTimeout(
    stack.client.workflow.execute<typeof trivialBatchWorkflow>('trivialBatchWorkflow', {
      workflowId,
      taskQueue,
      args: [{ children: sizes.throughputTasks, concurrency: sizes.concurrency }],
    }),
    600_000,
    `trivial batch ${workflowId}`,
  );
  const ms = performance.now() - started;
  const cpu = meter.stop();
  if (done !== sizes.throughputTasks) throw new Error(`trivial batch ${workflowId}: ${done} of ${sizes.throughputTasks} children`);
  const { historyLength } = await stack.client.workflow.getHandle(workflowId).describe();
  return { ms, cpu, parentEvents: historyLength };
}
