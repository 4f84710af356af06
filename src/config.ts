// The environment, parsed once by zod into one frozen Config. A bad value fails with the variable's name.
import { DEFAULT_DLQ_WORKFLOW_ID } from './domain/names';
import { z } from 'zod';
import { CodecKeyError, parseCodecKeys, type CodecKeySpec } from './codec';
import { DEFAULT_SUBMIT_TIMEOUT_MS } from './providers/transport';
import { resolveSolvePolicy, submitActivityTimeoutMs } from './domain/policies';
import type { SolvePolicy, SolvePolicyOverrides } from './domain/types';

/** legacy in.php/res.php family: captchaai, 2captcha; JSON createTask family: 2captcha-v2, anticaptcha, capsolver, capmonster */
export const PROVIDERS = ['captchaai', '2captcha', '2captcha-v2', 'anticaptcha', 'capsolver', 'capmonster'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export const DEFAULT_BASE_URLS: Record<ProviderName, string> = {
  captchaai: 'https://ocr.captchaai.com',
  '2captcha': 'https://2captcha.com',
  '2captcha-v2': 'https://api.2captcha.com',
  anticaptcha: 'https://api.anti-captcha.com',
  capsolver: 'https://api.capsolver.com',
  capmonster: 'https://api.capmonster.cloud',
};

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const num = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().min(min).max(max);

/** Every variable the product reads, with its default. The README's configuration table mirrors this. */
const envSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('captcha-solve'),
  TEMPORAL_TLS: bool.default(false),
  TEMPORAL_TLS_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_CA_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  /** how long a client or worker waits for the server before saying it cannot reach it */
  TEMPORAL_CONNECT_TIMEOUT_MS: int(100, 600_000).default(5_000),
  /** payload encryption (src/codec.ts): `id:base64key,…`, the first encrypts, all decrypt */
  TEMPORAL_CODEC_KEYS: z.string().min(1).optional(),

  CAPTCHA_PROVIDER: z.enum(PROVIDERS).default('captchaai'),
  CAPTCHA_API_KEY: z.string().min(1).optional(),
  CAPTCHA_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  CAPTCHA_REQUEST_TIMEOUT_MS: int(100).default(15_000),
  /** a sent submit may be paid whatever happens next: it is waited for this long, well above a slow provider's answer */
  CAPTCHA_SUBMIT_TIMEOUT_MS: int(1_000, 600_000).default(DEFAULT_SUBMIT_TIMEOUT_MS),
  CAPTCHA_CONNECTIONS: int(1, 1024).default(32),
  /** client-side ban rules (src/providers/rate-limit.ts): in.php calls per 3 s, and the gap between polls of one task */
  CAPTCHA_MAX_SUBMITS_PER_3S: int(1, 10_000).default(60),
  CAPTCHA_MIN_POLL_INTERVAL_MS: int(0).optional(),

  SOLVE_SUBMIT_MAX_ATTEMPTS: int(1, 20).optional(),
  SOLVE_SUBMIT_INITIAL_INTERVAL_MS: int(1).optional(),
  SOLVE_POLL_FIRST_DELAY_MS: int(0).optional(),
  SOLVE_POLL_INTERVAL_MS: int(1).optional(),
  SOLVE_POLL_DEADLINE_MS: int(1).optional(),
  SOLVE_MAX_RESUBMITS: int(0, 10).optional(),

  DLQ_WORKFLOW_ID: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9._:@/-]+$/, 'may contain only letters, digits and . _ : @ / -')
    .refine((id) => !id.startsWith('solve/'), 'must not start with solve/ (the ids of solves)')
    .default(DEFAULT_DLQ_WORKFLOW_ID),
  /** one DLQ workflow holds ~2,000 entries within 1 MB of state; 100,000 entries want 50 shards */
  DLQ_SHARD_COUNT: int(1, 1_000).default(1),
  DLQ_SOFT_LIMIT: int(1).default(2_000),
  DLQ_RETRY_CAP: int(0, 100).default(3),
  DLQ_RETRY_CONCURRENCY: int(1, 500).default(10),
  DLQ_RETRY_RATE_PER_SECOND: num(0.001).default(5),
  DLQ_OLDEST_AGE_ALERT_MS: int(1).default(24 * 3_600_000),
  ALERT_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  BATCH_CONCURRENCY: int(1, 500).default(50),

  WORKER_MAX_CONCURRENT_ACTIVITIES: int(1, 10_000).default(500),
  /**
   * Workflow tasks a worker holds at once. Their activations run one at a time on the worker's workflow thread: a task
   * held beyond what that thread runs promptly waits inside the worker with its 10 s timeout running. 100 keeps a
   * batch's children flowing (20 cut a 2-core worker's throughput by ~30 %); with the DLQ's O(1) signal handling and
   * paced shard snapshots a 100,000-entry DLQ runs clean at 100. Lower it on a small, CPU-starved worker.
   */
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: int(1, 10_000).default(100),
  WORKER_TASK_QUEUE_ACTIVITIES_PER_SECOND: num(0.001).optional(),
  LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),

  /** the worker's Prometheus endpoint (src/metrics.ts): ours plus the SDK's; unset: no metrics, 0: any free port */
  METRICS_PORT: int(0, 65_535).optional(),
  METRICS_HOST: z.string().min(1).default('0.0.0.0'),
  /** the SDK's own Prometheus exporter (Temporal Core); default METRICS_PORT + 1, on 127.0.0.1 unless set */
  TEMPORAL_METRICS_PORT: int(1, 65_535).optional(),
});

export interface Config {
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    connectTimeoutMs: number;
    tls?: { certPath?: string; keyPath?: string; caPath?: string; serverName?: string };
    apiKey?: string;
    /** AES-256-GCM payload codec keys, current first (src/codec.ts); absent: payloads are stored as plain JSON */
    codecKeys?: CodecKeySpec[];
  };
  provider: {
    name: ProviderName;
    /** the secret: handed to the provider client in the worker, never to a workflow, activity argument or log */
    apiKey?: string;
    baseUrl: string;
    requestTimeoutMs: number;
    /** how long a sent submit waits for its answer (the submit activity's timeout is made to fit it) */
    submitTimeoutMs: number;
    connections: number;
    /** client-side limits; `minPollIntervalMs` defaults to the solve policy's poll interval */
    limits: { submitsPer3s: number; minPollIntervalMs: number };
  };
  solvePolicy: SolvePolicy;
  dlqWorkflowId: string;
  /** how the DLQ starts when the first failure creates it (`DlqSettings` in workflows/messages.ts) */
  dlq: {
    shardCount: number;
    softLimit: number;
    retryCap: number;
    retryConcurrency: number;
    retryRatePerSecond: number;
    oldestAgeAlertMs: number;
  };
  /** DLQ alerts are POSTed here (JSON), besides being logged; a secret like the provider key: worker only */
  alertWebhookUrl?: string;
  batchConcurrency: number;
  logLevel: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  worker: {
    maxConcurrentActivities: number;
    maxConcurrentWorkflowTasks: number;
    taskQueueActivitiesPerSecond?: number;
  };
  /** absent without METRICS_PORT */
  metrics?: {
    host: string;
    /** ours (prom-client), which also relays the SDK's */
    port: number;
    /** the SDK's exporter: `host:port` to bind */
    sdkBindAddress: string;
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(environment)');
      const shown = variable.includes('KEY') || variable === 'ALERT_WEBHOOK_URL' ? '(hidden)' : JSON.stringify(env[variable]);
      return `${variable}=${shown}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  const tlsWanted =
    e.TEMPORAL_TLS || !!(e.TEMPORAL_TLS_CERT_PATH || e.TEMPORAL_TLS_CA_PATH || e.TEMPORAL_TLS_SERVER_NAME) || !!e.TEMPORAL_API_KEY;
  if (!!e.TEMPORAL_TLS_CERT_PATH !== !!e.TEMPORAL_TLS_KEY_PATH) {
    throw new ConfigError('invalid configuration: TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together (mTLS)');
  }
  // an API key is a bearer token: it never travels in clear text
  if (e.TEMPORAL_API_KEY && env.TEMPORAL_TLS !== undefined && !e.TEMPORAL_TLS) {
    throw new ConfigError('invalid configuration: TEMPORAL_API_KEY requires TLS; remove TEMPORAL_TLS=false');
  }
  // Temporal Cloud: <namespace>.<account>.tmprl.cloud:7233 takes mTLS or an API key, and names the namespace
  const cloudNamespace = /^([a-z0-9-]+\.[a-z0-9]+)\.tmprl\.cloud(?::\d+)?$/i.exec(e.TEMPORAL_ADDRESS)?.[1];
  if (cloudNamespace && !e.TEMPORAL_API_KEY && !e.TEMPORAL_TLS_CERT_PATH) {
    throw new ConfigError(
      `invalid configuration: ${e.TEMPORAL_ADDRESS} is a Temporal Cloud endpoint: set TEMPORAL_API_KEY, or TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH (mTLS)`,
    );
  }
  const namespace = env.TEMPORAL_NAMESPACE === undefined && cloudNamespace ? cloudNamespace : e.TEMPORAL_NAMESPACE;
  let codecKeys: CodecKeySpec[] | undefined;
  if (e.TEMPORAL_CODEC_KEYS !== undefined) {
    try {
      codecKeys = parseCodecKeys(e.TEMPORAL_CODEC_KEYS);
    } catch (err) {
      if (!(err instanceof CodecKeyError)) throw err;
      throw new ConfigError(`invalid configuration:\n  TEMPORAL_CODEC_KEYS=(hidden): ${err.message}`);
    }
  }
  const policyOverrides: SolvePolicyOverrides = {
    submit: compact({
      maxAttempts: e.SOLVE_SUBMIT_MAX_ATTEMPTS,
      initialIntervalMs: e.SOLVE_SUBMIT_INITIAL_INTERVAL_MS,
      // the submit activity must outlast the submit's own wait, or it is retried while the first one may be paid
      timeoutMs: submitActivityTimeoutMs(e.CAPTCHA_SUBMIT_TIMEOUT_MS),
    }),
    poll: compact({
      firstDelayMs: e.SOLVE_POLL_FIRST_DELAY_MS,
      intervalMs: e.SOLVE_POLL_INTERVAL_MS,
      deadlineMs: e.SOLVE_POLL_DEADLINE_MS,
    }),
    ...compact({ maxResubmits: e.SOLVE_MAX_RESUBMITS }),
  };
  const solvePolicy = resolveSolvePolicy(policyOverrides);
  const config: Config = {
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      connectTimeoutMs: e.TEMPORAL_CONNECT_TIMEOUT_MS,
      ...(tlsWanted && {
        tls: compact({
          certPath: e.TEMPORAL_TLS_CERT_PATH,
          keyPath: e.TEMPORAL_TLS_KEY_PATH,
          caPath: e.TEMPORAL_TLS_CA_PATH,
          serverName: e.TEMPORAL_TLS_SERVER_NAME,
        }),
      }),
      ...compact({ apiKey: e.TEMPORAL_API_KEY }),
      ...(codecKeys && { codecKeys }),
    },
    provider: {
      name: e.CAPTCHA_PROVIDER,
      ...compact({ apiKey: e.CAPTCHA_API_KEY }),
      baseUrl: (e.CAPTCHA_BASE_URL ?? DEFAULT_BASE_URLS[e.CAPTCHA_PROVIDER]).replace(/\/+$/, ''),
      requestTimeoutMs: e.CAPTCHA_REQUEST_TIMEOUT_MS,
      submitTimeoutMs: e.CAPTCHA_SUBMIT_TIMEOUT_MS,
      connections: e.CAPTCHA_CONNECTIONS,
      limits: {
        submitsPer3s: e.CAPTCHA_MAX_SUBMITS_PER_3S,
        minPollIntervalMs: e.CAPTCHA_MIN_POLL_INTERVAL_MS ?? solvePolicy.poll.intervalMs,
      },
    },
    solvePolicy,
    dlqWorkflowId: e.DLQ_WORKFLOW_ID,
    dlq: {
      shardCount: e.DLQ_SHARD_COUNT,
      softLimit: e.DLQ_SOFT_LIMIT,
      retryCap: e.DLQ_RETRY_CAP,
      retryConcurrency: e.DLQ_RETRY_CONCURRENCY,
      retryRatePerSecond: e.DLQ_RETRY_RATE_PER_SECOND,
      oldestAgeAlertMs: e.DLQ_OLDEST_AGE_ALERT_MS,
    },
    ...compact({ alertWebhookUrl: e.ALERT_WEBHOOK_URL }),
    batchConcurrency: e.BATCH_CONCURRENCY,
    logLevel: e.LOG_LEVEL,
    worker: {
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTasks: e.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      ...compact({ taskQueueActivitiesPerSecond: e.WORKER_TASK_QUEUE_ACTIVITIES_PER_SECOND }),
    },
    ...(e.METRICS_PORT !== undefined && {
      metrics: {
        host: e.METRICS_HOST,
        port: e.METRICS_PORT,
        sdkBindAddress:
          e.TEMPORAL_METRICS_PORT !== undefined
            ? `${e.METRICS_HOST}:${e.TEMPORAL_METRICS_PORT}`
            : // next to ours when ours is fixed; any free port (loopback: reached through ours) otherwise
              `127.0.0.1:${e.METRICS_PORT === 0 ? 0 : e.METRICS_PORT + 1}`,
      },
    }),
  };
  return deepFreeze(config);
}

/** The worker cannot run without the provider key; a client can. */
export function requireProviderKey(config: Config): string {
  if (!config.provider.apiKey) throw new ConfigError('invalid configuration: CAPTCHA_API_KEY is required to run a worker');
  return config.provider.apiKey;
}

function compact<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
