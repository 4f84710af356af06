// ONE local stack: a Temporal dev server (or a server already running), the provider simulator, and what a worker
// needs (config, connections, provider), assembled in that order and stopped in reverse. Used by `npm run demo`, the
// CLI's `dev` command, the benchmark and the tests' stack helper.
//
//   const stack = await startLocalStack({ temporal: { devServer: { dbFile: devDbFile() } }, simulator: {}, env: process.env });
//   try { await stack.run(() => stack.solver.solve(task)); } finally { await stack.stop(); }
import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { CaptchaSolver } from '../client';
import { loadConfig, type Config } from '../config';
import { createProvider, type ProviderConfig } from '../providers';
import type { CaptchaProvider } from '../providers/types';
import { startSimulator, type Simulator, type SimulatorOptions } from '../simulator/server';
import { connectClient, connectWorker } from '../temporal';
import { createRouter, createWorker, type CreateWorkerOptions } from '../worker';
import type { ProviderRouter } from '../providers/routes';
import { startDevServer, type DevServer, type DevServerOptions } from './dev-server';

/** A key the simulator accepts (it takes any 32 characters) and no real provider knows. */
export const SIMULATOR_API_KEY = 'devsimulator00000000000000000000';

export interface LocalStackOptions {
  /**
   * Where Temporal is: `{ devServer }` starts one (in memory unless `dbFile`); `{ client, connection }` uses open
   * connections, which `stop()` leaves open (tests share one server per file); `{}` connects to the configured
   * TEMPORAL_ADDRESS. @defaultValue `{ devServer: {} }`
   */
  temporal?: { devServer: DevServerOptions } | { client: Client; connection: NativeConnection } | Record<string, never>;
  /** Starts the simulator with these options and points the provider at it; `false`: the configured provider. */
  simulator?: SimulatorOptions | false;
  /**
   * The environment `loadConfig` reads (pass `process.env` to include it). The stack sets TEMPORAL_ADDRESS and
   * TEMPORAL_NAMESPACE of a server it started, CAPTCHA_BASE_URL of its simulator, and CAPTCHA_API_KEY to
   * `SIMULATOR_API_KEY` with a simulator when none is given. @defaultValue `{}`
   */
  env?: NodeJS.ProcessEnv;
  /** The client's identity in Temporal. */
  identity?: string;
  /** Bundled workflows for the workers (tests bundle once per file); the workflows are bundled per worker otherwise. */
  workflowBundle?: WorkflowBundleWithSourceMap;
  /** Extra `Worker.create` options. */
  workerOptions?: CreateWorkerOptions['options'];
  /** Activity events (tests count them). */
  activityEvents?: CreateWorkerOptions['activityEvents'];
  /** Callback mode's URL signer and in-worker inbox, when a test runs its own receiver. */
  callbackUrlFor?: CreateWorkerOptions['callbackUrlFor'];
  inbox?: CreateWorkerOptions['inbox'];
  /** Extra provider options (a call hook, limits). */
  providerOptions?: Pick<ProviderConfig, 'onCall' | 'limits'>;
}

export interface LocalStack {
  /** the dev server the stack started, if it started one */
  server?: DevServer;
  /** the simulator the stack started, if it started one */
  sim?: Simulator;
  config: Readonly<Config>;
  client: Client;
  /** the workers' connection */
  connection: NativeConnection;
  solver: CaptchaSolver;
  /** the provider client the workers use (holds the key); made on first use */
  provider(): CaptchaProvider;
  /** a new worker on the configured task queue (a worker runs once: one per `run`) */
  newWorker(): Promise<Worker>;
  /** runs a new worker while `fn` runs */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** stops and closes what the stack started or opened, in reverse order; idempotent */
  stop(): Promise<void>;
}

/** Which part of the stack failed to start: `LocalStackError.part`. */
export type StackPart = 'temporal' | 'simulator' | 'connections';

export class LocalStackError extends Error {
  constructor(
    readonly part: StackPart,
    cause: unknown,
  ) {
    super(`the local stack's ${part} did not start: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'LocalStackError';
  }
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const baseEnv = options.env ?? {};
  const base = loadConfig(baseEnv); // a bad environment fails before anything starts
  const temporal = options.temporal ?? { devServer: {} };
  const stops: (() => Promise<unknown>)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const close of stops.reverse()) await close().catch(() => undefined);
    })();
    return stopping;
  };
  const step = async <T>(part: StackPart, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      await stop();
      throw new LocalStackError(part, err);
    }
  };

  let server: DevServer | undefined;
  if ('devServer' in temporal) {
    server = await step('temporal', () => startDevServer({ namespace: base.temporal.namespace, ...temporal.devServer }));
    stops.push(() => server!.stop());
  }
  let sim: Simulator | undefined;
  if (options.simulator !== false) {
    // the simulator's ledger charges by the configured price table, as the configured provider
    sim = await step('simulator', () => startSimulator({ prices: base.prices, pricedAs: base.provider.name, ...(options.simulator || {}) }));
    stops.push(() => sim!.close());
  }
  const config = loadConfig({
    ...baseEnv,
    ...(server && { TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace }),
    ...(sim && { CAPTCHA_BASE_URL: sim.url, CAPTCHA_API_KEY: baseEnv.CAPTCHA_API_KEY ?? SIMULATOR_API_KEY }),
  });

  let client: Client;
  let connection: NativeConnection;
  if ('client' in temporal) {
    ({ client, connection } = temporal);
  } else {
    const opened = await step('connections', () => connectClient(config, options.identity));
    stops.push(() => opened.connection.close());
    const native = await step('connections', () => connectWorker(config));
    stops.push(() => native.close());
    [client, connection] = [opened, native];
  }

  let provider: CaptchaProvider | undefined;
  const providerOf = (): CaptchaProvider => {
    if (!provider) {
      const apiKey = config.provider.apiKey;
      if (!apiKey) throw new Error('CAPTCHA_API_KEY is required for a worker against a real provider');
      const made = createProvider({ ...config.provider, apiKey, ...options.providerOptions });
      stops.push(() => made.close());
      provider = made;
    }
    return provider;
  };
  // CAPTCHA_PROVIDERS: every configured provider behind one router (the simulator stands in for none of them)
  let router: ProviderRouter | undefined;
  const routerOf = (): ProviderRouter | undefined => {
    if (!router && base.providers.length > 1) {
      const made = createRouter(config, options.providerOptions?.onCall);
      stops.push(() => made.close());
      router = made;
    }
    return router;
  };
  const newWorker = (): Promise<Worker> =>
    createWorker({
      config,
      connection,
      client,
      provider: routerOf()?.client(config.providers[0]!.name) ?? providerOf(),
      ...(routerOf() && { router: routerOf()! }),
      ...(options.workflowBundle && { workflowBundle: options.workflowBundle }),
      ...(options.workerOptions && { options: options.workerOptions }),
      ...(options.activityEvents && { activityEvents: options.activityEvents }),
      ...(options.callbackUrlFor && { callbackUrlFor: options.callbackUrlFor }),
      ...(options.inbox && { inbox: options.inbox }),
    });

  return {
    ...(server && { server }),
    ...(sim && { sim }),
    config,
    client,
    connection,
    solver: new CaptchaSolver(client, config),
    provider: providerOf,
    newWorker,
    run: async (fn) => (await newWorker()).runUntil(fn()),
    stop,
  };
}
