// The environment, parsed once by zod into one frozen Config. A bad value fails with the variable's name.
// The connection to Temporal follows Temporal's own conventions (@temporalio/envconfig, as the `temporal` CLI and the
// SDKs do): a profile of a temporal.toml file, with TEMPORAL_* variables on top, and the CLI's flags on top of those.
import { existsSync } from 'node:fs';
import { platform } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { loadClientConfig, loadClientConfigProfile, type ClientConfigProfile, type ClientConfigTLS } from '@temporalio/envconfig';
import { DEFAULT_DLQ_WORKFLOW_ID } from './domain/names';
import { z } from 'zod';
import { CodecKeyError, parseCodecKeys, type CodecKeySpec } from './codec';
import { DEFAULT_SUBMIT_TIMEOUT_MS } from './providers/transport';
import { reportWindowMs } from './providers/report-window';
import { resolveSolvePolicy, submitActivityTimeoutMs } from './domain/policies';
import type { SolvePolicy, SolvePolicyOverrides } from './domain/types';
import { PROVIDERS } from './providers/classify';
import { DEFAULT_PROVIDER_BASE_URLS } from './providers';
import { parseRoster, type RosterEntry } from './providers/roster';
import { CAPTCHA_TYPES } from './domain/types';
import { mergePrices, parseBudgetUsd, per1000ToMicros, type PriceTable } from './domain/prices';

/** legacy in.php/res.php family: captchaai, 2captcha; JSON createTask family: 2captcha-v2, anticaptcha, capsolver, capmonster */
export { PROVIDERS };
export type ProviderName = (typeof PROVIDERS)[number];

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const num = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().min(min).max(max);

/** Every variable the product reads, with its default. The README's configuration table mirrors this. */
const envSchema = z.object({
  // Temporal's own connection variables (read by @temporalio/envconfig; checked here only for shape)
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).optional(),
  TEMPORAL_PROFILE: z.string().min(1).optional(),
  TEMPORAL_CONFIG_FILE: z.string().min(1).optional(),
  TEMPORAL_TLS: bool.optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  // our former names of three of them (DEPRECATED_CONNECTION_VARIABLES)
  TEMPORAL_TLS_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_CA_PATH: z.string().min(1).optional(),

  TEMPORAL_TASK_QUEUE: z.string().min(1).default('captcha-solve'),
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
  /** price overrides, USD per 1000 submits: `{"2captcha":{"recaptcha-v2":2.99}}` (src/domain/prices.ts has the defaults) */
  CAPTCHA_PRICES: z.string().max(4096).optional(),
  CAPTCHA_MIN_POLL_INTERVAL_MS: int(0).optional(),
  /** several providers (src/providers/roster.ts): a JSON list or a file path; unset: CAPTCHA_PROVIDER alone */
  CAPTCHA_PROVIDERS: z.string().min(1).max(100_000).optional(),
  /** per-provider health (src/providers/routes.ts): capacity failures in the window that open a circuit, its cooldown */
  CAPTCHA_HEALTH_CAPACITY_FAILURES: int(1, 1_000).default(3),
  CAPTCHA_HEALTH_WINDOW_MS: int(100).default(10_000),
  CAPTCHA_HEALTH_COOLDOWN_MS: int(10).default(30_000),
  CAPTCHA_HEALTH_ACCOUNT_FAILURES: int(1, 1_000).default(1),
  /** polls within this many ms share one request (`res.php?action=get&ids=`) where the provider allows; 0: off */
  CAPTCHA_POLL_COALESCE_MS: int(0, 5_000).default(100),

  /**
   * Callback mode (src/callbacks): the public base URL providers can reach our receiver at (an ingress in front of the
   * workers' CAPTCHA_CALLBACK_PORT). Unset: polling only, as before.
   */
  CAPTCHA_CALLBACK_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** signs the per-task callback URLs (HMAC-SHA256); unset: a key derived from CAPTCHA_API_KEY (HKDF) */
  CAPTCHA_CALLBACK_SECRET: z.string().min(32, 'must be at least 32 characters').max(1_024).optional(),
  CAPTCHA_CALLBACK_HOST: z.string().min(1).default('0.0.0.0'),
  CAPTCHA_CALLBACK_PORT: int(0, 65_535).default(8_090),
  /** a solve polls when no push came by the type's expected solve time × SCALE + GRACE */
  CAPTCHA_CALLBACK_GRACE_MS: int(0, 3_600_000).optional(),
  CAPTCHA_CALLBACK_WAIT_SCALE: num(0, 100).optional(),

  SOLVE_SUBMIT_MAX_ATTEMPTS: int(1, 20).optional(),
  SOLVE_SUBMIT_INITIAL_INTERVAL_MS: int(1).optional(),
  SOLVE_SUBMIT_LOCAL: bool.optional(),
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
  /** account: token reports and feedback counts, balance checks and the low-balance alert (workflows/account.ts) */
  ACCOUNT_WORKFLOW_ID: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9._:@-]+$/, 'may contain only letters, digits and . _ : @ -')
    .default('captcha-account'),
  /** a balance below this raises one alert per crossing, checked before a batch starts; unset: no alert */
  CAPTCHA_LOW_BALANCE: num(0).optional(),
  /**
   * the most all batches together may spend in a UTC day, in USD ("25.00"); unset: no cap. Batches lease it from the
   * account workflow in chunks of CAPTCHA_DAILY_CAP_CHUNK_SUBMITS submits (src/domain/daily-cap.ts: the overspend bound)
   */
  CAPTCHA_DAILY_CAP_USD: z
    .string()
    .max(40)
    .refine((v) => !('error' in parseBudgetUsd(v)), { message: 'must be an amount in USD that is not negative, such as 25.00' })
    .optional(),
  CAPTCHA_DAILY_CAP_CHUNK_SUBMITS: int(1, 10_000).default(20),
  /** how long after a solve a report is accepted; default the provider's (src/providers/report-window.ts) */
  CAPTCHA_REPORT_WINDOW_MS: int(1_000).optional(),

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
    /** certificates by path or inline data (a profile may carry either); read when connecting */
    tls?: Omit<ClientConfigTLS, 'disabled'>;
    apiKey?: string;
    /** gRPC headers from the profile (`[profile.x.grpc_meta]`) or TEMPORAL_GRPC_META_* */
    grpcMeta?: Record<string, string>;
    /** the temporal.toml profile the settings came from, if a file was read */
    profile?: { name: string; file: string };
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
    /** polls within this window share one request, for providers with `get-multi` (src/providers/poll-coalescer.ts); 0: off */
    pollCoalesceMs: number;
    /** client-side limits; `minPollIntervalMs` defaults to the solve policy's poll interval */
    limits: { submitsPer3s: number; minPollIntervalMs: number };
  };
  /**
   * Every provider a route may name, in default-route order: CAPTCHA_PROVIDERS, or the single provider above. Keys
   * as for `provider`: worker only.
   */
  providers: (RosterEntry & { baseUrl: string })[];
  /** per-provider health shared by a worker's activities (src/providers/routes.ts HealthOptions) */
  health: { accountThreshold: number; capacityThreshold: number; windowMs: number; cooldownMs: number };
  /** micro-USD per paid submit by provider and type: the defaults with CAPTCHA_PRICES on top */
  prices: PriceTable;
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
  /** callback mode (absent without CAPTCHA_CALLBACK_URL): the receiver runs in the worker */
  callback?: {
    /** public base URL; per-task URLs are `<publicUrl>/callbacks/<signed reference>` */
    publicUrl: string;
    /** the signing secret (worker only); absent: derived from the provider key */
    secret?: string;
    host: string;
    port: number;
  };
  batchConcurrency: number;
  /** token reports, feedback counts and balance (workflows/account.ts) */
  account: {
    workflowId: string;
    /** balance below which one alert is raised per crossing */
    lowBalance?: number;
    /** micro-USD all batches may spend in a UTC day (CAPTCHA_DAILY_CAP_USD); absent: no cap */
    dailyCapMicros?: number;
    /** submits' worth a batch leases at once from the daily cap */
    dailyCapChunkSubmits: number;
    /** how long after a solve a report is accepted */
    reportWindowMs: number;
  };
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

/** What the CLI's `--address`, `--namespace`, `--profile` (and `--config-file`) set: applied over the profile and env. */
export interface ConnectionOverrides {
  address?: string;
  namespace?: string;
  profile?: string;
  configFile?: string;
}

export interface LoadConfigOptions {
  connection?: ConnectionOverrides;
  /** where the deprecation line goes; default: stderr, once per process */
  warn?: (line: string) => void;
}

/** Our former names → Temporal's (the `temporal` CLI's and the SDKs'). The old ones still work, with a warning. */
export const DEPRECATED_CONNECTION_VARIABLES = {
  TEMPORAL_TLS_CERT_PATH: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY_PATH: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA_PATH: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
} as const;

const warned = new Set<string>();
function warnOnce(line: string): void {
  if (warned.has(line)) return;
  warned.add(line);
  process.stderr.write(`${line}\n`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadConfigOptions = {}): Readonly<Config> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(environment)');
      const shown = variable.includes('KEY') || variable.includes('SECRET') || variable === 'ALERT_WEBHOOK_URL' || variable === 'CAPTCHA_PROVIDERS' ? '(hidden)' : JSON.stringify(env[variable]);
      return `${variable}=${shown}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  if (e.SOLVE_SUBMIT_LOCAL === true && e.WORKER_TASK_QUEUE_ACTIVITIES_PER_SECOND !== undefined) {
    throw new ConfigError(
      'invalid configuration: SOLVE_SUBMIT_LOCAL=true with WORKER_TASK_QUEUE_ACTIVITIES_PER_SECOND set: local submits are not tasks the server schedules, so its rate limit would not cover them; unset SOLVE_SUBMIT_LOCAL (it is false under a task-queue limit)',
    );
  }
  const connection = loadConnection(env, e.TEMPORAL_TLS, options);
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
      // a local submit is not a task the server schedules: a task-queue rate limit would not cover it
      local: e.SOLVE_SUBMIT_LOCAL ?? e.WORKER_TASK_QUEUE_ACTIVITIES_PER_SECOND === undefined,
    }),
    poll: compact({
      firstDelayMs: e.SOLVE_POLL_FIRST_DELAY_MS,
      intervalMs: e.SOLVE_POLL_INTERVAL_MS,
      deadlineMs: e.SOLVE_POLL_DEADLINE_MS,
    }),
    ...compact({ maxResubmits: e.SOLVE_MAX_RESUBMITS }),
    ...(e.CAPTCHA_CALLBACK_URL !== undefined && {
      callback: compact({ graceMs: e.CAPTCHA_CALLBACK_GRACE_MS, expectedSolveScale: e.CAPTCHA_CALLBACK_WAIT_SCALE }),
    }),
  };
  const solvePolicy = resolveSolvePolicy(policyOverrides);
  let roster: RosterEntry[] | undefined;
  if (e.CAPTCHA_PROVIDERS !== undefined) {
    try {
      roster = parseRoster(e.CAPTCHA_PROVIDERS, env);
    } catch (err) {
      throw new ConfigError(`invalid configuration:\n  ${(err as Error).message}`);
    }
  }
  const config: Config = {
    temporal: {
      ...connection,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      connectTimeoutMs: e.TEMPORAL_CONNECT_TIMEOUT_MS,
      ...(codecKeys && { codecKeys }),
    },
    provider: {
      name: e.CAPTCHA_PROVIDER,
      ...compact({ apiKey: e.CAPTCHA_API_KEY }),
      baseUrl: (e.CAPTCHA_BASE_URL ?? DEFAULT_PROVIDER_BASE_URLS[e.CAPTCHA_PROVIDER]).replace(/\/+$/, ''),
      requestTimeoutMs: e.CAPTCHA_REQUEST_TIMEOUT_MS,
      submitTimeoutMs: e.CAPTCHA_SUBMIT_TIMEOUT_MS,
      connections: e.CAPTCHA_CONNECTIONS,
      pollCoalesceMs: e.CAPTCHA_POLL_COALESCE_MS,
      limits: {
        submitsPer3s: e.CAPTCHA_MAX_SUBMITS_PER_3S,
        minPollIntervalMs: e.CAPTCHA_MIN_POLL_INTERVAL_MS ?? solvePolicy.poll.intervalMs,
      },
    },
    providers: roster
      ? roster.map((p) => ({ ...p, baseUrl: p.baseUrl ?? DEFAULT_PROVIDER_BASE_URLS[p.provider] }))
      : [
          {
            name: e.CAPTCHA_PROVIDER,
            provider: e.CAPTCHA_PROVIDER,
            ...compact({ apiKey: e.CAPTCHA_API_KEY }),
            baseUrl: (e.CAPTCHA_BASE_URL ?? DEFAULT_PROVIDER_BASE_URLS[e.CAPTCHA_PROVIDER]).replace(/\/+$/, ''),
          },
        ],
    health: {
      accountThreshold: e.CAPTCHA_HEALTH_ACCOUNT_FAILURES,
      capacityThreshold: e.CAPTCHA_HEALTH_CAPACITY_FAILURES,
      windowMs: e.CAPTCHA_HEALTH_WINDOW_MS,
      cooldownMs: e.CAPTCHA_HEALTH_COOLDOWN_MS,
    },
    prices: parsePriceOverrides(e.CAPTCHA_PRICES),
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
    ...(e.CAPTCHA_CALLBACK_URL !== undefined && {
      callback: {
        publicUrl: e.CAPTCHA_CALLBACK_URL.replace(/\/+$/, ''),
        ...compact({ secret: e.CAPTCHA_CALLBACK_SECRET }),
        host: e.CAPTCHA_CALLBACK_HOST,
        port: e.CAPTCHA_CALLBACK_PORT,
      },
    }),
    batchConcurrency: e.BATCH_CONCURRENCY,
    account: {
      workflowId: e.ACCOUNT_WORKFLOW_ID,
      ...compact({ lowBalance: e.CAPTCHA_LOW_BALANCE }),
      ...(e.CAPTCHA_DAILY_CAP_USD !== undefined && { dailyCapMicros: (parseBudgetUsd(e.CAPTCHA_DAILY_CAP_USD) as { micros: number }).micros }),
      dailyCapChunkSubmits: e.CAPTCHA_DAILY_CAP_CHUNK_SUBMITS,
      reportWindowMs: reportWindowMs(e.CAPTCHA_PROVIDER, e.CAPTCHA_REPORT_WINDOW_MS),
    },
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

/** CAPTCHA_PRICES: known providers and types only, each a number of USD per 1000 submits from 0 to 1000. */
function parsePriceOverrides(text: string | undefined): PriceTable {
  if (text === undefined) return mergePrices();
  const fail = (why: string): never => {
    throw new ConfigError(`invalid configuration:\n  CAPTCHA_PRICES: ${why}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    fail('not JSON; give USD per 1000 submits by provider and type, e.g. {"2captcha":{"recaptcha-v2":2.99}}');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('must be an object of providers');
  const overrides: Record<string, Record<string, number>> = {};
  for (const [provider, prices] of Object.entries(raw as Record<string, unknown>)) {
    if (!(PROVIDERS as readonly string[]).includes(provider)) fail(`unknown provider ${JSON.stringify(provider)} (known: ${PROVIDERS.join(', ')})`);
    if (typeof prices !== 'object' || prices === null || Array.isArray(prices)) fail(`${provider} must be an object of captcha types`);
    overrides[provider] = {};
    for (const [type, usd] of Object.entries(prices as Record<string, unknown>)) {
      if (!(CAPTCHA_TYPES as readonly string[]).includes(type)) fail(`${provider}: unknown captcha type ${JSON.stringify(type)} (known: ${CAPTCHA_TYPES.join(', ')})`);
      if (typeof usd !== 'number' || !Number.isFinite(usd) || usd < 0 || usd > 1000) fail(`${provider}.${type} must be USD per 1000 submits, from 0 to 1000`);
      overrides[provider]![type] = per1000ToMicros(usd as number);
    }
  }
  return mergePrices(overrides);
}

type Connection = Pick<Config['temporal'], 'address' | 'namespace' | 'tls' | 'apiKey' | 'grpcMeta' | 'profile'>;

/**
 * The connection as Temporal's tools resolve it: the profile (TEMPORAL_PROFILE, else `default`) of the temporal.toml at
 * TEMPORAL_CONFIG_FILE (else the user's config folder, `~/.config/temporalio/temporal.toml` on Linux), then the TEMPORAL_*
 * variables over it, then `overrides` over those. Every mistake is one sentence; the API key is never in it.
 */
function loadConnection(env: NodeJS.ProcessEnv, tlsFlag: boolean | undefined, options: LoadConfigOptions): Connection {
  const overrides = options.connection ?? {};
  const temporalEnv: Record<string, string> = Object.fromEntries(Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined));
  const deprecated: string[] = [];
  for (const [old, current] of Object.entries(DEPRECATED_CONNECTION_VARIABLES)) {
    const value = env[old];
    if (value === undefined) continue;
    if (env[current] !== undefined && env[current] !== value) {
      throw new ConfigError(`invalid configuration: ${old} and ${current} are both set and differ; keep ${current} only`);
    }
    temporalEnv[current] = value;
    delete temporalEnv[old];
    deprecated.push(`${old} → ${current}`);
  }
  if (deprecated.length) {
    (options.warn ?? warnOnce)(`deprecated: ${deprecated.join(', ')} (Temporal's own names, also read by the temporal CLI); the old names will be removed`);
  }
  // zod accepted yes/no too; envconfig knows only true/1
  if (tlsFlag !== undefined) temporalEnv.TEMPORAL_TLS = String(tlsFlag);

  const named = overrides.configFile !== undefined ? '--config-file' : env.TEMPORAL_CONFIG_FILE !== undefined ? 'TEMPORAL_CONFIG_FILE' : undefined;
  const file = overrides.configFile ?? env.TEMPORAL_CONFIG_FILE ?? defaultProfileFile(env);
  const profileName = overrides.profile ?? env.TEMPORAL_PROFILE;
  const profileFrom = overrides.profile !== undefined ? '--profile' : 'TEMPORAL_PROFILE';
  const fileExists = file !== undefined && existsSync(file);
  if (named && !fileExists) throw new ConfigError(`invalid configuration: the profile file ${file} (${named}) does not exist`);
  if (fileExists) {
    let profiles: Record<string, ClientConfigProfile>;
    try {
      profiles = loadClientConfig({ configSource: { path: file } }).profiles;
    } catch (err) {
      const line = (err as { line?: unknown }).line;
      throw new ConfigError(`invalid configuration: ${file} is not a valid temporal.toml: ${firstLine(err)}${typeof line === 'number' ? ` (line ${line})` : ''}`);
    }
    if (profileName !== undefined && !Object.hasOwn(profiles, profileName)) {
      const names = Object.keys(profiles);
      throw new ConfigError(
        `invalid configuration: profile "${profileName}" (${profileFrom}) is not in ${file}; ${names.length ? `its profiles: ${names.join(', ')}` : 'it has no profiles'}`,
      );
    }
  } else if (profileName !== undefined) {
    throw new ConfigError(`invalid configuration: profile "${profileName}" (${profileFrom}) asked for, but there is no profile file${file ? ` at ${file}` : ''}; set TEMPORAL_CONFIG_FILE`);
  }
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({
      ...(profileName !== undefined && { profile: profileName }),
      ...(fileExists ? { configSource: { path: file } } : { disableFile: true }),
      overrideEnvVars: temporalEnv,
    });
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${fileExists ? `${file}: ` : ''}${firstLine(err)}`);
  }

  const address = overrides.address ?? profile.address ?? 'localhost:7233';
  const apiKey = profile.apiKey;
  const { disabled, ...tls } = profile.tls ?? {};
  if (!!tls.clientCert !== !!tls.clientKey) {
    throw new ConfigError(
      'invalid configuration: the client certificate and key go together (mTLS): TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH, or both in the profile',
    );
  }
  // an API key is a bearer token: it never travels in clear text
  if (apiKey && disabled) {
    throw new ConfigError('invalid configuration: TEMPORAL_API_KEY requires TLS; remove TEMPORAL_TLS=false (or the profile\'s tls.disabled)');
  }
  // Temporal Cloud: <namespace>.<account>.tmprl.cloud:7233 takes mTLS or an API key, and names the namespace
  const cloudNamespace = /^([a-z0-9-]+\.[a-z0-9]+)\.tmprl\.cloud(?::\d+)?$/i.exec(address)?.[1];
  if (cloudNamespace && !apiKey && !tls.clientCert) {
    throw new ConfigError(
      `invalid configuration: ${address} is a Temporal Cloud endpoint: set TEMPORAL_API_KEY, or TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (mTLS)`,
    );
  }
  const tlsWanted = !disabled && (profile.tls !== undefined || !!apiKey);
  return {
    address,
    namespace: overrides.namespace ?? profile.namespace ?? cloudNamespace ?? 'default',
    ...(tlsWanted && { tls }),
    ...compact({ apiKey, grpcMeta: profile.grpcMeta }),
    ...(fileExists && { profile: { name: profileName ?? 'default', file } }),
  };
}

/** Where Temporal's tools look for temporal.toml when TEMPORAL_CONFIG_FILE is unset (as @temporalio/envconfig does). */
function defaultProfileFile(env: NodeJS.ProcessEnv): string | undefined {
  if (platform() === 'win32') return env.APPDATA ? join(env.APPDATA, 'temporalio', 'temporal.toml') : undefined;
  if (platform() === 'darwin') return env.HOME ? join(env.HOME, 'Library', 'Application Support', 'temporalio', 'temporal.toml') : undefined;
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg) return isAbsolute(xdg) ? join(xdg, 'temporalio', 'temporal.toml') : undefined;
  return env.HOME ? join(env.HOME, '.config', 'temporalio', 'temporal.toml') : undefined;
}

function firstLine(err: unknown): string {
  return ((err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '').slice(0, 200);
}

/** The worker cannot run without the provider key; a client can. */
export function requireProviderKey(config: Config): string {
  const keyless = config.providers.find((p) => !p.apiKey);
  if (config.providers.length > 1 || config.providers[0]?.name !== config.provider.name) {
    if (keyless) throw new ConfigError(`invalid configuration: provider ${keyless.name} in CAPTCHA_PROVIDERS has no key (apiKey or apiKeyEnv)`);
    return config.providers[0]!.apiKey!;
  }
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
