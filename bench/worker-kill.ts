// Measurement 3 (crash): a worker SIGKILLed while every task is polling must not make anyone pay twice. The worker
// runs in a child process; once every solve child's poll activity is running, it is killed and another one started.
// The poll heartbeat carries the provider task id, so the retried poll resumes it; the simulator counts paid submits.
import { CaptchaSolver } from '../src/client';
import { loadConfig } from '../src/config';
import { figure, type MeasurementResult } from './report';
import { benchEnv, sleep, spawnWorker, startBenchSimulator, withTimeout, type BenchContext } from './stack';

/** Long enough that the kill lands mid-poll and the next worker finds the tasks still unsolved. */
const SOLVE_AFTER_MS = 4_000;

export async function measureWorkerKill(ctx: BenchContext): Promise<MeasurementResult> {
  const { stack, sizes } = ctx;
  const n = sizes.killTasks;
  const sim = await startBenchSimulator({ scenarios: { sitekeys: { '*': { outcome: { type: 'solve', afterMs: SOLVE_AFTER_MS } } } } });
  const env = benchEnv(stack, 'bench-worker-kill', sim, {
    SOLVE_POLL_FIRST_DELAY_MS: '200',
    SOLVE_POLL_INTERVAL_MS: '200',
    SOLVE_POLL_DEADLINE_MS: '30000',
  });
  const solver = new CaptchaSolver(stack.client, loadConfig(env));
  let worker = await spawnWorker(stack, env);
  try {
    const tasks = Array.from({ length: n }, (_, i) => ({ type: 'recaptcha-v2', sitekey: '6Le-SITEKEY', pageUrl: `https://example.com/page/${i}`, key: `k${i}` }));
    const { batchId, handle } = await solver.startBatch({ batchId: 'bench-worker-kill', tasks, concurrency: n });
    const childIds = tasks.map((t) => `${batchId}/${t.key}`);
    await withTimeout(allPolling(ctx, childIds), 60_000, 'waiting for every task to poll');
    await sleep(300); // at least one poll of each task reaches the simulator
    const pollsBeforeKill = sim.stats().requests['res.php'];
    await worker.kill();
    const killedAt = performance.now();
    worker = await spawnWorker(stack, env);
    const summary = await withTimeout(handle.result(), 120_000, 'the batch after the kill');
    const recoveryMs = performance.now() - killedAt;
    const stats = sim.stats();
    const duplicates = stats.paidSubmits - n;
    return {
      figures: [
        figure('3', `duplicate paid submits, worker SIGKILLed mid-poll (${n} tasks)`, duplicates, undefined, { op: '=', value: 0 },
          `${summary.solved}/${n} solved, ${stats.paidSubmits} paid submits; the next worker finished the batch ${Math.round(recoveryMs / 100) / 10} s after the kill`),
      ],
      details: { workerKill: { tasks: n, summary, paidSubmits: stats.paidSubmits, pollsBeforeKill, pollsTotal: stats.requests['res.php'], recoveryMs } },
    };
  } finally {
    await worker.stop();
    await sim.close();
  }
}

/** Resolves once every child's poll activity has started (as the server sees it). */
async function allPolling(ctx: BenchContext, childIds: string[]): Promise<void> {
  for (;;) {
    const states = await Promise.all(
      childIds.map(async (id) => {
        const d = await ctx.stack.client.workflow.getHandle(id).describe().catch(() => undefined);
        const pending = d?.raw.pendingActivities ?? [];
        return pending.some((a) => a.activityType?.name === 'pollCaptcha' && a.lastStartedTime);
      }),
    );
    if (states.every(Boolean)) return;
    await sleep(100);
  }
}
