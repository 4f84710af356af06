// Measurement 6: one big batch from a file (the way large batches travel), instant solves, the worker in a process of
// its own so its memory is its own: wall time, the largest history among the batch's continue-as-new runs, and the
// worker's peak RSS (sampled every 200 ms by bench/worker-process.ts).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaptchaSolver } from '../src/client';
import { loadConfig } from '../src/config';
import { round, runLengths } from './histories';
import { figure, type MeasurementResult } from './report';
import { NO_WAIT_POLICY, benchEnv, sleep, spawnWorker, startBenchSimulator, withTimeout, type BenchContext } from './stack';

export async function measureBatchScale(ctx: BenchContext): Promise<MeasurementResult> {
  const { stack, sizes } = ctx;
  const n = sizes.batchTasks;
  const sim = await startBenchSimulator({ scenarios: { sitekeys: { '*': { outcome: { type: 'solve', afterMs: 0 } } } } });
  const env = benchEnv(stack, `bench-batch-${n}`, sim, NO_WAIT_POLICY);
  const file = join(stack.tmpDir, `batch-${n}.ndjson`);
  await writeFile(
    file,
    Array.from({ length: n }, (_, i) => JSON.stringify({ type: 'recaptcha-v2', sitekey: '6Le-SITEKEY', pageUrl: `https://example.com/page/${i}`, key: `b${i}` })).join('\n'),
  );
  const worker = await spawnWorker(stack, env);
  try {
    const solver = new CaptchaSolver(stack.client, loadConfig(env));
    const started = performance.now();
    const { batchId, handle } = await solver.startBatch({ batchId: `bench-batch-${n}`, file, concurrency: sizes.concurrency, policy: NO_WAIT_POLICY });
    let lastLog = started;
    const progress = setInterval(() => {
      if (performance.now() - lastLog < 30_000) return;
      lastLog = performance.now();
      handle.query<{ solved: number }>('progress').then((p) => ctx.log(`  ${p.solved} of ${n} solved`), () => undefined);
    }, 1_000);
    const summary = await worker.watch(withTimeout(handle.result(), Math.max(300_000, n * 200), `batch of ${n}`)).finally(() => clearInterval(progress));
    const wallMs = performance.now() - started;
    await sleep(1_000); // visibility catches up with the last run
    const runs = await runLengths(stack.client, `WorkflowId = '${batchId}'`);
    const largest = runs[0];
    return {
      figures: [
        figure('6', `batch of ${n.toLocaleString('en-US')}: wall time`, round(wallMs / 1000, 1), 's', undefined,
          `${summary.solved} solved, ${summary.deadLettered} dead-lettered, ${round(summary.solved / (wallMs / 1000), 1)} solves/s, ${sizes.concurrency} in flight`),
        figure('6', `batch of ${n.toLocaleString('en-US')}: largest run history`, largest?.historyLength ?? null, 'events', { op: '<', value: 10_240 },
          `${runs.length} runs (continue-as-new), lengths ${runs.map((r) => r.historyLength).join(', ')}`),
        figure('6', `batch of ${n.toLocaleString('en-US')}: worker peak RSS`, round(worker.peakRss / 2 ** 20, 0), 'MiB', undefined, 'the worker process alone, sampled every 200 ms'),
      ],
      details: { batchScale: { tasks: n, wallMs, summary, runs, workerPeakRssBytes: worker.peakRss, simulator: { paidSubmits: sim.stats().paidSubmits } } },
    };
  } finally {
    await worker.stop();
    await sim.close();
  }
}
