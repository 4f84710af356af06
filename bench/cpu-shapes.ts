// CPU per solved task, server + worker: our pipeline (instant solves, bench/throughput.ts) against the trivial shape
// (bench/trivial-workflows.ts), read from the processes. The simulator runs in a process of its own and is not counted.
import { processCpuMs } from './cpu';
import { mean, quantile, round, spread } from './histories';
import { figure, type Figure } from './report';
import { NO_WAIT_POLICY, benchEnv, sleep, spawnSimulator, startBenchStack, withWorker, type BenchContext, type BenchStack } from './stack';
import { pipelineBatch, trivialBatch, trivialWorker, type Round } from './throughput';

type Shape = 'pipeline' | 'trivial';

/** What the server spent for one round of one shape, and what the in-process workers and driver spent during it. */
interface ShapeRound {
  serverMs: number;
  workerMs: number;
}

/** A reading of a server's CPU, and when it was taken. */
interface Mark {
  cpuMs: number;
  at: number;
}

/**
 * Each shape has a Temporal server of its own and one long-lived worker, as in production.
 *
 * A server keeps working for a round after it ends: the activities' timeout timers (5–60 s) fire later and are checked
 * then. On one shared server that work landed on whichever shape ran next, and the two shapes leave different timers
 * behind, so a round's figure depended on the round before it (sessions 4–5: trivial-first rounds 1.17–1.47, ours-first
 * 0.99–1.25). Here every shape's deferred work stays on its own server and is counted, all of it:
 * - a round's server CPU is everything its server spent from that round's start to the next round of the same shape
 *   (the last round's, to the end of a settle period longer than the longest timer), minus the server's idle rate for
 *   the time in that window when the shape was not running;
 * - the idle rate is read after the warm-up rounds' timers have fired (about 1 ms a second on the dev server);
 * - the workers run in this process, so their CPU is read during the round itself (a worker has no deferred work).
 */
export async function measureCpu(ctx: BenchContext): Promise<{ figures: Figure[]; headline: string; details: unknown }> {
  const { sizes } = ctx;
  const settleMs = ctx.mode === 'smoke' ? 500 : 62_000;
  const idleMs = ctx.mode === 'smoke' ? 500 : 10_000;
  const [trivialStack, pipelineStack] = await Promise.all([startBenchStack(() => {}), startBenchStack(() => {})]);
  const context = (stack: BenchStack): BenchContext => ({ ...ctx, stack, sizes: { ...sizes, throughputTasks: sizes.cpuTasks } });
  const trivialCtx = context(trivialStack);
  const pipelineCtx = context(pipelineStack);
  const servers: Record<Shape, number> = { trivial: trivialStack.server.pid, pipeline: pipelineStack.server.pid };
  const mark = (shape: Shape): Mark => ({ cpuMs: processCpuMs(servers[shape]), at: performance.now() });
  const sim = await spawnSimulator({ scenarios: { sitekeys: { '*': { outcome: { type: 'solve', afterMs: 0 } } } } });
  const marks: Record<Shape, Mark[]> = { trivial: [], pipeline: [] };
  const inRound: Record<Shape, Round[]> = { trivial: [], pipeline: [] };
  const idlePerMs: Record<Shape, number> = { trivial: 0, pipeline: 0 };
  try {
    const trivialQueue = 'q-bench-cpu-trivial';
    const trivialShape = await trivialWorker(trivialCtx, trivialQueue);
    await withWorker(pipelineStack, benchEnv(pipelineStack, 'q-bench-cpu-pipeline', sim, NO_WAIT_POLICY), (config) =>
      trivialShape.runUntil(async () => {
        const run: Record<Shape, (id: string) => Promise<Round>> = {
          trivial: (id) => trivialBatch(trivialCtx, trivialQueue, `bench-cpu-trivial-${id}`),
          pipeline: (id) => pipelineBatch(pipelineCtx, config, `bench-cpu-pipeline-${id}`),
        };
        await run.trivial('warm-up');
        await run.pipeline('warm-up');
        ctx.log(`  cpu: warm-up done; ${Math.round(settleMs / 1000)} s for its timers, then ${Math.round(idleMs / 1000)} s of idle rate`);
        await sleep(settleMs);
        const idle0 = { trivial: mark('trivial'), pipeline: mark('pipeline') };
        await sleep(idleMs);
        for (const shape of ['trivial', 'pipeline'] as const) {
          const now = mark(shape);
          idlePerMs[shape] = Math.max(0, (now.cpuMs - idle0[shape].cpuMs) / (now.at - idle0[shape].at));
        }
        for (let r = 1; r <= sizes.cpuRounds; r++) {
          const order: Shape[] = r % 2 === 1 ? ['trivial', 'pipeline'] : ['pipeline', 'trivial'];
          for (const shape of order) {
            marks[shape].push(mark(shape));
            inRound[shape].push(await run[shape](String(r)));
          }
          ctx.log(`  cpu round ${r} (${order[0]} first) done`);
        }
        ctx.log(`  cpu: ${Math.round(settleMs / 1000)} s for the last rounds' timers`);
        await sleep(settleMs);
        marks.trivial.push(mark('trivial'));
        marks.pipeline.push(mark('pipeline'));
      }),
    );
  } finally {
    await sim.close();
    await Promise.all([trivialStack.close(), pipelineStack.close()]);
  }

  const rounds = (shape: Shape): ShapeRound[] =>
    inRound[shape].map((round, i) => {
      const from = marks[shape][i]!;
      const to = marks[shape][i + 1]!;
      const notRunning = to.at - from.at - round.ms;
      return { serverMs: to.cpuMs - from.cpuMs - idlePerMs[shape] * notRunning, workerMs: round.cpu.workerMs };
    });
  const perTask = (r: ShapeRound) => (r.serverMs + r.workerMs) / sizes.cpuTasks;
  const split = { pipeline: rounds('pipeline'), trivial: rounds('trivial') };
  const pipeline = split.pipeline.map(perTask);
  const trivial = split.trivial.map(perTask);
  const ratio = mean(pipeline) / mean(trivial);
  const ratios = pipeline.map((p, i) => p / trivial[i]!);
  const server = (xs: ShapeRound[]) => round(mean(xs.map((x) => x.serverMs)) / sizes.cpuTasks, 1);
  const worker = (xs: ShapeRound[]) => round(mean(xs.map((x) => x.workerMs)) / sizes.cpuTasks, 1);
  const duringRound = (shape: Shape) => round(mean(inRound[shape].map((r) => r.cpu.serverMs)) / sizes.cpuTasks, 1);
  const idle = (shape: Shape) => round(idlePerMs[shape] * 1000, 1);
  return {
    figures: [
      figure('7', `CPU per solved task, pipeline (${sizes.cpuTasks} instant solves)`, round(mean(pipeline), 1), 'ms', undefined,
        `server + worker; rounds: ${spread(pipeline, 1, 1)} ms; server ${server(split.pipeline)} ms (${duringRound('pipeline')} of it during the round), worker and driver ${worker(split.pipeline)} ms`),
      figure('7', 'CPU per child, trivial shape (a server of its own)', round(mean(trivial), 1), 'ms', undefined,
        `rounds: ${spread(trivial, 1, 1)} ms; server ${server(split.trivial)} ms (${duringRound('trivial')} of it during the round), worker and driver ${worker(split.trivial)} ms`),
      figure('7', 'CPU per task ratio pipeline / trivial', round(ratio, 2), '×', { op: '<=', value: 1.05 },
        `means of ${sizes.cpuRounds} rounds of ${sizes.cpuTasks}, interleaved ABBA after a warm-up round of each; each shape on a Temporal server of its own with one long-lived worker, ` +
          `its server's CPU counted from a round's start to its next round's (the last to ${Math.round(settleMs / 1000)} s after it ended), so the timers a round leaves are counted, on its own shape; ` +
          `idle rate subtracted for the time the shape was not running (${idle('pipeline')} and ${idle('trivial')} ms/s); every round's ratio: ${ratios.map((x) => round(x, 2)).join(', ')} ` +
          `(min ${round(Math.min(...ratios), 2)}, median ${round(quantile(ratios, 0.5), 2)}, max ${round(Math.max(...ratios), 2)}); the servers' /proc/<pid>/stat + this process's cpuUsage (the in-process workers and the driver)`),
    ],
    headline: `CPU per solved task (server + worker) ${round(mean(pipeline), 1)} ms vs the trivial shape's ${round(mean(trivial), 1)} ms: ${round(ratio, 2)}× (target ≤ 1.05).`,
    details: { tasks: sizes.cpuTasks, rounds: sizes.cpuRounds, concurrency: sizes.concurrency, settleMs, idleMsPerSecond: { pipeline: idle('pipeline'), trivial: idle('trivial') }, pipelineMsPerTask: pipeline, trivialMsPerTask: trivial, split, serverDuringRound: { pipeline: inRound.pipeline.map((r) => r.cpu.serverMs), trivial: inRound.trivial.map((r) => r.cpu.serverMs) } },
  };
}
