// Measurement 7: provider calls per solved captcha at a realistic solve-time distribution — reCAPTCHA v2 solves of
// 15–60 s (median 30 s) scaled ×0.1, with the product's default poll policy scaled the same — at 100 in flight, side
// by side: one request per poll (the first poll timed to the type), polls coalesced into `action=get&ids=` rounds, and
// callback mode (the simulator pushes each result to the receiver in our worker; polls only after a lost push).
import { CaptchaSolver } from '../src/client';
import { DEFAULT_SOLVE_POLICY, resolveSolvePolicy } from '../src/domain/policies';
import type { SolvePolicy } from '../src/domain/types';
import type { SimulatorStats } from '../src/simulator/stats';
import { figure, type MeasurementResult } from './report';
import { callbackEnv, withOurWorker } from './peer';
import { benchEnv, startBenchSimulator, withTimeout, type BenchContext } from './stack';

const SCALE = 0.1;
const TASKS = { smoke: 20, quick: 200, full: 400 } as const;

/** The default policy, every wait ×0.1. */
export function scaledPolicy(scale = SCALE): SolvePolicy {
  const p = DEFAULT_SOLVE_POLICY.poll;
  return resolveSolvePolicy({
    submit: { initialIntervalMs: Math.round(DEFAULT_SOLVE_POLICY.submit.initialIntervalMs * scale) },
    poll: {
      firstDelayMs: Math.round(p.firstDelayMs * scale),
      intervalMs: Math.round(p.intervalMs * scale),
      deadlineMs: Math.round(p.deadlineMs * scale),
      retryIntervalMs: Math.round(p.retryIntervalMs * scale),
    },
  });
}

interface Run {
  label: string;
  solved: number;
  deadLettered: number;
  wallMs: number;
  stats: SimulatorStats;
}

/** callback mode on the section's clock: the push awaited for reCAPTCHA's expected 60 s and a 10 s grace, both ×0.1 */
const CALLBACK = { expectedSolveScale: SCALE, graceMs: Math.round(10_000 * SCALE) };

async function runOnce(ctx: BenchContext, label: string, coalesceMs: number, tasks: number, callback = false): Promise<Run> {
  const { stack } = ctx;
  const policy = callback ? resolveSolvePolicy(scaledPolicy(), { callback: CALLBACK }) : scaledPolicy();
  const batchId = `bench-poll-calls-${label}`;
  const sim = await startBenchSimulator({ provider: '2captcha', timeScale: SCALE, seed: 15 });
  try {
    const env = benchEnv(stack, `q-${batchId}`, sim, policy, {
      CAPTCHA_PROVIDER: '2captcha',
      CAPTCHA_POLL_COALESCE_MS: String(coalesceMs),
      ...(callback && (await callbackEnv(CALLBACK))),
    });
    return await withOurWorker(stack, env, async (config) => {
      const solver = new CaptchaSolver(stack.client, config);
      const list = Array.from({ length: tasks }, (_, i) => ({ type: 'recaptcha-v2', sitekey: `sk-poll-calls-${i}`, pageUrl: `https://example.com/poll-calls/${i}`, key: `t${i}` }));
      const started = performance.now();
      const { handle } = await solver.startBatch({ batchId, tasks: list, concurrency: ctx.sizes.concurrency, policy });
      const summary = await withTimeout(handle.result(), 600_000, `batch ${batchId}`);
      return { label, solved: summary.solved, deadLettered: summary.deadLettered, wallMs: performance.now() - started, stats: sim.stats() };
    });
  } finally {
    await sim.close();
  }
}

const calls = (s: SimulatorStats) => s.requests['in.php'] + s.requests['res.php'];
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function measurePollCalls(ctx: BenchContext): Promise<MeasurementResult> {
  const tasks = TASKS[ctx.mode];
  const inFlight = ctx.sizes.concurrency;
  const single = await runOnce(ctx, 'single', 0, tasks);
  ctx.log(`  one request per poll: ${single.solved} solved in ${round(single.wallMs / 1000, 1)} s`);
  // the product's 100-ms coalescing window, unscaled: a round leaves once every task slotted into it has polled, so
  // the window is a cap on the wait (for a task that does not come), and it must absorb timer jitter, which does not
  // scale with the solve times
  const coalesced = await runOnce(ctx, 'coalesced', 100, tasks);
  ctx.log(`  coalesced: ${coalesced.solved} solved in ${round(coalesced.wallMs / 1000, 1)} s`);
  const pushed = await runOnce(ctx, 'callback', 100, tasks, true);
  ctx.log(`  callback: ${pushed.solved} solved in ${round(pushed.wallMs / 1000, 1)} s`);
  const perSolve = (r: Run) => round(calls(r.stats) / Math.max(1, r.solved));
  const describe = (r: Run) =>
    `${r.solved}/${tasks} solved, ${r.deadLettered} dead-lettered in ${round(r.wallMs / 1000, 1)} s; res.php get ${r.stats.resActions.get ?? 0}, get-multi ${r.stats.resActions['get-multi'] ?? 0}, in.php ${r.stats.requests['in.php']}`;
  return {
    figures: [
      figure('8', `provider calls per solve, one request per poll (reCAPTCHA 15–60 s ×${SCALE}, ${inFlight} in flight)`, perSolve(single), undefined, undefined, `first poll timed to the type; ${describe(single)}`),
      figure('8', `provider calls per solve, polls coalesced (reCAPTCHA 15–60 s ×${SCALE}, ${inFlight} in flight)`, perSolve(coalesced), undefined, { op: '<=', value: 1.5 }, describe(coalesced)),
      figure('8', 'wall-time ratio coalesced / one request per poll', round(coalesced.wallMs / single.wallMs), '×', undefined, 'coalescing must not slow the batch'),
      figure('8', `provider calls per solve, callback mode (reCAPTCHA 15–60 s ×${SCALE}, ${inFlight} in flight)`, perSolve(pushed), undefined, { op: '<=', value: 1.1 },
        `${describe(pushed)}; pushes ${pushed.stats.callbacks?.delivered ?? '?'} delivered; the pingback address registered once (res.php add_pingback)`),
    ],
    details: { pollCalls: { tasks, inFlight, scale: SCALE, single: summarize(single), coalesced: summarize(coalesced), callback: summarize(pushed) } },
  };
}

function summarize(r: Run) {
  return { solved: r.solved, deadLettered: r.deadLettered, wallMs: Math.round(r.wallMs), calls: calls(r.stats), resActions: r.stats.resActions, paidSubmits: r.stats.paidSubmits };
}
