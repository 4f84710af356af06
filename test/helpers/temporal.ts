// The test harness for every test file that needs Temporal: one real dev server per test file, one workflow bundle
// per file, a unique task queue per test.
//
//   let t: TestEnv;
//   before(async () => { t = await startTestEnv(); });
//   after(() => t.teardown());
//   test('...', async () => {
//     const taskQueue = uniqueTaskQueue('solve');
//     const worker = await Worker.create({ connection: t.nativeConnection, namespace: t.namespace, taskQueue,
//       workflowBundle: await bundleWorkflows(), activities });
//     await worker.runUntil(t.client.workflow.execute(...));
//   });
//
// A missing `temporal` binary fails loudly (run `npm run provision`); tests are never skipped for it.
// The server is the SDK's own test environment (`TestWorkflowEnvironment.createLocal`) on our pinned binary
// (src/dev/temporal-cli.ts); the product's parts on top of it come from src/dev/stack.ts (see ./stack.ts).
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, bundleWorkflowCode } from '@temporalio/worker';
import { PRODUCT_BUNDLE } from '../../src/workflow-bundle';
import type { LogLevel, NativeConnection, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { resolveTemporalCli } from '../../src/dev/temporal-cli';
import { SEARCH_ATTRIBUTES } from '../../src/domain/names';
import type { SearchAttributeTypeName } from '../../src/domain/names';

export interface TestEnvOptions {
  /** Registered in addition to our product's `SEARCH_ATTRIBUTES` (always registered). */
  searchAttributes?: Record<string, SearchAttributeTypeName>;
  /** Server dynamic config, e.g. `{ 'limit.historyCount.suggestContinueAsNew': 50 }`. Values are sent as JSON. */
  dynamicConfig?: Record<string, unknown>;
}

export interface TestEnv {
  env: TestWorkflowEnvironment;
  client: Client;
  /** For `Worker.create({ connection })`. */
  nativeConnection: NativeConnection;
  /** `127.0.0.1:<port>` of the server, for subprocesses (CLI tests). */
  address: string;
  namespace: string;
  /** How long the server took to start and accept connections. */
  startMs: number;
  /** Stops the server. Call it in `after()`: an open connection keeps the test process alive. */
  teardown(): Promise<void>;
}

const TYPE: Record<SearchAttributeTypeName, SearchAttributeType> = {
  Keyword: SearchAttributeType.KEYWORD,
  Text: SearchAttributeType.TEXT,
  Int: SearchAttributeType.INT,
  Double: SearchAttributeType.DOUBLE,
  Bool: SearchAttributeType.BOOL,
  Datetime: SearchAttributeType.DATETIME,
  KeywordList: SearchAttributeType.KEYWORD_LIST,
};

const envs = new Map<string, Promise<TestEnv>>();

/**
 * Starts `temporal server start-dev` (headless, in memory) through `TestWorkflowEnvironment.createLocal`, once per
 * test file: calls with the same options share one server until its `teardown()`.
 */
export function startTestEnv(opts: TestEnvOptions = {}): Promise<TestEnv> {
  const key = JSON.stringify([opts.searchAttributes ?? {}, opts.dynamicConfig ?? {}]);
  let started = envs.get(key);
  if (!started) {
    started = createEnv(opts, () => envs.delete(key));
    envs.set(key, started);
    started.catch(() => envs.delete(key));
  }
  return started;
}

async function createEnv(opts: TestEnvOptions, forget: () => void): Promise<TestEnv> {
  quietRuntime();
  // No download: a test machine must have the binary (`npm run provision`), and a failure must say so.
  const cli = await resolveTemporalCli({ allowInstall: true });
  const searchAttributes = Object.entries({ ...SEARCH_ATTRIBUTES, ...opts.searchAttributes }).map(([name, type]) =>
    defineSearchAttributeKey(name, TYPE[type]),
  );
  const extraArgs = Object.entries(opts.dynamicConfig ?? {}).flatMap(([k, v]) => [
    '--dynamic-config-value',
    `${k}=${JSON.stringify(v)}`,
  ]);
  const started = Date.now();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli.path },
      searchAttributes,
      extraArgs,
      // The server's own output goes straight to this process's stdout/stderr: keep it to errors.
      log: { format: 'pretty', level: 'error' },
    },
  });
  const startMs = Date.now() - started;
  let stopping: Promise<void> | undefined;
  const testEnv: TestEnv = {
    env,
    client: env.client,
    nativeConnection: env.nativeConnection,
    address: env.address,
    namespace: env.namespace ?? 'default',
    startMs,
    teardown() {
      forget();
      stopping ??= env.teardown();
      return stopping;
    },
  };
  return testEnv;
}

/** Worker and bundler logs at WARN (override with TEMPORAL_TEST_LOG_LEVEL), unless the test file installed its own. */
function quietRuntime(): void {
  if (Runtime._instance) return;
  const level = (process.env.TEMPORAL_TEST_LOG_LEVEL ?? 'WARN') as LogLevel;
  Runtime.install({ logger: new DefaultLogger(level) });
}

let queues = 0;
const fileTag = randomBytes(3).toString('hex');

/** A task queue no other test (in this file or another) uses: `${name}-${file tag}-${n}`. */
export function uniqueTaskQueue(name: string): string {
  return `${name}-${fileTag}-${++queues}`;
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/** Bundles the workflows once per test file (default: the product's `workflows/index.ts`). */
export function bundleWorkflows(workflowsPath: string = PRODUCT_BUNDLE.workflowsPath): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(workflowsPath);
  if (!bundle) {
    const level = (process.env.TEMPORAL_TEST_LOG_LEVEL ?? 'WARN') as LogLevel;
    // the product's bundle as the worker builds it (its modules preloaded); another entry as it is
    const preload = workflowsPath === PRODUCT_BUNDLE.workflowsPath ? { preloadModules: PRODUCT_BUNDLE.preloadModules } : {};
    bundle = bundleWorkflowCode({ workflowsPath, ...preload, logger: new DefaultLogger(level) });
    bundles.set(workflowsPath, bundle);
    bundle.catch(() => bundles.delete(workflowsPath));
  }
  return bundle;
}
