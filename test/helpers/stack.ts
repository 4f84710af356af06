// The product's moving parts for a test: a simulator over real HTTP and a real worker on a unique task queue, against
// the file's one Temporal server (./temporal). Timings are scaled down; nothing else is faked.
import type { Client } from '@temporalio/client';
import type { CaptchaSolver } from '../../src/client';
import type { ProviderName } from '../../src/config';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../src/dev/stack';
import type { SimulatorOptions } from '../../src/simulator/server';
import type { DlqEntry } from '../../workflows/messages';
import { bundleWorkflows, uniqueTaskQueue, type TestEnv } from './temporal';

/** A key no real provider knows; tests search histories and logs for it. */
export const SENTINEL_KEY = 'SENTINELKEY0123456789abcdef01234';

/**
 * Scaled-down solve timings: a 120 s poll deadline becomes 1.5 s. One request per poll (no coalescing), so that the
 * tests' per-task poll scripts apply; test/poll-many.test.ts turns coalescing on.
 */
export const FAST_ENV = {
  SOLVE_SUBMIT_INITIAL_INTERVAL_MS: '20',
  SOLVE_POLL_FIRST_DELAY_MS: '20',
  SOLVE_POLL_INTERVAL_MS: '30',
  SOLVE_POLL_DEADLINE_MS: '1500',
  CAPTCHA_REQUEST_TIMEOUT_MS: '2000',
  CAPTCHA_POLL_COALESCE_MS: '0',
};

/** The test environment of a stack: the sentinel key, fast timings, and the task queue's own DLQ. */
export function testStackEnv(taskQueue: string, extra: Record<string, string> = {}): Record<string, string> {
  return { CAPTCHA_API_KEY: SENTINEL_KEY, TEMPORAL_TASK_QUEUE: taskQueue, DLQ_WORKFLOW_ID: `dlq-${taskQueue}`, ...FAST_ENV, ...extra };
}

/** The local stack (src/dev/stack.ts) on the file's server, with a simulator and its own task queue. */
export interface Stack extends LocalStack {
  sim: NonNullable<LocalStack['sim']>;
  taskQueue: string;
  close(): Promise<void>;
}

export interface StackOptions {
  name: string;
  simulator?: SimulatorOptions;
  /** the provider key of the worker (default SENTINEL_KEY) */
  apiKey?: string;
  /** extra environment for loadConfig */
  env?: Record<string, string>;
  /** extra worker options */
  worker?: LocalStackOptions['workerOptions'];
  /** CAPTCHA_PROVIDER of the stack (default captchaai); a JSON provider also sets the simulator's dialect */
  provider?: ProviderName;
  /** extra createProvider options (a call hook, limits) */
  providerOptions?: LocalStackOptions['providerOptions'];
  /** extra createWorker options (activity events) */
  workerExtras?: Pick<LocalStackOptions, 'activityEvents' | 'callbackUrlFor' | 'inbox'>;
}

/** A stack for the length of `fn`: started, its worker running while `fn` runs, closed whatever happens. */
export async function withStack<T>(testEnv: TestEnv, options: StackOptions, fn: (s: Stack) => Promise<T>): Promise<T> {
  const stack = await startStack(testEnv, options);
  try {
    return await stack.run(() => fn(stack));
  } finally {
    await stack.close();
  }
}

export async function startStack(testEnv: TestEnv, options: StackOptions): Promise<Stack> {
  const taskQueue = uniqueTaskQueue(options.name);
  const stack = await startLocalStack({
    temporal: { client: testEnv.client, connection: testEnv.nativeConnection },
    simulator: { timeScale: 0.001, ...(options.provider && { provider: options.provider }), ...options.simulator },
    env: testStackEnv(taskQueue, {
      ...(options.apiKey && { CAPTCHA_API_KEY: options.apiKey }),
      ...(options.provider && { CAPTCHA_PROVIDER: options.provider }),
      ...options.env,
    }),
    workflowBundle: await bundleWorkflows(),
    ...(options.worker && { workerOptions: options.worker }),
    ...(options.providerOptions && { providerOptions: options.providerOptions }),
    ...options.workerExtras,
  });
  return { ...stack, sim: stack.sim!, taskQueue, close: stack.stop };
}

/** Every entry of the solver's DLQ, through the client's own pager (every shard, every page). */
export async function allDlqEntries(solver: CaptchaSolver): Promise<DlqEntry[]> {
  const entries: DlqEntry[] = [];
  for await (const entry of solver.dlqEntries()) entries.push(entry);
  return entries;
}

/** Every history of every workflow on the server, as text with payload bytes decoded (for secret scans). */
export async function allHistoriesText(client: Client): Promise<{ count: number; text: string }> {
  const parts: string[] = [];
  for await (const wf of client.workflow.list()) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    collectText(history, parts);
  }
  return { count: parts.length && (await countWorkflows(client)), text: parts.join('\n') };
}

async function countWorkflows(client: Client): Promise<number> {
  let n = 0;
  for await (const _ of client.workflow.list()) n++;
  return n;
}

/** Every string and every byte field (decoded as UTF-8) found below `value`. */
function collectText(value: unknown, out: string[]): void {
  if (value === null || value === undefined) return;
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const v of value) collectText(v, out);
  else if (typeof value === 'object') for (const v of Object.values(value)) collectText(v, out);
  else out.push(String(value));
}
