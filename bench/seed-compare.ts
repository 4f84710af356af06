// Measurements 2 and 3 (provider calls): the seed's sequential loop against our batch, each on its own simulator with
// the same options and the same clock scale: reCAPTCHA v2 solves (15–60 s, median 30 s) become 0.75–3 s (median
// 1.5 s); the 5 s poll interval and first delay 250 ms; the 120 s poll deadline 6 s; 2^n s backoff 2^n × 50 ms.
// The seed runs in a child process (bench/seed-process.ts) while the bench goes on: it sleeps most of the time.
import { spawn } from 'node:child_process';
import { CaptchaSolver } from '../src/client';
import type { SimulatorOptions, SimulatorStats } from '../src/simulator/server';
import { resolveSolvePolicy } from '../workflows/policies';
import type { SolvePolicy } from '../workflows/types';
import { heartbeatRequests, round } from './histories';
import { figure, type MeasurementResult } from './report';
import type { SeedRunResult } from './seed-baseline';
import type { SeedSpec } from './seed-process';
import { BENCH_API_KEY, benchEnv, startBenchSimulator, withTimeout, withWorker, type BenchContext } from './stack';
import { costOfBatch, solveCostFigures } from './temporal-cost';

/** One real second becomes this many milliseconds, for the simulator's solves and for both clients' timings. */
const SECOND_MS = 50;
const TIME_SCALE = SECOND_MS / 1000;
/** Same seed, same draws: 3 % of the tasks are unsolvable (providers: 2–5 %). */
const SIMULATOR: SimulatorOptions = { timeScale: TIME_SCALE, seed: 7, unsolvableRate: 0.03 };

/** The product's default policy (workflows/policies.ts), on the same clock. */
const SCALED_POLICY: SolvePolicy = resolveSolvePolicy({
  submit: { initialIntervalMs: 1 * SECOND_MS, maxIntervalMs: 8 * SECOND_MS },
  poll: { firstDelayMs: 5 * SECOND_MS, intervalMs: 5 * SECOND_MS, deadlineMs: 120 * SECOND_MS, retryIntervalMs: 2 * SECOND_MS },
});

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
    simulator: SIMULATOR,
    seed: { apiKey: BENCH_API_KEY, timeUnitMs: SECOND_MS, maxRetries: 3 },
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
}

/** Our batch on the seed's tasks and clock: every task in flight at once. */
export async function runOursLikeSeed(ctx: BenchContext): Promise<{ ours: OursLikeSeed; cost: MeasurementResult }> {
  const { stack } = ctx;
  const sim = await startBenchSimulator(SIMULATOR);
  const taskQueue = 'bench-seed-compare';
  try {
    return await withWorker(stack, benchEnv(stack, taskQueue, sim, SCALED_POLICY), async (config) => {
      const solver = new CaptchaSolver(stack.client, config);
      const tasks = seedTasks(ctx.sizes.seedTasks).map((t, i) => ({ type: 'recaptcha-v2', sitekey: t.sitekey, pageUrl: t.pageUrl, key: `p${i}` }));
      const heartbeatsBefore = await heartbeatRequests(stack.metricsUrl);
      const started = performance.now();
      const { batchId, handle } = await solver.startBatch({ batchId: 'bench-seed-compare', tasks, concurrency: tasks.length, policy: SCALED_POLICY });
      const summary = await withTimeout(handle.result(), 300_000, 'our batch of the seed comparison');
      const wallMs = performance.now() - started;
      const heartbeats = (await heartbeatRequests(stack.metricsUrl)) - heartbeatsBefore;
      const childIds = tasks.map((t) => `${batchId}/${t.key}`);
      const ours: OursLikeSeed = {
        wallMs,
        solved: summary.solved,
        deadLettered: summary.deadLettered,
        stats: sim.stats(),
        heartbeats,
        batchId,
        childIds,
        runs: summary.runs,
      };
      const cost = await costOfBatch(stack.client, batchId, childIds, summary.runs);
      return { ours, cost: solveCostFigures(cost, heartbeats / Math.max(1, summary.solved)) };
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
  return {
    figures: [
      figure('2', `seed loop wall time, ${n} tasks`, round(seed.result.wallMs / 1000, 1), 's', undefined,
        `${seed.result.solved} solved, ${seed.result.deadLettered} dead-lettered; ${round(seed.result.httpMs / 1000, 1)} s of it waiting on HTTP, the rest its own sleeps`),
      figure('2', `our batch wall time, ${n} tasks`, round(ours.wallMs / 1000, 2), 's', undefined, `${ours.solved} solved, ${ours.deadLettered} dead-lettered, all ${n} in flight`),
      figure('2', 'wall-time ratio seed / ours', round(ratio, 1), '×', { op: '>=', value: 50 }),
      figure('3', 'provider calls per solved captcha, ours', round(oursCalls, 2)),
      figure('3', 'provider calls per solved captcha, seed', round(seedCalls, 2)),
      figure('3', 'paid submits per solved captcha, ours', round(ours.stats.paidSubmits / Math.max(1, ours.solved), 3)),
      figure('3', 'paid submits per solved captcha, seed', round(seed.stats.paidSubmits / Math.max(1, seed.result.solved), 3)),
    ],
    details: {
      seedCompare: {
        tasks: n,
        clock: { secondMs: SECOND_MS, simulator: SIMULATOR, policy: SCALED_POLICY },
        seed: { ...seed.result, simulator: pickStats(seed.stats) },
        ours: { wallMs: ours.wallMs, solved: ours.solved, deadLettered: ours.deadLettered, heartbeats: ours.heartbeats, simulator: pickStats(ours.stats) },
      },
    },
  };
}

function pickStats(s: SimulatorStats) {
  return { requests: s.requests, paidSubmits: s.paidSubmits, solved: s.solved, failed: s.failed, outcomes: s.outcomes, peakActiveTasks: s.peakActiveTasks, bans: s.bans };
}
