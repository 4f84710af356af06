// The worker: runs the workflows and the activities. It alone holds the provider's API key.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityEvents } from '../activities';
import { loadConfig, requireProviderKey, type Config } from './config';
import { createWorkerMetrics, resolveBindAddress, sdkMetricsUrlOf, startMetricsServer, type MetricsServer } from './metrics';
import { createProvider } from './providers';
import { PRODUCT_BUNDLE } from './workflow-bundle';
import type { CaptchaProvider } from './providers/types';
import { ProviderRouter } from './providers/routes';
import { dlqStatsQuery } from '../workflows/messages';
import { connectClient, connectWorker, dataConverterFor, installRuntime } from './temporal';
import type { Registry } from 'prom-client';
import { ensurePingback, pingbackClient } from './callbacks/pingback';
import { CallbackInbox } from './callbacks/inbox';
import { startCallbackReceiver } from './callbacks/receiver';
import { CALLBACK_PATH, callbackKey, callbackUrlFor } from './callbacks/tokens';

export interface CreateWorkerOptions {
  config: Config;
  connection: NativeConnection;
  /** used by activities that message workflows (DLQ reports) */
  client: Client;
  provider: CaptchaProvider;
  /** several providers with their health (CAPTCHA_PROVIDERS); default: `provider` alone */
  router?: ProviderRouter;
  taskQueue?: string;
  /** a prebuilt bundle (tests bundle once per file); otherwise the workflows are bundled at start */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** extra worker options (identity, tuning) */
  options?: Partial<WorkerOptions>;
  /** what the activities report (the worker's metrics, src/metrics.ts) */
  activityEvents?: ActivityEvents;
  /** callback mode: the signed per-task URL providers push to (src/callbacks/tokens.ts callbackUrlFor) */
  callbackUrlFor?: (workflowId: string) => string | undefined;
  /** callback mode: the receiver's hand-over to the polls of this worker */
  inbox?: CallbackInbox;
}

export async function createWorker({ config, connection, client, provider, router, taskQueue, workflowBundle, options, activityEvents, callbackUrlFor, inbox }: CreateWorkerOptions): Promise<Worker> {
  const dataConverter = dataConverterFor(config);
  return Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: taskQueue ?? config.temporal.taskQueue,
    ...(workflowBundle ? { workflowBundle } : { workflowsPath: PRODUCT_BUNDLE.workflowsPath, bundlerOptions: { preloadModules: PRODUCT_BUNDLE.preloadModules } }),
    activities: createActivities({
      provider,
      ...(router && { router }),
      client,
      ...(activityEvents && { events: activityEvents }),
      prices: config.prices,
      // a DLQ started by a failure inherits the deployment's settings, and its retries use the deployment's timings
      dlqSettings: { ...config.dlq, solvePolicy: config.solvePolicy, ...(config.temporal.codecKeys && { indexSitekeys: false }) },
      ...(config.alertWebhookUrl && { alertWebhookUrl: config.alertWebhookUrl }),
      ...(config.account.lowBalance !== undefined && { lowBalance: config.account.lowBalance }),
      ...(callbackUrlFor && { callbackUrlFor }),
      ...(inbox && { inbox }),
    }),
    ...(dataConverter && { dataConverter }),
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    // the submits run as local activities (SOLVE_SUBMIT_LOCAL): as many at once as activities
    maxConcurrentLocalActivityExecutions: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
    ...(config.worker.taskQueueActivitiesPerSecond !== undefined && {
      maxTaskQueueActivitiesPerSecond: config.worker.taskQueueActivitiesPerSecond,
    }),
    ...options,
  });
}

/** Every configured provider's client (the keys stay inside them), behind one router with per-provider health. */
export function createRouter(config: Config, onCall?: Parameters<typeof createProvider>[0]['onCall']): ProviderRouter {
  requireProviderKey(config);
  const providers = config.providers.map((p) => ({
    name: p.name,
    kind: p.provider,
    client: createProvider({
      name: p.provider,
      apiKey: p.apiKey ?? config.provider.apiKey ?? '',
      baseUrl: p.baseUrl,
      requestTimeoutMs: p.requestTimeoutMs ?? config.provider.requestTimeoutMs,
      submitTimeoutMs: config.provider.submitTimeoutMs,
      connections: p.connections ?? config.provider.connections,
      pollCoalesceMs: config.provider.pollCoalesceMs,
      limits: { ...config.provider.limits, ...(p.submitsPer3s !== undefined && { submitsPer3s: p.submitsPer3s }) },
      ...(onCall && { onCall }),
    }),
  }));
  return new ProviderRouter(providers, config.health);
}

/**
 * Callback mode: the receiver in this process (it needs the signing key and a Temporal client, both already here), and
 * for the legacy family the pingback address registered once (a no-op when it is already).
 */
export async function startCallbacks(config: Config, apiKey: string, client: Client, registry?: Registry) {
  const settings = config.callback;
  if (!settings) return undefined;
  const key = callbackKey(settings.secret, apiKey);
  // every legacy-family account of the roster pushes to the same receiver
  for (const p of config.providers) {
    const admin = pingbackClient({ name: p.provider, apiKey: p.apiKey ?? apiKey, baseUrl: p.baseUrl, requestTimeoutMs: p.requestTimeoutMs ?? config.provider.requestTimeoutMs });
    if (!admin) continue;
    try {
      if (await ensurePingback(admin, settings.publicUrl)) console.log(`registered the pingback address ${settings.publicUrl} with ${p.name}`);
    } finally {
      await admin.close();
    }
  }
  const inbox = new CallbackInbox();
  const receiver = await startCallbackReceiver({
    client,
    key,
    inbox,
    host: settings.host,
    port: settings.port,
    ...(registry && { registry }),
    onPush: (outcome, detail) => {
      if (outcome === 'forged') console.warn(`refused a callback with a forged or unknown URL (from ${detail.remote ?? 'unknown'})`);
      else if (outcome !== 'accepted') console.warn(`callback ${outcome}${detail.workflowId ? ` for ${detail.workflowId}` : ''}`);
    },
  });
  console.log(`callback receiver at ${receiver.url}, reached as ${settings.publicUrl}${CALLBACK_PATH}…`);
  return { receiver, inbox, urlFor: (workflowId: string) => callbackUrlFor(settings.publicUrl, key, workflowId) };
}

/** `npm run worker`: runs until SIGINT/SIGTERM, then drains in-flight tasks. */
export async function main(): Promise<void> {
  const config = loadConfig();
  const apiKey = requireProviderKey(config);
  const sdkBind = config.metrics && (await resolveBindAddress(config.metrics.sdkBindAddress));
  installRuntime(config.logLevel, sdkBind ? { metrics: { prometheusBindAddress: sdkBind } } : {});
  const [connection, client] = await Promise.all([connectWorker(config), connectClient(config)]);
  const metrics =
    config.metrics &&
    createWorkerMetrics({
      dlqStats: () =>
        client.workflow
          .getHandle(config.dlqWorkflowId)
          .query(dlqStatsQuery, { top: 1 })
          .catch((err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return undefined; // no failure yet: no DLQ, depth 0
            throw err;
          }),
    });
  const router = createRouter(config, metrics ? metrics.providerCall : undefined);
  const provider = router.client(router.defaultRoute[0]!);
  const callbacks = config.callback && (await startCallbacks(config, apiKey, client, metrics ? metrics.registry : undefined));
  const worker = await createWorker({
    config,
    connection,
    client,
    provider,
    router,
    ...(metrics && { activityEvents: metrics.activityEvents }),
    ...(callbacks && { callbackUrlFor: callbacks.urlFor, inbox: callbacks.inbox }),
  });
  let metricsServer: MetricsServer | undefined;
  if (config.metrics && metrics && sdkBind) {
    metricsServer = await startMetricsServer({
      metrics,
      host: config.metrics.host,
      port: config.metrics.port,
      sdkMetricsUrl: sdkMetricsUrlOf(sdkBind),
      healthy: () => worker.getState() === 'RUNNING',
    });
    console.log(`metrics at ${metricsServer.url}/metrics (SDK exporter ${sdkBind}, relayed), health at ${metricsServer.url}/healthz`);
  }
  console.log(
    `worker on task queue "${config.temporal.taskQueue}" (namespace ${config.temporal.namespace} at ${config.temporal.address}), providers ${config.providers.map((p) => `${p.name} at ${p.baseUrl}`).join(', ')}`,
  );
  try {
    await worker.run();
  } finally {
    await callbacks?.receiver.close();
    await metricsServer?.close();
    await router.close();
    await connection.close();
    await client.connection.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
