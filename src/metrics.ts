// The worker's Prometheus metrics: ours (prom-client) on METRICS_PORT, with the Temporal SDK's runtime metrics relayed
// into the same scrape.
//
//   GET /metrics   ours, then the SDK's (fetched from its own exporter, see installRuntime in ./temporal)
//   GET /healthz   200 while the worker runs, 503 otherwise (the container's HEALTHCHECK)
//
// Ours:
//   captcha_solved_total{provider}                               tokens returned by the poll activity
//   captcha_failures_total{provider,stage,class}                 submit / poll attempts that failed, by failure class
//   captcha_dead_lettered_total{provider,class}                  final failures recorded in the DLQ
//   captcha_possible_duplicate_submits_total{provider}           submits that may have been paid twice (a worker died
//                                                                or an answer was lost after sending; see README)
//   captcha_provider_calls_total{provider,endpoint,outcome}      every provider request (in.php, res.php, createTask, …)
//   captcha_provider_call_duration_seconds{provider,endpoint}    their latency
//   captcha_dlq_depth / captcha_dlq_entries{status}              entries held by the DLQ (its stats query, on scrape)
//   captcha_dlq_stats_up                                         1 when the last DLQ stats query answered
// plus prom-client's process_* and nodejs_* defaults.
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActivityEvents } from '../activities';
import type { ProviderCallHook } from './providers/observe';
import type { DlqStats } from '../workflows/messages';
import { listen } from './http';

export interface WorkerMetricsOptions {
  /**
   * Reads the DLQ's stats for the depth gauges; `undefined` means there is no DLQ yet (depth 0). Called on scrape, at
   * most once per `dlqRefreshMs`.
   */
  dlqStats?: () => Promise<DlqStats | undefined>;
  /** default 10 000 ms; 0 queries on every scrape */
  dlqRefreshMs?: number;
  /** a DLQ query that takes longer is abandoned for this scrape (default 3 000 ms) */
  dlqTimeoutMs?: number;
  /** process_* and nodejs_* metrics (default true) */
  defaultMetrics?: boolean;
}

export interface WorkerMetrics {
  readonly registry: Registry;
  /** give to createProvider({ onCall }) */
  readonly providerCall: ProviderCallHook;
  /** give to createWorker({ activityEvents }) */
  readonly activityEvents: ActivityEvents;
}

export function createWorkerMetrics(options: WorkerMetricsOptions = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const solved = new Counter({ name: 'captcha_solved_total', help: 'Captchas solved (tokens returned by the poll activity)', labelNames: ['provider'], registers: [registry] });
  const failures = new Counter({
    name: 'captcha_failures_total',
    help: 'Submit and poll activity attempts that failed, by failure class (each retry counts)',
    labelNames: ['provider', 'stage', 'class'],
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: 'captcha_dead_lettered_total',
    help: 'Final failures recorded in the dead-letter queue, by failure class',
    labelNames: ['provider', 'class'],
    registers: [registry],
  });
  const possibleDuplicates = new Counter({
    name: 'captcha_possible_duplicate_submits_total',
    help: 'Submits that may have been paid besides the one used: an earlier attempt sent one and died or lost its answer',
    labelNames: ['provider'],
    registers: [registry],
  });
  const switches = new Counter({
    name: 'captcha_provider_switches_total',
    help: 'Submits that went past a provider of their route (circuit open, or it refused) to the next one',
    labelNames: ['from', 'to', 'reason'],
    registers: [registry],
  });
  const spent = new Counter({
    name: 'captcha_spent_micro_usd_total',
    help: 'Money spent on paid submits, in micro-USD (1e-6 USD) by the price table (CAPTCHA_PRICES), by captcha type',
    labelNames: ['provider', 'type'],
    registers: [registry],
  });
  const calls = new Counter({
    name: 'captcha_provider_calls_total',
    help: 'Requests to the captcha provider by wire endpoint and outcome (ok, ready, not_ready, or the failure class)',
    labelNames: ['provider', 'endpoint', 'outcome'],
    registers: [registry],
  });
  const callSeconds = new Histogram({
    name: 'captcha_provider_call_duration_seconds',
    help: 'Latency of requests to the captcha provider',
    labelNames: ['provider', 'endpoint'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

  const dlqRefreshMs = options.dlqRefreshMs ?? 10_000;
  const dlqTimeoutMs = options.dlqTimeoutMs ?? 3_000;
  let last: { at: number; stats: DlqStats | undefined; up: boolean } | undefined;
  let inFlight: Promise<void> | undefined;
  const refreshDlq = async (): Promise<void> => {
    const source = options.dlqStats;
    if (!source || (last && Date.now() - last.at < dlqRefreshMs)) return;
    inFlight ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const stats = await Promise.race([
          source(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('DLQ stats query timed out')), dlqTimeoutMs);
          }),
        ]);
        last = { at: Date.now(), stats, up: true };
      } catch {
        last = { at: Date.now(), stats: last?.stats, up: false };
      } finally {
        clearTimeout(timer);
        inFlight = undefined;
      }
    })();
    await inFlight;
  };
  if (options.dlqStats) {
    new Gauge({
      name: 'captcha_dlq_depth',
      help: 'Entries held by the dead-letter queue (all shards)',
      registers: [registry],
      async collect() {
        await refreshDlq();
        this.set(last?.stats?.total ?? 0);
      },
    });
    new Gauge({
      name: 'captcha_dlq_entries',
      help: 'Entries held by the dead-letter queue, by status (dead, retrying, parked)',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        await refreshDlq();
        this.reset();
        for (const [status, count] of Object.entries(last?.stats?.byStatus ?? {})) this.set({ status }, count);
      },
    });
    new Gauge({
      name: 'captcha_dlq_stats_up',
      help: '1 when the last DLQ stats query answered (a missing DLQ counts as answered, depth 0)',
      registers: [registry],
      async collect() {
        await refreshDlq();
        this.set(last?.up ? 1 : 0);
      },
    });
  }

  return {
    registry,
    providerCall: (call) => {
      calls.inc({ provider: call.provider, endpoint: call.endpoint, outcome: call.outcome });
      callSeconds.observe({ provider: call.provider, endpoint: call.endpoint }, call.durationMs / 1000);
    },
    activityEvents: {
      solved: ({ provider }) => solved.inc({ provider }),
      failed: ({ provider, stage, failureClass }) => failures.inc({ provider, stage, class: failureClass }),
      deadLettered: ({ provider, failureClass }) => deadLettered.inc({ provider, class: failureClass }),
      possibleDuplicateSubmit: ({ provider, count }) => possibleDuplicates.inc({ provider }, count),
      providerSwitch: ({ from, to, reason }) => switches.inc({ from, to, reason }),
      spent: ({ provider, type, micros }) => spent.inc({ provider, type }, micros),
    },
  };
}

export interface MetricsServerOptions {
  metrics: WorkerMetrics;
  /** default 0.0.0.0 */
  host?: string;
  /** 0: any free port */
  port: number;
  /** the SDK exporter's /metrics URL, relayed after ours; absent: ours only */
  sdkMetricsUrl?: string;
  /** /healthz answers 200 while this says true (default: always) */
  healthy?: () => boolean;
}

export interface MetricsServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A tiny node:http server for GET /metrics and GET /healthz. */
export async function startMetricsServer({ metrics, host = '0.0.0.0', port, sdkMetricsUrl, healthy = () => true }: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/healthz') {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not running\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('try /metrics or /healthz\n');
      return;
    }
    void (async () => {
      const [ours, sdk] = await Promise.all([metrics.registry.metrics(), sdkMetricsUrl ? fetchSdkMetrics(sdkMetricsUrl) : Promise.resolve('')]);
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(sdk ? `${ours}\n${sdk}` : ours);
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
    });
  });
  return listen(server, port, host);
}

/** The SDK exporter's text; a comment line instead when it does not answer (the scrape still succeeds). */
async function fetchSdkMetrics(url: string): Promise<string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) return `# SDK metrics at ${url} answered HTTP ${response.status}\n`;
    return await response.text();
  } catch (error) {
    return `# SDK metrics at ${url} did not answer: ${error instanceof Error ? error.message : String(error)}\n`;
  }
}

/** `host:port` with port 0 replaced by a free one (the SDK's exporter must be told a real port to be relayed). */
export async function resolveBindAddress(bind: string): Promise<string> {
  const match = /^(.*):(\d+)$/.exec(bind);
  if (!match) throw new Error(`not a host:port bind address: ${bind}`);
  const [, host = '127.0.0.1', port] = match;
  if (Number(port) !== 0) return bind;
  const free = await new Promise<number>((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port: picked } = probe.address() as AddressInfo;
      probe.close(() => resolve(picked));
    });
  });
  return `${host}:${free}`;
}

/** The URL ours relays for an SDK bind address (a wildcard bind is reached on loopback). */
export function sdkMetricsUrlOf(bind: string): string {
  const [, host = '127.0.0.1', port = '0'] = /^(.*):(\d+)$/.exec(bind) ?? [];
  const reachable = host === '0.0.0.0' || host === '::' || host === '[::]' ? '127.0.0.1' : host;
  return `http://${reachable}:${port}/metrics`;
}
