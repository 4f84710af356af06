// Measurement 7 (issue 15, "Show"): our batch against the peer a user would pick — a promise pool over the official
// `@2captcha/captcha-solver` client — at the same concurrency, on the same simulator settings (same seed, so the same
// solve times), at the same poll interval. Rounds interleave ours and the peer's (A B A B); then one run of each with
// the provider's rate rules on, counting bans and lost tasks; then CPU per solved task of our pipeline against the
// trivial shape (bench/throughput.ts) in rounds of their own.
// Our side is a list of columns (`OurColumn`): the product's polling (coalesced, its default) and callback mode (the
// simulator pushes each result to the receiver in our worker's process).
import { Solver as PeerSolver } from '@2captcha/captcha-solver';
import { CaptchaSolver } from '../src/client';
import { loadConfig, type Config } from '../src/config';
import { freePort } from '../src/dev/dev-server';
import { resolveSolvePolicy } from '../src/domain/policies';
import { createProvider } from '../src/providers';
import { createWorker, startCallbacks } from '../src/worker';
import type { SolvePolicy, SolveResult } from '../src/domain/types';
import type { Simulator, SimulatorOptions, SimulatorStats } from '../src/simulator/server';
import { mean, quantile, round, spread } from './histories';
import { costFigures, costOf, costSentence } from './cost';
import { figure, type Figure, type MeasurementResult } from './report';
import { BENCH_API_KEY, benchEnv, startBenchSimulator, withTimeout, withWorker, type BenchContext, type BenchStack } from './stack';
import { measureCpu } from './cpu-shapes';
import { measureWorkflowPromises } from './workflow-promises';

/* eslint-disable @typescript-eslint/no-require-imports -- one of the peer client's internals (its endpoint constants) */

/** reCAPTCHA v2's 15–60 s (median 30 s) × 0.2: solves of 3–12 s, on the section's clock. */
const SOLVE_SCALE = 0.2;
const SITEKEY = '6Le-SITEKEY';
/** the peer client's default pace, and our default policy's first delay and interval */
const POLL_MS = 5_000;

/** One of our columns: the product's worker with these settings. */
export interface OurColumn {
  name: string;
  /** extra worker environment (say, a callback receiver's URL) */
  env?: Record<string, string>;
  /** simulator options on top of the section's (say, pushing results) */
  simulator?: SimulatorOptions;
  /** callback mode: the receiver runs in the worker's process and the solve waits for the push (its policy) */
  callback?: NonNullable<SolvePolicy['callback']>;
  /** the time-to-token target (p50, s) */
  tttTarget?: number;
}

/** The product's default: polls at the default policy, coalesced into shared rounds. */
export const POLLING: OurColumn = { name: 'polling', tttTarget: 1.0 };

/**
 * Callback mode: the simulator pushes every result (pingback, registered by the worker at start) to our receiver. The
 * solve waits for the push up to the type's expected solve time scaled like the solves (60 s × 0.2) + 2 s, then polls.
 */
export const CALLBACK: OurColumn = { name: 'callback', callback: { expectedSolveScale: SOLVE_SCALE, graceMs: 2_000 }, tttTarget: 0.3 };

/** The environment of a worker in callback mode: its receiver on a free local port, which is also its public URL. */
export async function callbackEnv(callback: NonNullable<SolvePolicy['callback']>): Promise<Record<string, string>> {
  const port = await freePort();
  return {
    CAPTCHA_CALLBACK_URL: `http://127.0.0.1:${port}`,
    CAPTCHA_CALLBACK_HOST: '127.0.0.1',
    CAPTCHA_CALLBACK_PORT: String(port),
    CAPTCHA_CALLBACK_GRACE_MS: String(callback.graceMs),
    CAPTCHA_CALLBACK_WAIT_SCALE: String(callback.expectedSolveScale),
  };
}

/** The product's worker in this process, with its callback receiver when the environment asks for one (as `npm run worker`). */
export async function withOurWorker<T>(stack: BenchStack, env: Record<string, string>, fn: (config: Readonly<Config>) => Promise<T>): Promise<T> {
  const config = loadConfig(env);
  if (!config.callback) return withWorker(stack, env, fn);
  const provider = createProvider({ ...config.provider, apiKey: BENCH_API_KEY });
  const callbacks = await startCallbacks(config, BENCH_API_KEY, stack.client);
  try {
    const worker = await createWorker({
      config,
      connection: stack.connection,
      client: stack.client,
      provider,
      workflowBundle: stack.bundle,
      ...(callbacks && { callbackUrlFor: callbacks.urlFor, inbox: callbacks.inbox }),
    });
    return await worker.runUntil(fn(config));
  } finally {
    await callbacks?.receiver.close();
    await provider.close();
  }
}

interface Clock {
  /** one provider second, in real ms */
  secondMs: number;
}

function simulatorOptions(clock: Clock, rules: boolean): SimulatorOptions {
  return {
    provider: '2captcha',
    seed: 15,
    timeScale: SOLVE_SCALE * (clock.secondMs / 1000),
    // the section's rule-free runs lift them like the rest of the bench; the rules run uses the provider's defaults
    ...(rules && { rateLimits: {} }),
  };
}

/** The product's default policy on the section's clock (its first poll and interval are the peer's pace). */
function ourPolicy(clock: Clock): SolvePolicy {
  const d = resolveSolvePolicy({});
  const s = (ms: number) => Math.max(1, Math.round((ms * clock.secondMs) / 1000));
  return resolveSolvePolicy({
    submit: { initialIntervalMs: s(d.submit.initialIntervalMs), maxIntervalMs: s(d.submit.maxIntervalMs) },
    poll: { firstDelayMs: s(d.poll.firstDelayMs), intervalMs: s(d.poll.intervalMs), deadlineMs: s(d.poll.deadlineMs), retryIntervalMs: s(d.poll.retryIntervalMs) },
  });
}

/** One run of one side. */
interface Run {
  side: string;
  wallMs: number;
  solved: number;
  /** ours: dead-lettered (kept in the DLQ, not lost) */
  deadLettered: number;
  /** tasks that came back with neither a token nor a dead letter, by error */
  lost: Record<string, number>;
  stats: Pick<SimulatorStats, 'requests' | 'paidSubmits' | 'bans' | 'outcomes' | 'spentMicros'>;
  /** per solved task: when its token reached the caller − when the simulator had it ready (ms) */
  overheadMs: number[];
  /** ours, split: the simulator handing the token out − ready (the poll's wait), and the caller having it − that */
  pollWaitMs?: number[];
  afterPollMs?: number[];
}

function pageUrl(i: number): string {
  return `https://example.com/peer/${i}`;
}

function pick(s: SimulatorStats): Run['stats'] {
  return { requests: s.requests, paidSubmits: s.paidSubmits, bans: s.bans, outcomes: s.outcomes, spentMicros: s.spentMicros };
}

function readyAt(sim: Simulator, providerTaskId: string): number | undefined {
  const at = sim.task(providerTaskId)?.readyAt;
  return at === undefined ? undefined : Date.parse(at);
}

/** When the simulator first handed the task's answer out (a poll or a push). */
function deliveredAt(sim: Simulator, providerTaskId: string): number | undefined {
  const at = sim.task(providerTaskId)?.deliveredAt;
  return at === undefined ? undefined : Date.parse(at);
}

async function runOurs(ctx: BenchContext, column: OurColumn, runId: string, rules: boolean, clock: Clock, concurrency: number): Promise<Run> {
  const { stack, sizes } = ctx;
  const policy = column.callback ? resolveSolvePolicy(ourPolicy(clock), { callback: column.callback }) : ourPolicy(clock);
  const sim = await startBenchSimulator({ ...simulatorOptions(clock, rules), ...column.simulator });
  try {
    // with the rules on, the worker keeps the product's own 60-submits-per-3-s limit
    const env = benchEnv(stack, `q-${runId}`, sim, policy, {
      CAPTCHA_PROVIDER: '2captcha',
      ...(rules && { CAPTCHA_MAX_SUBMITS_PER_3S: '60' }),
      ...(column.callback && (await callbackEnv(column.callback))),
      ...column.env,
    });
    return await withOurWorker(stack, env, async (config) => {
      const solver = new CaptchaSolver(stack.client, config);
      const tasks = Array.from({ length: sizes.peerTasks }, (_, i) => ({ type: 'recaptcha-v2', sitekey: SITEKEY, pageUrl: pageUrl(i), key: `t${i}` }));
      const started = performance.now();
      const { handle } = await solver.startBatch({ batchId: runId, tasks, concurrency, policy });
      const summary = await withTimeout(handle.result(), 900_000, `our batch ${runId}`);
      const wallMs = performance.now() - started;
      const stats = pick(sim.stats());
      // a caller has the token when the solve child closes
      const overheadMs: number[] = [];
      const pollWaitMs: number[] = [];
      const afterPollMs: number[] = [];
      await eachLimited(tasks, 16, async (t) => {
        const child = stack.client.workflow.getHandle(`${runId}/${t.key}`);
        const result = (await child.result().catch(() => undefined)) as SolveResult | undefined;
        const ready = result && readyAt(sim, result.providerTaskId);
        const delivered = result && deliveredAt(sim, result.providerTaskId);
        const closed = (await child.describe()).closeTime?.getTime();
        if (ready !== undefined && closed !== undefined) overheadMs.push(closed - ready);
        if (ready !== undefined && delivered !== undefined && closed !== undefined) {
          pollWaitMs.push(delivered - ready);
          afterPollMs.push(closed - delivered);
        }
      });
      const unaccounted = sizes.peerTasks - summary.solved - summary.deadLettered;
      const lost: Record<string, number> = unaccounted ? { unaccounted } : {};
      return { side: column.name, wallMs, solved: summary.solved, deadLettered: summary.deadLettered, lost, stats, overheadMs, pollWaitMs, afterPollMs };
    });
  } finally {
    await sim.close();
  }
}

/**
 * The client has no host option: its endpoints are the `supportedProviders` constants, read on every request (as in
 * test/conformance.test.ts); pointing those two at the simulator changes nothing else.
 */
function pointPeerAt(url: string): void {
  const constants = require('@2captcha/captcha-solver/dist/structs/constants/constants') as { supportedProviders: { twoCaptcha: { in: string; res: string } } };
  constants.supportedProviders.twoCaptcha.in = `${url}/in.php`;
  constants.supportedProviders.twoCaptcha.res = `${url}/res.php`;
}

/** The 30-line pool a user would write: `concurrency` solves at a time, a failed one is gone. */
async function runPeer(ctx: BenchContext, rules: boolean, clock: Clock, concurrency: number): Promise<Run> {
  const { sizes } = ctx;
  const sim = await startBenchSimulator(simulatorOptions(clock, rules));
  try {
    pointPeerAt(sim.url);
    const solver = new PeerSolver(BENCH_API_KEY, Math.round((POLL_MS * clock.secondMs) / 1000));
    const lost: Record<string, number> = {};
    const overheadMs: number[] = [];
    let solved = 0;
    const started = performance.now();
    await withTimeout(
      eachLimited(
        Array.from({ length: sizes.peerTasks }, (_, i) => i),
        concurrency,
        async (i) => {
          try {
            const answer = await solver.recaptcha({ googlekey: SITEKEY, pageurl: pageUrl(i) });
            const done = Date.now();
            solved++;
            const ready = readyAt(sim, String(answer.id));
            if (ready !== undefined) overheadMs.push(done - ready);
          } catch (err) {
            // the client's APIError keeps the provider's code in `err` and a sentence in `message`
            const providerCode = (err as { err?: unknown }).err;
            const code = (typeof providerCode === 'string' ? providerCode : err instanceof Error ? err.message : String(err)).slice(0, 60);
            lost[code] = (lost[code] ?? 0) + 1;
          }
        },
      ),
      900_000,
      'the peer pool',
    );
    const wallMs = performance.now() - started;
    return { side: 'peer', wallMs, solved, deadLettered: 0, lost, stats: pick(sim.stats()), overheadMs };
  } finally {
    await sim.close();
  }
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

const calls = (r: Run) => r.stats.requests['in.php'] + r.stats.requests['res.php'];
const callsPerSolve = (runs: Run[]) => runs.reduce((a, r) => a + calls(r), 0) / Math.max(1, runs.reduce((a, r) => a + r.solved, 0));
const lostCount = (r: Run) => Object.values(r.lost).reduce((a, b) => a + b, 0);
const describeLost = (r: Run) => (lostCount(r) ? Object.entries(r.lost).map(([code, n]) => `${n} × ${code}`).join(', ') : 'none');

export async function measurePeer(ctx: BenchContext, columns: OurColumn[] = [POLLING, CALLBACK]): Promise<MeasurementResult> {
  const { sizes } = ctx;
  const clock: Clock = { secondMs: sizes.peerSecondMs };
  const n = sizes.peerTasks;
  const c = sizes.peerConcurrency;
  const ours = new Map<string, Run[]>(columns.map((col) => [col.name, []]));
  const peer: Run[] = [];
  for (let r = 1; r <= sizes.peerRounds; r++) {
    for (const col of columns) ours.get(col.name)!.push(await runOurs(ctx, col, `bench-peer-${col.name}-${r}`, false, clock, c));
    peer.push(await runPeer(ctx, false, clock, c));
    ctx.log(`  round ${r}: ${columns.map((col) => `ours (${col.name}) ${round(ours.get(col.name)!.at(-1)!.wallMs / 1000, 1)} s`).join(', ')}, peer ${round(peer.at(-1)!.wallMs / 1000, 1)} s`);
  }
  // the provider's rate rules on: one run of each with every task in flight. A pool of 50 at 3–12 s refills slower
  // than the 60-submits-per-3-s rule allows; a pool as wide as the batch sends every submit at once
  const oursRules = new Map<string, Run>();
  for (const col of columns) oursRules.set(col.name, await runOurs(ctx, col, `bench-peer-${col.name}-rules`, true, clock, n));
  const peerRules = await runPeer(ctx, true, clock, n);
  ctx.log(`  rate rules on: ${columns.map((col) => `ours (${col.name}) lost ${lostCount(oursRules.get(col.name)!)}`).join(', ')}, peer lost ${lostCount(peerRules)} (${peerRules.stats.bans.total} bans)`);

  const peerWall = peer.map((x) => x.wallMs);
  const peerOverhead = peer.flatMap((x) => x.overheadMs);
  const setting = `${n} tasks, ${c} in flight, solves 3–12 s`;
  const clockNote = clock.secondMs === 1000 ? 'unscaled clock' : `a second is ${clock.secondMs} ms (solves and polls alike)`;
  const figures: Figure[] = [
    figure('7', `peer pool wall time (${setting}), mean`, round(mean(peerWall) / 1000, 2), 's', undefined,
      `@2captcha/captcha-solver, polling every ${POLL_MS / 1000} s, in a pool of ${c}; ${sizes.peerRounds} rounds: ${spread(peerWall, 1000)} s; ${clockNote}`),
  ];
  const headline: string[] = [];
  for (const col of columns) {
    const runs = ours.get(col.name)!;
    const wall = runs.map((x) => x.wallMs);
    const ratio = mean(wall) / mean(peerWall);
    const callsRatio = callsPerSolve(runs) / callsPerSolve(peer);
    const overhead = runs.flatMap((x) => x.overheadMs);
    const pollWait = runs.flatMap((x) => x.pollWaitMs ?? []);
    const afterPoll = runs.flatMap((x) => x.afterPollMs ?? []);
    const split = `; split: the provider handing the token out (poll or push) − ready p50 ${round(quantile(pollWait, 0.5) / 1000, 2)} s, p95 ${round(quantile(pollWait, 0.95) / 1000, 2)} s; then to the child closed p50 ${round(quantile(afterPoll, 0.5) / 1000, 2)} s, p95 ${round(quantile(afterPoll, 0.95) / 1000, 2)} s`;
    const rules = oursRules.get(col.name)!;
    figures.push(
      figure('7', `our batch wall time (${col.name}), mean`, round(mean(wall) / 1000, 2), 's', undefined,
        `${sizes.peerRounds} rounds: ${spread(wall, 1000)} s; solved ${runs.map((x) => x.solved).join(', ')} of ${n}`),
      figure('7', `wall time ours (${col.name}) / peer`, round(ratio, 2), '×', { op: '<=', value: 1.1 },
        `means over rounds run ours, peer, ours, peer, …; every round's ratio: ${wall.map((w, i) => round(w / peerWall[i]!, 2)).join(', ')}`),
      figure('7', `provider calls per solve, ours (${col.name})`, round(callsPerSolve(runs), 2)),
      figure('7', `provider calls per solve, ours (${col.name}) / peer`, round(callsRatio, 2), undefined, { op: '<=', value: 0.5 },
        `peer ${round(callsPerSolve(peer), 2)} calls per solve; in.php + res.php from each run's own simulator`),
      figure('7', `time-to-token overhead p50, ours (${col.name})`, round(quantile(overhead, 0.5) / 1000, 2), 's',
        col.tttTarget !== undefined ? { op: '<=', value: col.tttTarget } : undefined,
        `token at the caller (solve child closed) − the simulator's readyAt, over ${overhead.length} solves; p95 ${round(quantile(overhead, 0.95) / 1000, 2)} s; peer p50 ${round(quantile(peerOverhead, 0.5) / 1000, 2)} s, p95 ${round(quantile(peerOverhead, 0.95) / 1000, 2)} s${split}`),
      figure('7', `time-to-token overhead p95, ours (${col.name})`, round(quantile(overhead, 0.95) / 1000, 2), 's'),
      figure('7', `lost tasks with the rate rules on (all in flight), ours (${col.name})`, lostCount(rules), undefined, { op: '=', value: 0 },
        `${rules.solved} solved, ${rules.deadLettered} dead-lettered of ${n}; ${rules.stats.bans.total} bans; wall ${round(rules.wallMs / 1000, 1)} s`),
    );
    headline.push(
      `Against the peer a user would pick (a pool of ${c} over @2captcha/captcha-solver, ${setting}): wall time ${round(ratio, 2)}× the peer's ` +
        `(target ≤ 1.1), ${round(callsPerSolve(runs), 2)} vs ${round(callsPerSolve(peer), 2)} provider calls per solve, ` +
        `token ${round(quantile(overhead, 0.5) / 1000, 2)} s (p50) after the provider had it, and with the provider's rate rules on (all in flight) ` +
        `${lostCount(rules)} lost vs the peer's ${lostCount(peerRules)} (${col.name}).`,
    );
  }
  figures.push(
    figure('7', 'peer time-to-token overhead p50', round(quantile(peerOverhead, 0.5) / 1000, 2), 's', undefined, `p95 ${round(quantile(peerOverhead, 0.95) / 1000, 2)} s over ${peerOverhead.length} solves`),
    figure('7', 'lost tasks with the rate rules on (all in flight), peer', lostCount(peerRules), undefined, undefined,
      `${peerRules.solved} solved of ${n}; ${describeLost(peerRules)}; bans ${JSON.stringify(peerRules.stats.bans)}; no retry, no DLQ: a failed promise is the end`),
  );

  figures.push(...spendFigures(columns.map((col) => [col.name, ours.get(col.name)!, oursRules.get(col.name)!]), peer, peerRules));

  const cpu = await measureCpu(ctx);
  figures.push(...cpu.figures, ...(await measureWorkflowPromises(ctx)));
  headline.push(cpu.headline);
  return {
    figures,
    headline,
    details: {
      peer: {
        tasks: n,
        concurrency: c,
        clock,
        simulator: simulatorOptions(clock, false),
        rateRulesSimulator: simulatorOptions(clock, true),
        policy: ourPolicy(clock),
        peerPollMs: Math.round((POLL_MS * clock.secondMs) / 1000),
        rounds: { ours: Object.fromEntries([...ours].map(([k, runs]) => [k, runs.map(summarise)])), peer: peer.map(summarise) },
        rateRules: { ours: Object.fromEntries([...oursRules].map(([k, run]) => [k, summarise(run)])), peer: summarise(peerRules) },
      },
      cpuPerTask: cpu.details,
    },
  };
}

function summarise(r: Run) {
  return {
    wallMs: Math.round(r.wallMs),
    solved: r.solved,
    deadLettered: r.deadLettered,
    lost: r.lost,
    calls: calls(r),
    stats: r.stats,
    overheadMs: { p50: quantile(r.overheadMs, 0.5), p95: quantile(r.overheadMs, 0.95), n: r.overheadMs.length },
  };
}

/** What each side spent (its simulators' ledgers, 2captcha prices), in the interleaved rounds and with the rate rules on. */
function spendFigures(ours: [string, Run[], Run][], peer: Run[], peerRules: Run): Figure[] {
  const total = (runs: Run[]) => costOf({ paidSubmits: runs.reduce((a, r) => a + r.stats.paidSubmits, 0), spentMicros: runs.reduce((a, r) => a + r.stats.spentMicros, 0) }, runs.reduce((a, r) => a + r.solved, 0), 'recaptcha-v2', '2captcha');
  const peerCost = total(peer);
  const peerRulesCost = total([peerRules]);
  return ours.flatMap(([name, runs, rules]) => {
    const cost = total(runs);
    const rulesCost = total([rules]);
    return [
      ...costFigures('7', `ours (${name}), all rounds`, cost),
      figure('7', `spent per solve ours (${name}) / peer`, round(cost.perSolveMicros / peerCost.perSolveMicros, 2), '×', undefined,
        `peer: ${costSentence(peerCost)}; rate rules on: ours ${costSentence(rulesCost)}, peer ${costSentence(peerRulesCost)} (${peerRules.solved} solved)`),
    ];
  });
}
