// `npm run bench [-- --quick | --full | --smoke] [--only 1,2,...] [--out DIR]`: every measurement of issue 7 in one run,
// on one dev server, with ratios measured side by side. Prints the summary table and writes latest.{json,md} (quick) or
// latest-full.{json,md} into bench/results; a partial (--only) or smoke run writes into the temp dir, or --out.
// A missed target is reported, not thrown; a measurement that crashes makes the run exit 1.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureBatchScale } from './batch-scale';
import { measureDlqBusy } from './dlq-busy';
import { measureDlqScale } from './dlq-scale';
import { measureGateway } from './gateway';
import { measurePollCalls } from './poll-calls';
import { measurePeer } from './peer';
import { figure, loadNow, machine, summaryTable, writeReport, type BenchReport, type MeasurementResult } from './report';
import { runOursLikeSeed, seedComparison, startSeedBaseline, type SeedOutcome } from './seed-compare';
import { startBenchStack, type BenchContext, type Mode, type Sizes } from './stack';
import { measureDeadLetterCost } from './temporal-cost';
import { measureThroughput } from './throughput';
import { measureWorkerKill } from './worker-kill';

const SIZES: Record<Mode, Sizes> = {
  smoke: { throughputTasks: 20, throughputRounds: 1, concurrency: 10, seedTasks: 5, seedSecondMs: 50, killTasks: 4, deadLetterTasks: 4, dlqEntries: [300], batchTasks: 60, peerTasks: 8, peerConcurrency: 4, peerRounds: 1, peerSecondMs: 50, cpuTasks: 20, cpuRounds: 1 },
  quick: { throughputTasks: 300, throughputRounds: 2, concurrency: 100, seedTasks: 100, seedSecondMs: 1_000, killTasks: 20, deadLetterTasks: 20, dlqEntries: [2_000], batchTasks: 1_000, peerTasks: 200, peerConcurrency: 50, peerRounds: 2, peerSecondMs: 1_000, cpuTasks: 200, cpuRounds: 6 },
  full: { throughputTasks: 1_000, throughputRounds: 4, concurrency: 100, seedTasks: 100, seedSecondMs: 1_000, killTasks: 50, deadLetterTasks: 50, dlqEntries: [10_000, 100_000], batchTasks: 10_000, peerTasks: 200, peerConcurrency: 50, peerRounds: 4, peerSecondMs: 1_000, cpuTasks: 500, cpuRounds: 8 },
};

const METHODS = `## How each figure is measured

See bench/README.md for the full description. In short:
1. **Throughput**: a batch of instant solves (zero-latency simulator, no poll wait) vs. \`trivialBatchWorkflow\`, the
   same window of children with two no-op activities each, on the same server and worker settings; rounds in ABBA
   order (trivial first, then pipeline first, …), means compared.
2. **Seed**: bench/seed-baseline.ts (the seed's loop ported) vs. our batch with every task in flight (best of 2
   rounds), each on its own simulator with the same seed and solves of 0.75–3 s; each side's own timings, unscaled:
   the seed polls every 5 s, we use the product's default policy (smoke mode scales a second to 50 ms).
3. **Provider calls / paid submits**: the simulators' counters of that same run; duplicates: a worker process SIGKILLed
   once every task is polling, another started, paid submits − tasks.
4. **Temporal cost**: events of every solve child's history; Cloud actions counted per docs.temporal.io/cloud/actions
   (rules in bench/histories.ts), plus heartbeats that reached the server (its Prometheus counter).
5. **DLQ scale**: signal-with-start per failure, as the report activity does, routed to ~600 entries per shard.
   5b. **DLQ stats while busy**: the same ingest paced at 450 reports/s, rounds on fresh DLQs; meanwhile the exact
   \`stats\` query, the published snapshot (memo, read from visibility) and \`statsFast\` are asked one call at a time.
6. **Batch scale**: one file-sourced batch, worker in its own process (peak RSS sampled).
7. **Against the peer** (the headline): a promise pool over the official \`@2captcha/captcha-solver\` client vs our batch,
   same concurrency, simulator settings and poll interval (reCAPTCHA v2 × 0.2: 3–12 s solves), rounds interleaved
   ours, peer, ours, peer; then one run of each with the provider's rate rules on (bans, lost tasks); time to token
   over the simulator's readyAt; CPU per task (server /proc stat + in-process worker) of the pipeline vs the trivial
   shape, instant solves, on a dev server of their own, one long-lived worker each, a warm-up round each, then short
   rounds in ABBA order.
8. **Poll calls**: reCAPTCHA v2 solves of 15–60 s scaled ×0.1 with the default poll policy scaled the same (the
   100-ms coalescing window unscaled: a cap on the wait), 100 in flight: provider calls (in.php + res.php) per solve
   with one request per poll, and with polls coalesced into \`res.php?action=get&ids=\` (bench/poll-calls.ts).
9. **Gateway** (bench/gateway.ts): overhead p50 / p95 of a solve through the gateway (in.php, res.php every 10 ms)
   over \`solver.solve\`, alternating, instant solves; provider calls per solve of N clients polling the gateway every
   5 s vs N tasks in one batch (solves and polls ×0.1, N = 20 / 200 / 500 in smoke / quick / full); cached res.php
   polls answered per second.`;

function parseArgs(argv: string[]): { mode: Mode; only?: Set<string>; out?: string } {
  let mode: Mode = 'quick';
  let only: Set<string> | undefined;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--full') mode = 'full';
    else if (a === '--quick') mode = 'quick';
    else if (a === '--smoke') mode = 'smoke';
    else if (a === '--only') only = new Set((argv[++i] ?? '').split(','));
    else if (a.startsWith('--only=')) only = new Set(a.slice('--only='.length).split(','));
    else if (a === '--out') out = argv[++i];
    else throw new Error(`unknown argument ${a} (use --quick, --full, --smoke, --only 1,2,…, --out DIR)`);
  }
  return { mode, ...(only && { only }), ...(out && { out }) };
}

async function main(): Promise<number> {
  const { mode, only, out } = parseArgs(process.argv.slice(2));
  const wanted = (n: string) => !only || only.has(n);
  const startedAt = new Date();
  const t0 = performance.now();
  const log = (line: string) => console.log(`[bench ${String(Math.round((performance.now() - t0) / 1000)).padStart(4)} s] ${line}`);
  const sizes = SIZES[mode];
  log(`${mode} mode: ${JSON.stringify(sizes)}`);
  const stack = await startBenchStack(log);
  const ctx: BenchContext = { stack, mode, sizes, log };
  const report: BenchReport = {
    mode,
    startedAt: startedAt.toISOString(),
    elapsedS: 0,
    machine: machine(stack.temporalVersion),
    sizes: { ...sizes },
    headline: [],
    figures: [],
    crashed: [],
    details: {},
  };
  // a stray failure in the background of some measurement is a crash too, but must not lose the other figures
  const stray = (kind: string) => (err: unknown) => {
    log(`${kind}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    report.crashed.push({ section: '-', measurement: kind, error: err instanceof Error ? err.message : String(err) });
  };
  process.on('unhandledRejection', stray('unhandled rejection'));
  process.on('uncaughtException', stray('uncaught exception'));
  const run = async (section: string, name: string, fn: () => Promise<MeasurementResult>): Promise<void> => {
    log(`${section} ${name}…`);
    try {
      const result = await fn();
      report.figures.push(...result.figures);
      if (result.headline) report.headline.push(...result.headline);
      Object.assign(report.details, result.details);
    } catch (err) {
      log(`${section} ${name} CRASHED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      report.crashed.push({ section, measurement: name, error: err instanceof Error ? err.message : String(err) });
    }
  };

  try {
    // the seed's sequential loop takes minutes of mostly sleeping: it runs in its own process meanwhile
    let seed: Promise<SeedOutcome> | undefined;
    if (wanted('2')) {
      seed = startSeedBaseline(ctx);
      seed.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    }
    let ours: Awaited<ReturnType<typeof runOursLikeSeed>>['ours'] | undefined;
    if (wanted('2') || wanted('4')) {
      await run('2', 'our batch on the seed clock, cost per solve', async () => {
        const r = await runOursLikeSeed(ctx);
        ours = r.ours;
        return r.cost;
      });
    }
    if (wanted('1')) await run('1', 'throughput vs the trivial shape', () => measureThroughput(ctx));
    if (wanted('3')) await run('3', 'worker killed mid-poll', () => measureWorkerKill(ctx));
    if (wanted('4')) await run('4', 'cost per dead-lettered task', () => measureDeadLetterCost(ctx));
    if (wanted('5')) for (const n of sizes.dlqEntries) await run('5', `DLQ scale, ${n} entries`, () => measureDlqScale(ctx, n));
    if (wanted('5b')) await run('5b', 'DLQ stats while busy', () => measureDlqBusy(ctx));
    if (wanted('6')) await run('6', 'batch scale', () => measureBatchScale(ctx));
    if (wanted('7')) await run('7', 'against the peer: official client in a promise pool; CPU per task', () => measurePeer(ctx));
    if (wanted('8')) await run('8', 'provider calls per solve, polls coalesced', () => measurePollCalls(ctx));
    if (wanted('9')) await run('9', 'gateway: overhead, provider calls of polling clients, requests/s', () => measureGateway(ctx));
    if (seed) {
      await run('2', 'seed comparison', async () => {
        log('  waiting for the seed loop to finish');
        const outcome = await seed!;
        if (!ours) throw new Error('our side of the comparison did not run');
        return seedComparison(ctx, ours, outcome);
      });
    }
    await finish(report, out ?? (only || mode === 'smoke' ? tmpdir() : join(__dirname, 'results')), only ? 'captcha-bench-partial' : `latest${mode === 'quick' ? '' : `-${mode}`}`, t0);
  } finally {
    // after the report is written: a straggling call of a crashed measurement cannot lose it
    await stack.close();
  }
  return report.crashed.length ? 1 : 0;
}

/** Prints the summary table and writes the report files. */
async function finish(report: BenchReport, dir: string, name: string, t0: number): Promise<void> {
  report.elapsedS = (performance.now() - t0) / 1000;
  report.machine.load.end = loadNow();
  report.figures.sort((a, b) => a.section.localeCompare(b.section));
  report.figures.push(figure('-', 'bench wall time', Math.round(report.elapsedS), 's'));
  if (report.headline.length) console.log(`\n${report.headline.join('\n')}`);
  console.log(`\n${summaryTable(report)}\n`);
  const m = report.machine;
  console.log(`${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.temporal}, code ${m.commit}, load ${m.load.start} → ${m.load.end}`);
  console.log('Shared machine: absolute numbers are noisy; compare the ratios.');
  await writeReport(dir, name, report, METHODS);
  console.log(`wrote ${join(dir, `${name}.json`)} and ${name}.md`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
