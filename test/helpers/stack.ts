// The product's moving parts for a test: a simulator over real HTTP and a real worker on a unique task queue, against
// the file's one Temporal server (./temporal). Timings are scaled down; nothing else is faked.
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { CaptchaSolver } from '../../src/client';
import { loadConfig, type Config, type ProviderName } from '../../src/config';
import { createProvider, type ProviderConfig } from '../../src/providers';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server';
import { createWorker } from '../../src/worker';
import { bundleWorkflows, uniqueTaskQueue, type TestEnv } from './temporal';

/** A key no real provider knows; tests search histories and logs for it. */
export const SENTINEL_KEY = 'SENTINELKEY0123456789abcdef01234';

/** Scaled-down solve timings: a 120 s poll deadline becomes 1.5 s. */
export const FAST_ENV = {
  SOLVE_SUBMIT_INITIAL_INTERVAL_MS: '20',
  SOLVE_POLL_FIRST_DELAY_MS: '20',
  SOLVE_POLL_INTERVAL_MS: '30',
  SOLVE_POLL_DEADLINE_MS: '1500',
  CAPTCHA_REQUEST_TIMEOUT_MS: '2000',
};

export interface Stack {
  sim: Simulator;
  config: Readonly<Config>;
  solver: CaptchaSolver;
  client: Client;
  taskQueue: string;
  /** runs a worker while `fn` runs */
  run<T>(fn: () => Promise<T>): Promise<T>;
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
  worker?: Parameters<typeof createWorker>[0]['options'];
  /** CAPTCHA_PROVIDER of the stack (default captchaai); a JSON provider also sets the simulator's dialect */
  provider?: ProviderName;
  /** extra createProvider options (a call hook, limits) */
  providerOptions?: Pick<ProviderConfig, 'onCall' | 'limits'>;
  /** extra createWorker options (activity events) */
  workerExtras?: Pick<Parameters<typeof createWorker>[0], 'activityEvents' | 'callbackUrlFor' | 'inbox'>;
}

export async function startStack(testEnv: TestEnv, options: StackOptions): Promise<Stack> {
  const sim = await startSimulator({ timeScale: 0.001, ...(options.provider && { provider: options.provider }), ...options.simulator });
  const taskQueue = uniqueTaskQueue(options.name);
  const apiKey = options.apiKey ?? SENTINEL_KEY;
  const config = loadConfig({
    CAPTCHA_API_KEY: apiKey,
    CAPTCHA_BASE_URL: sim.url,
    TEMPORAL_TASK_QUEUE: taskQueue,
    DLQ_WORKFLOW_ID: `dlq-${taskQueue}`,
    ...FAST_ENV,
    ...(options.provider && { CAPTCHA_PROVIDER: options.provider }),
    ...options.env,
  });
  const provider = createProvider({ ...config.provider, apiKey, ...options.providerOptions });
  const workflowBundle = await bundleWorkflows();
  const client = testEnv.client;
  const solver = new CaptchaSolver(client, config);
  let worker: Worker | undefined;
  return {
    sim,
    config,
    solver,
    client,
    taskQueue,
    async run<T>(fn: () => Promise<T>): Promise<T> {
      worker = await createWorker({
        config,
        connection: testEnv.nativeConnection,
        client,
        provider,
        workflowBundle,
        ...(options.worker && { options: options.worker }),
        ...options.workerExtras,
      });
      return worker.runUntil(fn());
    },
    async close() {
      await provider.close();
      await sim.close();
    },
  };
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
