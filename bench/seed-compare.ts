// Measurements 2 and 3 (provider calls): the seed's sequential loop against our batch, each on its own simulator with
// the same options and one clock. Solves take 1–3 s (the scaled timings: the simulator's reCAPTCHA v2 times of
// 15–60 s, median 30 s, divided by 20, so 0.75–3 s, median 1.5 s); both clients keep their own timings, the seed's
// 5 s poll interval and 2^n s backoff and our default policy, measured in `secondMs` (1,000: unscaled, in quick and
// full mode; 50 in smoke mode).
// The seed runs in a child process (bench/seed-process.ts) while the bench goes on: it sleeps most of the time.
import { spawn } from 'node:child_process';
import { CaptchaSolver } from '../src/client';
import type { SimulatorOptions, SimulatorStats } from '../src/simulator/server';
import { resolveSolvePolicy } from '../src/domain/policies';
import type { SolvePolicy } from '../src/domain/types';
import { costFigures, costOf, costSentence } from './cost';
import { heartbeatRequests, round } from './histories';
import { figure, type MeasurementResult } from './report';
import type { SeedRunResult } from './seed-baseline';
import type { SeedSpec } from './seed-process';
import { BENCH_API_KEY, benchEnv, startBenchSimulator, withTimeout, withWorker, type BenchContext } from './stack';
import { costOfBatch, solveCostFigures } from './temporal-cost';

/** Solves 20 × faster than the provider's: 0.75–3 s. */
const SOLVE_SCALE = 1 / 20;

/** Same seed, same draws, on both simulators. */
function simulatorOptions(secondMs: number): SimulatorOptions {
  return { timeScale: SOLVE_SCALE * (secondMs / 1000), seed: 7 };
}

/** The product's default policy (workflows/policies.ts), on the bench's clock. */
function ourPolicy(secondMs: number): SolvePolicy {
  const d = resolveSolvePolicy({});
  const s = (ms: number) => Math.round((ms * secondMs) / 1000);
  return resolveSolvePolicy({
    submit: { initialIntervalMs: s(d.submit.initialIntervalMs), maxIntervalMs: s(d.submit.maxIntervalMs) },
    poll: { firstDelayMs: s(d.poll.firstDelayMs), intervalMs: s(d.poll.intervalMs), deadlineMs: s(d.poll.deadlineMs), retryIntervalMs: s(d.poll.retryIntervalMs) },
  });
}

export interface SeedOutcome {
  result: SeedRunResult;
  stats: SimulatorStats;
}

/** The seed's batch: the same URLs as the seed's example, `n` of them. */
function seedTasks(n: number) {
  return Array.from({ length: n }, (_, i) => ({ sitekey: '6Le-SITEKEY', pageUrl: `https://example.com/page/${i}` }));
}

/** Starts the seed's loop in a child process; the promise settles when it is done. */
export function startSeedBaseline(ctx: BenchContext): Promise<SeedOutcome> {
  const spec: SeedSpec = {
    tasks: seedTasks(ctx.sizes.seedTasks),
    simulator: simulatorOptions(ctx.sizes.seedSecondMs),
    seed: { apiKey: BENCH_API_KEY, timeUnitMs: ctx.sizes.seedSecondMs, maxRetries: 3 },
  };
  const child = spawn(process.execPath, ['--import', 'tsx', require.resolve('./seed-process.ts')], {
    env: { ...process.env, BENCH_SEED_SPEC: JSON.stringify(spec) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let outcome: SeedOutcome | undefined;
    child.on('message', (m) => (outcome = m as SeedOutcome));
    child.once('error', reject);
    child.once('exit', (code) => (outcome && code === 0 ? resolve(outcome) : reject(new Error(`the seed process exited with code ${code}`))));
  });
}

export interface OursLikeSeed {
  wallMs: number;
  solved: number;
  deadLettered: number;
  stats: SimulatorStats;
  heartbeats: number;
  batchId: string;
  childIds: string[];
  runs: number;
  /** wall time of every round */
  roundsMs?: number[];
}

/**
 * Our batch on the seed's tasks and clock: every task in flight at once. Two rounds, each on a fresh simulator with
 * the same draws; the faster one counts (the first runs on a cold worker, and a shared machine disturbs either).
 */
export async function runOursLikeSeed(ctx: BenchContext): Promise<{ ours: OursLikeSeed; cost: MeasurementResult }> {
  const rounds: OursLikeSeed[] = [];
  for (let r = 1; r <= SEED_COMPARE_ROUNDS; r++) {
    rounds.push(await runOursOnce(ctx, `bench-seed-compare-${r}`));
    ctx.log(`  round ${r}: our batch of ${ctx.sizes.seedTasks} in ${round(rounds.at(-1)!.wallMs / 1000, 2)} s`);
  }
  const ours = rounds.reduce((best, r) => (r.wallMs < best.wallMs ? r : best));
  ours.roundsMs = rounds.map((r) => r.wallMs);
  const cost = await costOfBatch(ctx.stack.client, ours.batchId, ours.childIds, ours.runs);
  return { ours, cost: solveCostFigures(cost, ours.heartbeats / Math.max(1, ours.solved)) };
}

const SEED_COMPARE_ROUNDS = 2;

async function runOursOnce(ctx: BenchContext, batchId: string): Promise<OursLikeSeed> {
  const { stack } = ctx;
  const policy = ourPolicy(ctx.sizes.seedSecondMs);
  const sim = await startBenchSimulator(simulatorOptions(ctx.sizes.seedSecondMs));
  try {
    return await withWorker(stack, benchEnv(stack, `q-${batchId}`, sim, policy), async (config) => {
      const solver = new CaptchaSolver(stack.client, config);
      const tasks = seedTasks(ctx.sizes.seedTasks).map((t, i) => ({ type: 'recaptcha-v2', sitekey: t.sitekey, pageUrl: t.pageUrl, key: `p${i}` }));
      const heartbeatsBefore = await heartbeatRequests(stack.metricsUrl);
      const started = performance.now();
      const { handle } = await solver.startBatch({ batchId, tasks, concurrency: tasks.length, policy });
      const summary = await withTimeout(handle.result(), 300_000, `our batch ${batchId} of the seed comparison`);
      const wallMs = performance.now() - started;
      return {
        wallMs,
        solved: summary.solved,
        deadLettered: summary.deadLettered,
        stats: sim.stats(),
        heartbeats: (await heartbeatRequests(stack.metricsUrl)) - heartbeatsBefore,
        batchId,
        childIds: tasks.map((t) => `${batchId}/${t.key}`),
        runs: summary.runs,
      };
    });
  } finally {
    await sim.close();
  }
}

const calls = (s: SimulatorStats) => s.requests['in.php'] + s.requests['res.php'];

export function seedComparison(ctx: BenchContext, ours: OursLikeSeed, seed: SeedOutcome): MeasurementResult {
  const n = ctx.sizes.seedTasks;
  const ratio = seed.result.wallMs / ours.wallMs;
  const oursCalls = calls(ours.stats) / Math.max(1, ours.solved);
  const seedCalls = calls(seed.stats) / Math.max(1, seed.result.solved);
  // both on the bench's default simulator flavour; the seed resubmits on every error, paying each time
  const oursCost = costOf(ours.stats, ours.solved, 'recaptcha-v2', 'captchaai');
  const seedCost = costOf(seed.stats, seed.result.solved, 'recaptcha-v2', 'captchaai');
  ctx.log(`  spend: ours ${costSentence(oursCost)}; seed ${costSentence(seedCost)}`);
  return {
    figures: [
      figure('2', `seed loop wall time, ${n} tasks`, round(seed.result.wallMs / 1000, 1), 's', undefined,
        `${seed.result.solved} solved, ${seed.result.deadLettered} dead-lettered; ${round(seed.result.httpMs / 1000, 1)} s of it waiting on HTTP, the rest its own sleeps`),
      figure('2', `our batch wall time, ${n} tasks`, round(ours.wallMs / 1000, 2), 's', undefined, `${ours.solved} solved, ${ours.deadLettered} dead-lettered, all ${n} in flight; best of ${ours.roundsMs?.length ?? 1} rounds: ${(ours.roundsMs ?? [ours.wallMs]).map((ms) => round(ms / 1000, 2)).join(' s, ')} s`),
      figure('2', 'wall-time ratio seed / ours', round(ratio, 1), '×', { op: '>=', value: 50 },
        `clock: one of the seed's seconds is ${ctx.sizes.seedSecondMs} ms, so it polls every ${round((5 * ctx.sizes.seedSecondMs) / 1000, 2)} s; solves take 0.75–3 of those seconds`),
      figure('3', 'provider calls per solved captcha, ours', round(oursCalls, 2)),
      figure('3', 'provider calls per solved captcha, seed', round(seedCalls, 2)),
      figure('3', 'paid submits per solved captcha, ours', round(ours.stats.paidSubmits / Math.max(1, ours.solved), 3)),
      figure('3', 'paid submits per solved captcha, seed', round(seed.stats.paidSubmits / Math.max(1, seed.result.solved), 3)),
      ...costFigures('2', `our batch (${n} tasks)`, oursCost),
      ...costFigures('2', `seed loop (${n} tasks)`, seedCost),
    ],
    details: {
      seedCompare: {
        tasks: n,
        clock: { secondMs: ctx.sizes.seedSecondMs, simulator: simulatorOptions(ctx.sizes.seedSecondMs), policy: ourPolicy(ctx.sizes.seedSecondMs) },
        seed: { ...seed.result, simulator: pickStats(seed.stats), cost: seedCost },
        ours: { wallMs: ours.wallMs, roundsMs: ours.roundsMs, solved: ours.solved, deadLettered: ours.deadLettered, heartbeats: ours.heartbeats, simulator: pickStats(ours.stats), cost: oursCost },
      },
    },
  };
}

function pickStats(s: SimulatorStats) {
  return { requests: s.requests, paidSubmits: s.paidSubmits, solved: s.solved, failed: s.failed, outcomes: s.outcomes, peakActiveTasks: s.peakActiveTasks, bans: s.bans };
}
