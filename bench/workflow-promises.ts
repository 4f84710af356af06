// Promises made in workflow context per solve, the pipeline against the trivial shape. The SDK's promise hook takes a
// stack trace, mapped through the bundle's source map, of every one of them (for the __stack_trace query), and there is
// no switch for it: it is the largest piece of a workflow thread's CPU that the workflow code itself decides. The count
// is deterministic for a given SDK, so a change that adds promises to the hot path shows here at once.
import v8 from 'node:v8';
import { loadConfig } from '../src/config';
import { createProvider } from '../src/providers';
import { createWorker } from '../src/worker';
import { round } from './histories';
import { figure, type Figure } from './report';
import { BENCH_API_KEY, NO_WAIT_POLICY, benchEnv, spawnSimulator, type BenchContext } from './stack';
import { pipelineBatch, trivialBatch, trivialWorker } from './throughput';

const TASKS = 50;
const PIPELINE_TYPES = ['captchaBatchWorkflow', 'solveCaptchaWorkflow'];
const TRIVIAL_TYPES = ['trivialBatchWorkflow', 'trivialSolveWorkflow'];

/** The workflow type whose context made `promise`, if a workflow's (the SDK's activator global, as its own hook reads it). */
function workflowTypeOf(promise: Promise<unknown>): string | undefined {
  try {
    const inContext = (promise.constructor.constructor as FunctionConstructor)('return globalThis.__TEMPORAL_ACTIVATOR__') as () => { info?: { workflowType?: string } } | undefined;
    return inContext()?.info?.workflowType;
  } catch {
    return undefined;
  }
}

/**
 * One batch of each shape on debug-mode workers (workflows in this thread, where a promise hook of ours sees them),
 * 50 instant solves, 10 in flight.
 */
export async function measureWorkflowPromises(ctx: BenchContext): Promise<Figure[]> {
  const { stack } = ctx;
  const sub: BenchContext = { ...ctx, sizes: { ...ctx.sizes, throughputTasks: TASKS, concurrency: 10 } };
  const counts = new Map<string, number>();
  const sim = await spawnSimulator({ scenarios: { sitekeys: { '*': { outcome: { type: 'solve', afterMs: 0 } } } } });
  const env = benchEnv(stack, 'q-bench-promises-pipeline', sim, NO_WAIT_POLICY);
  const config = loadConfig(env);
  const provider = createProvider({ ...config.provider, apiKey: BENCH_API_KEY });
  const stopHook = v8.promiseHooks.onInit((promise) => {
    const type = workflowTypeOf(promise);
    if (type !== undefined) counts.set(type, (counts.get(type) ?? 0) + 1);
  });
  try {
    const trivialQueue = 'q-bench-promises-trivial';
    const trivial = await trivialWorker(sub, trivialQueue, { debugMode: true });
    const pipeline = await createWorker({ config, connection: stack.connection, client: stack.client, provider, workflowBundle: stack.bundle, options: { debugMode: true } });
    await trivial.runUntil(
      pipeline.runUntil(async () => {
        await trivialBatch(sub, trivialQueue, 'bench-promises-trivial');
        await pipelineBatch(sub, config, 'bench-promises-pipeline');
      }),
    );
  } finally {
    stopHook();
    await provider.close();
    await sim.close();
  }
  const perSolve = (types: string[]) => types.reduce((n, t) => n + (counts.get(t) ?? 0), 0) / TASKS;
  const ours = perSolve(PIPELINE_TYPES);
  const theirs = perSolve(TRIVIAL_TYPES);
  if (ours === 0 || theirs === 0) throw new Error(`no promise made in workflow context was seen (${JSON.stringify(Object.fromEntries(counts))}): the SDK's activator global moved`);
  const split = (types: string[]) => types.map((t) => `${t} ${round((counts.get(t) ?? 0) / TASKS, 1)}`).join(', ');
  return [
    figure('7', 'promises made in workflow context per solve, pipeline (batch + child)', round(ours, 1), undefined, { op: '<=', value: 34 },
      `${split(PIPELINE_TYPES)}; each costs the worker a stack trace in the SDK's promise hook; ${TASKS} instant solves on a debug-mode worker`),
    figure('7', 'promises made in workflow context per child, trivial shape', round(theirs, 1), undefined, undefined, `${split(TRIVIAL_TYPES)}; ratio ${round(ours / theirs, 2)}×`),
  ];
}
