// Measurement 3 (crash): a worker SIGKILLed while every task is polling must not make anyone pay twice. The worker
// runs in a child process; once every solve child's poll activity is running, it is killed and another one started.
// The poll heartbeat carries the provider task id, so the retried poll resumes it; the simulator counts paid submits.
import { CaptchaSolver } from '../src/client';
import { loadConfig } from '../src/config';
import { resolveSolvePolicy } from '../src/domain/policies';
import { costFigures, costOf } from './cost';
import { figure, type MeasurementResult } from './report';
import { benchEnv, sleep, spawnWorker, startBenchSimulator, withTimeout, type BenchContext } from './stack';

/** Long enough that the kill lands mid-poll, and the next worker finds the tasks still unsolved, even on a busy machine. */
const SOLVE_AFTER_MS = 15_000;

export async function measureWorkerKill(ctx: BenchContext): Promise<MeasurementResult> {
  const { stack, sizes } = ctx;
  const n = sizes.killTasks;
  const sim = await startBenchSimulator({ scenarios: { sitekeys: { '*': { outcome: { type: 'solve', afterMs: SOLVE_AFTER_MS } } } } });
  const policy = resolveSolvePolicy({ poll: { firstDelayMs: 200, intervalMs: 200, deadlineMs: 60_000 } });
  const env = benchEnv(stack, 'bench-worker-kill', sim, policy);
  const solver = new CaptchaSolver(stack.client, loadConfig(env));
  let worker = await spawnWorker(stack, env);
  try {
    const tasks = Array.from({ length: n }, (_, i) => ({ type: 'recaptcha-v2', sitekey: '6Le-SITEKEY', pageUrl: `https://example.com/page/${i}`, key: `k${i}` }));
    const { batchId, handle } = await solver.startBatch({ batchId: 'bench-worker-kill', tasks, concurrency: n, policy });
    const childIds = tasks.map((t) => `${batchId}/${t.key}`);
    await withTimeout(allPolling(ctx, childIds), 180_000, 'waiting for every task to poll');
    // at least as many polls as tasks have reached the simulator
    await withTimeout(waitFor(() => sim.stats().requests['res.php'] >= n), 60_000, 'waiting for the first polls');
    const pollsBeforeKill = sim.stats().requests['res.php'];
    const unsolvedAtKill = sim.stats().activeTasks;
    await worker.kill();
    const killedAt = performance.now();
    worker = await spawnWorker(stack, env);
    const summary = await worker.watch(withTimeout(handle.result(), 120_000, 'the batch after the kill'));
    const recoveryMs = performance.now() - killedAt;
    const stats = sim.stats();
    const duplicates = stats.paidSubmits - n;
    // a duplicate paid submit is money wasted: the task had been paid for once already
    const cost = costOf(stats, summary.solved, 'recaptcha-v2', 'captchaai');
    return {
      figures: [
        figure('3', `duplicate paid submits, worker SIGKILLed mid-poll (${n} tasks)`, duplicates, undefined, { op: '=', value: 0 },
          `${unsolvedAtKill} of ${n} tasks polling at the kill; ${summary.solved}/${n} solved, ${stats.paidSubmits} paid submits; ` +
            `the next worker finished the batch ${Math.round(recoveryMs / 100) / 10} s after the kill`),
        ...costFigures('3', `worker SIGKILLed mid-poll (${n} tasks)`, cost),
      ],
      details: {
        workerKill: {
          tasks: n,
          unsolvedAtKill,
          summary,
          paidSubmits: stats.paidSubmits,
          // the simulator's ledger against what the product reported (a kill mid-submit can cost one per task)
          duplicatePaidSubmits: stats.duplicatePaidSubmits,
          possibleDuplicateSubmits: summary.possibleDuplicateSubmits ?? 0,
          pollsBeforeKill,
          pollsTotal: stats.requests['res.php'],
          recoveryMs,
          cost,
        },
      },
    };
  } finally {
    await worker.stop();
    await sim.close();
  }
}

async function waitFor(done: () => boolean): Promise<void> {
  while (!done()) await sleep(50);
}

/** Resolves once every child's poll activity has been scheduled (as the server sees it), i.e. every task is paid for. */
async function allPolling(ctx: BenchContext, childIds: string[]): Promise<void> {
  for (;;) {
    const states = await Promise.all(
      childIds.map(async (id) => {
        const d = await ctx.stack.client.workflow.getHandle(id).describe().catch(() => undefined);
        const pending = d?.raw.pendingActivities ?? [];
        return pending.some((a) => a.activityType?.name === 'pollCaptcha');
      }),
    );
    if (states.every(Boolean)) return;
    await sleep(100);
  }
}
