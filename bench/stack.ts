// The benchmark's moving parts: the local stack (src/dev/stack.ts) without simulator or worker — one headless
// in-memory Temporal dev server (with its Prometheus endpoint, for the heartbeat count) and its connections — plus the
// two workflow bundles, and helpers that run the product's worker in-process or in a
// child process. Every measurement uses its own task queue, simulator and DLQ id, so they cannot disturb each other.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, bundleWorkflowCode, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { loadConfig, type Config } from '../src/config';
import { createProvider } from '../src/providers';
import { startSimulator, type Simulator, type SimulatorOptions } from '../src/simulator/server';
import { freePort, type DevServer } from '../src/dev/dev-server';
import { startLocalStack } from '../src/dev/stack';
import { resolveTemporalCli } from '../src/dev/temporal-cli';
import { createWorker } from '../src/worker';
import { PRODUCT_BUNDLE } from '../src/workflow-bundle';
import { resolveSolvePolicy } from '../src/domain/policies';
import type { SolvePolicy } from '../src/domain/types';

/** smoke: tiny sizes, for the test suite (it keeps the bench working, it measures nothing); quick: CI-sized; full. */
export type Mode = 'smoke' | 'quick' | 'full';

/** How big each measurement is; the modes differ only here (bench/run.ts). */
export interface Sizes {
  throughputTasks: number;
  throughputRounds: number;
  /** children in flight, for the pipeline and the trivial shape alike */
  concurrency: number;
  seedTasks: number;
  /** one of the seed's seconds, in real ms, for the seed comparison's clients (bench/seed-compare.ts) */
  seedSecondMs: number;
  killTasks: number;
  deadLetterTasks: number;
  dlqEntries: number[];
  batchTasks: number;
  /** the peer comparison (bench/peer.ts): tasks, in flight, interleaved rounds, one provider second in real ms */
  peerTasks: number;
  peerConcurrency: number;
  peerRounds: number;
  peerSecondMs: number;
  /** CPU per task, pipeline vs trivial shape: tasks per round, rounds */
  cpuTasks: number;
  cpuRounds: number;
}

export interface BenchContext {
  stack: BenchStack;
  mode: Mode;
  sizes: Sizes;
  log(line: string): void;
}

/** A 32-character key the simulator accepts; nothing real. */
export const BENCH_API_KEY = 'BENCHKEY0123456789abcdef01234567';

export interface BenchStack {
  server: DevServer;
  client: Client;
  connection: NativeConnection;
  /** the product's workflows (workflows/index.ts) and the trivial shape (bench/trivial-workflows.ts) */
  bundle: WorkflowBundleWithSourceMap;
  trivialBundle: WorkflowBundleWithSourceMap;
  /** the product bundle on disk, for workers in child processes */
  bundlePath: string;
  tmpDir: string;
  metricsUrl: string;
  /** `temporal --version` */
  temporalVersion: string;
  close(): Promise<void>;
}

export async function startBenchStack(log: (line: string) => void): Promise<BenchStack> {
  if (!Runtime._instance) Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cli = await resolveTemporalCli({ allowInstall: true });
  const tmpDir = await mkdtemp(join(tmpdir(), 'captcha-bench-'));
  const metricsPort = await freePort();
  log('starting the Temporal dev server and bundling the workflows');
  const bundling = Promise.all([
    bundleWorkflowCode({ ...PRODUCT_BUNDLE, logger: new DefaultLogger('WARN') }),
    bundleWorkflowCode({ workflowsPath: require.resolve('./trivial-workflows'), logger: new DefaultLogger('WARN') }),
  ]);
  const local = await startLocalStack({
    temporal: { devServer: { headless: true, extraArgs: ['--metrics-port', String(metricsPort)] } },
    simulator: false,
    identity: 'bench',
  });
  const { server, client, connection } = local;
  try {
    const [bundle, trivialBundle] = await bundling;
    const bundlePath = join(tmpDir, 'workflow-bundle.js');
    await writeFile(bundlePath, bundle.code);
    return {
      server: server!,
      client,
      connection,
      bundle,
      trivialBundle,
      bundlePath,
      tmpDir,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      temporalVersion: cli.version,
      async close() {
        await local.stop();
        await rm(tmpDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await local.stop();
    throw err;
  }
}

/** Simulator defaults for the bench: rate limits off (see bench/README.md), CaptchaAI quirks. */
export function startBenchSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  return startSimulator({ provider: 'captchaai', rateLimits: { submitBurst: false, pollBudget: false }, ...options });
}

/** A simulator in a child process (bench/simulator-process.ts), reached over HTTP like a provider. */
export interface RemoteSimulator {
  url: string;
  close(): Promise<void>;
}

export async function spawnSimulator(options: SimulatorOptions = {}): Promise<RemoteSimulator> {
  const child = spawn(process.execPath, ['--import', 'tsx', require.resolve('./simulator-process.ts')], {
    env: { ...process.env, BENCH_SIMULATOR_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    void exited.then(() => reject(new Error('the simulator process exited before it was ready')));
  });
  return {
    url,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.send('stop');
      await exited;
    },
  };
}

/**
 * The product's environment for one measurement: its task queue, simulator and DLQ, and its solve policy. The policy
 * goes into the worker's configuration too, because the provider client spaces polls by the configured interval
 * (CAPTCHA_MIN_POLL_INTERVAL_MS defaults to SOLVE_POLL_INTERVAL_MS), whatever interval a batch asks for. The client-side
 * 60-submits-per-3-s rule is lifted like the simulator's (bench/README.md).
 */
export function benchEnv(stack: BenchStack, taskQueue: string, sim: { url: string }, policy: SolvePolicy, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: stack.server.address,
    TEMPORAL_NAMESPACE: stack.server.namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    CAPTCHA_API_KEY: BENCH_API_KEY,
    CAPTCHA_BASE_URL: sim.url,
    CAPTCHA_MAX_SUBMITS_PER_3S: '10000',
    DLQ_WORKFLOW_ID: `dlq-${taskQueue}`,
    SOLVE_SUBMIT_MAX_ATTEMPTS: String(policy.submit.maxAttempts),
    SOLVE_SUBMIT_INITIAL_INTERVAL_MS: String(policy.submit.initialIntervalMs),
    SOLVE_POLL_FIRST_DELAY_MS: String(policy.poll.firstDelayMs),
    SOLVE_POLL_INTERVAL_MS: String(policy.poll.intervalMs),
    SOLVE_POLL_DEADLINE_MS: String(policy.poll.deadlineMs),
    SOLVE_MAX_RESUBMITS: String(policy.maxResubmits),
    ...extra,
  };
}

/** A policy that does not wait: instant solves leave only the machinery to measure. */
export const NO_WAIT_POLICY: SolvePolicy = resolveSolvePolicy({
  submit: { initialIntervalMs: 10, maxIntervalMs: 100 },
  poll: { firstDelayMs: 0, intervalMs: 10, deadlineMs: 30_000, retryIntervalMs: 10 },
});

/** Runs the product's worker in this process while `fn` runs. */
export async function withWorker<T>(stack: BenchStack, env: Record<string, string>, fn: (config: Readonly<Config>) => Promise<T>): Promise<T> {
  const config = loadConfig(env);
  const provider = createProvider({ ...config.provider, apiKey: BENCH_API_KEY });
  try {
    const worker = await createWorker({ config, connection: stack.connection, client: stack.client, provider, workflowBundle: stack.bundle });
    return await worker.runUntil(fn(config));
  } finally {
    await provider.close();
  }
}

/** A worker in a child process (bench/worker-process.ts): killable, and its memory is its own. */
export interface ChildWorker {
  process: ChildProcess;
  /** largest RSS sampled so far (bytes) */
  peakRss: number;
  exited: Promise<number | null>;
  /** `work`, unless the worker dies first (not by `stop` or `kill`): then an error saying how it died */
  watch<T>(work: Promise<T>): Promise<T>;
  /** asks it to drain and exit; resolves with the exit code */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export async function spawnWorker(stack: BenchStack, env: Record<string, string>): Promise<ChildWorker> {
  const child = spawn(process.execPath, ['--import', 'tsx', require.resolve('./worker-process.ts')], {
    env: { ...process.env, BENCH_WORKER_SPEC: JSON.stringify({ env, bundlePath: stack.bundlePath }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let ending = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const died = exited.then((code) => {
    if (!ending) throw new Error(`the worker process died (exit code ${code}, signal ${child.signalCode}); its output is above`);
    return new Promise<never>(() => undefined);
  });
  died.catch(() => undefined); // observed through watch()
  const worker: ChildWorker = {
    process: child,
    peakRss: 0,
    exited,
    watch: (work) => Promise.race([work, died]),
    async stop() {
      ending = true;
      if (child.exitCode === null && child.signalCode === null) child.send('shutdown');
      return exited;
    },
    async kill() {
      ending = true;
      child.kill('SIGKILL');
      await exited;
    },
  };
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type: string; rss?: number }) => {
      if (m.type === 'rss' && m.rss) worker.peakRss = Math.max(worker.peakRss, m.rss);
      if (m.type === 'ready') resolve();
    });
    void exited.then((code) => reject(new Error(`worker process exited (code ${code}) before it was ready`)));
  });
  return worker;
}

/** Rejects when `promise` takes longer than `ms`: a stuck measurement must fail, not hang the bench. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
