// Client of the JSON createTask / getTaskResult / getBalance family (provider-api.md, Family 2), one class for the
// dialects of 2captcha API v2, anti-captcha, CapSolver and CapMonster, on one pooled undici dispatcher. Every failure
// is classified here, once, with the same table as the legacy family (./classify); the key never leaves in an error.
//
// Dialect differences the client absorbs:
//   - errors arrive as HTTP 200 (anti-captcha, 2captcha v2, CapMonster) or HTTP 400/401 with `errorId: 1` (CapSolver):
//     a JSON body with `errorId > 0` is a protocol answer whatever the status;
//   - task ids are integers (anti-captcha, 2captcha v2, CapMonster; sent back as JSON numbers) or UUIDs (CapSolver);
//   - `status` is `processing`, `idle` (CapSolver: queued) or `ready`;
//   - CapMonster wants ≥ 2 s between two polls of a task and at most 120 polls per task (CapSolver: 120 as well);
//   - CapSolver answers image tasks synchronously: the solution comes with createTask and the next poll returns it;
//   - task type names differ (`RecaptchaV2TaskProxyless`, `ReCaptchaV2TaskProxyLess`, `AntiTurnstileTaskProxyLess`, …).
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Agent } from 'undici';
import { z } from 'zod';
import type { CaptchaOptions, CaptchaTask } from '../domain/types';
import { JSON_CAPABILITIES, type JsonTaskKind } from './capabilities';
import { JSON_ERROR_IDS, type JsonProviderName } from './classify';
import { containsSecret, type ProviderError, type ProviderTransientError } from './errors';
import { DEFAULT_SUBMIT_TIMEOUT_MS, answerError, answerTimeouts, createDispatcher, snippet, transientError, transportFailure } from './transport';
import type { CaptchaProvider, PollAnswer, SubmitOptions } from './types';

export type { JsonProviderName } from './classify';
export const JSON_PROVIDERS = ['2captcha-v2', 'anticaptcha', 'capsolver', 'capmonster'] as const satisfies readonly JsonProviderName[];

export interface JsonProviderOptions {
  name: JsonProviderName;
  /** e.g. https://api.capsolver.com; createTask, getTaskResult, getBalance are resolved under it */
  baseUrl: string;
  apiKey: string;
  /** limit of each phase of one exchange (connect, headers, body); default 15 000 ms */
  requestTimeoutMs?: number;
  /**
   * How long a submit waits for its answer once sent (default 60 000 ms). A submit that reached the provider is paid
   * whether or not its answer arrives: giving up early and submitting again pays twice, so this is well above a slow
   * provider's answer time, and separate from `requestTimeoutMs` (polls and the rest).
   */
  submitTimeoutMs?: number;
  /** keep-alive connections to the provider (default 32) */
  connections?: number;
  /** `softId` (anti-captcha, 2captcha v2) or `appId` (CapSolver) sent with every createTask */
  softId?: string | number;
  /** least gap between the answer of one poll of a task and the next poll of it; default: the dialect's (CapMonster 2 000) */
  minPollIntervalMs?: number;
  /** polls of one task before the client gives up on it (resubmit class, `ERROR_POLL_LIMIT`); default: the dialect's */
  maxPollsPerTask?: number;
}

interface Dialect {
  defaultBaseUrl: string;
  /** how task ids travel back to the provider */
  taskIdType: 'integer' | 'uuid';
  minPollIntervalMs: number;
  maxPollsPerTask: number;
  /** the name of the softId field in createTask */
  softIdField?: 'softId' | 'appId';
  taskTypes: Record<TaskKind, string>;
  /** the proxy-less name gets this suffix replaced when a proxy is given */
  proxylessSuffix: string;
  /** report endpoints and bodies; undefined: the dialect has no report API (reports resolve without a request) */
  report?: (verdict: 'good' | 'bad', taskId: string | number) => { endpoint: string; body: Record<string, unknown> } | undefined;
}

type TaskKind = JsonTaskKind;

/** The capability table's rows our client reads: the names it sends and the poll rules it keeps. */
function fromTable(name: JsonProviderName): Pick<Dialect, 'taskTypes' | 'proxylessSuffix' | 'minPollIntervalMs' | 'maxPollsPerTask'> {
  const caps = JSON_CAPABILITIES[name];
  return { taskTypes: caps.typeNames, proxylessSuffix: caps.proxylessSuffix, minPollIntervalMs: caps.poll.minIntervalMs, maxPollsPerTask: caps.poll.maxPollsPerTask };
}

export const JSON_DIALECTS: Readonly<Record<JsonProviderName, Readonly<Dialect>>> = {
  '2captcha-v2': {
    ...fromTable('2captcha-v2'),
    defaultBaseUrl: 'https://api.2captcha.com',
    taskIdType: 'integer',
    softIdField: 'softId',
    report: (verdict, taskId) => ({ endpoint: verdict === 'good' ? 'reportCorrect' : 'reportIncorrect', body: { taskId } }),
  },
  anticaptcha: {
    ...fromTable('anticaptcha'),
    defaultBaseUrl: 'https://api.anti-captcha.com',
    taskIdType: 'integer',
    softIdField: 'softId',
    report: (verdict, taskId) => ({ endpoint: verdict === 'good' ? 'reportCorrectRecaptcha' : 'reportIncorrectRecaptcha', body: { taskId } }),
  },
  capsolver: {
    ...fromTable('capsolver'),
    defaultBaseUrl: 'https://api.capsolver.com',
    taskIdType: 'uuid',
    softIdField: 'appId',
    report: (verdict, taskId) => ({ endpoint: 'feedbackTask', body: { taskId, result: { invalid: verdict === 'bad' } } }),
  },
  capmonster: {
    ...fromTable('capmonster'),
    defaultBaseUrl: 'https://api.capmonster.cloud',
    taskIdType: 'integer',
    softIdField: undefined,
    report: undefined,
  },
};

function kindOf(task: CaptchaTask): TaskKind {
  const enterprise = task.options?.enterprise === true;
  switch (task.type) {
    case 'recaptcha-v2':
      return enterprise ? 'recaptcha-v2-enterprise' : 'recaptcha-v2';
    case 'recaptcha-v3':
      return enterprise ? 'recaptcha-v3-enterprise' : 'recaptcha-v3';
    default:
      return task.type;
  }
}

/** `login:pass@host:port` or `host:port` → the JSON family's proxy fields (CapSolver: one `proxy` string). */
function proxyFields(name: JsonProviderName, options: CaptchaOptions): Record<string, unknown> {
  if (!options.proxy) return {};
  const match = /^(?:([^:@]+)(?::([^@]*))?@)?([^:@]+):(\d{1,5})$/.exec(options.proxy);
  if (!match) return {};
  const [, login, password, host, port] = match;
  const type = (options.proxyType ?? 'HTTP').toLowerCase();
  if (name === 'capsolver') return { proxy: [type, host, port, login, password].filter((part) => part !== undefined).join(':') };
  return {
    proxyType: type,
    proxyAddress: host,
    proxyPort: Number(port),
    ...(login !== undefined && { proxyLogin: login }),
    ...(password !== undefined && { proxyPassword: password }),
  };
}

/** The `task` object of a createTask request for this dialect. */
export function jsonTaskFor(name: JsonProviderName, task: CaptchaTask): Record<string, unknown> {
  const dialect = JSON_DIALECTS[name];
  const options = task.options ?? {};
  const proxy = proxyFields(name, options);
  const proxied = Object.keys(proxy).length > 0;
  const baseType = dialect.taskTypes[kindOf(task)];
  const type = proxied && baseType.endsWith(dialect.proxylessSuffix) ? baseType.slice(0, -dialect.proxylessSuffix.length) : baseType;
  const out: Record<string, unknown> = { type };
  const set = (field: string, value: unknown): void => {
    if (value !== undefined && value !== '') out[field] = value;
  };
  switch (task.type) {
    case 'recaptcha-v2':
      set('websiteURL', task.pageUrl);
      set('websiteKey', task.sitekey);
      if (options.invisible) set('isInvisible', true);
      if (options.data !== undefined) {
        if (name === 'capsolver' || name === 'capmonster') set('enterprisePayload', { s: options.data });
        else set('recaptchaDataSValue', options.data);
      }
      break;
    case 'recaptcha-v3':
      set('websiteURL', task.pageUrl);
      set('websiteKey', task.sitekey);
      set('pageAction', options.action);
      set('minScore', options.minScore);
      if (options.enterprise && name !== 'capsolver') set('isEnterprise', true);
      break;
    case 'hcaptcha':
      set('websiteURL', task.pageUrl);
      set('websiteKey', task.sitekey);
      if (options.invisible) set('isInvisible', true);
      if (options.data !== undefined) set('enterprisePayload', { rqdata: options.data });
      break;
    case 'turnstile':
      set('websiteURL', task.pageUrl);
      set('websiteKey', task.sitekey);
      if (name === 'capsolver') {
        const metadata = { ...(options.action && { action: options.action }), ...(options.data && { cdata: options.data }) };
        if (Object.keys(metadata).length > 0) set('metadata', metadata);
      } else {
        set('action', options.action);
        set(name === 'anticaptcha' ? 'turnstileCData' : 'data', options.data);
        set('pagedata', options.pageData);
      }
      break;
    case 'image':
      // a data: URL is a common way to hold an image; the provider wants the bare base64
      set('body', task.body?.replace(/^data:[^,]*;base64,/, ''));
      break;
  }
  set('userAgent', options.userAgent);
  Object.assign(out, proxy);
  return out;
}

// ---- answers --------------------------------------------------------------------------------------------------------

const taskIdSchema = z.union([z.number().int().nonnegative(), z.string().regex(/^[A-Za-z0-9_-]{1,64}$/)]);

/** Every answer of the family: errorId 0 with the endpoint's fields, or errorId > 0 with a code. */
const answerSchema = z.object({
  errorId: z.coerce.number().int().nonnegative(),
  errorCode: z.string().nullish(),
  errorDescription: z.string().nullish(),
  taskId: taskIdSchema.nullish(),
  status: z.string().nullish(),
  solution: z.record(z.string(), z.unknown()).nullish(),
  balance: z.union([z.number(), z.string()]).nullish(),
});
type Answer = z.infer<typeof answerSchema>;

/** The token of a ready solution: reCAPTCHA and hCaptcha `gRecaptchaResponse`, Turnstile `token`, image `text`. */
const solutionSchema = z
  .object({ gRecaptchaResponse: z.string().min(1).optional(), token: z.string().min(1).optional(), text: z.string().min(1).optional() })
  .transform((solution) => solution.gRecaptchaResponse ?? solution.token ?? solution.text)
  .pipe(z.string().min(1));

const NOT_READY_STATUSES = new Set(['processing', 'idle', 'pending', 'queued']);
/** remembered poll state is dropped for tasks not polled for this long (bounds memory) */
const POLL_STATE_TTL_MS = 30 * 60_000;

interface PollState {
  polls: number;
  lastAnswerAt: number;
  touchedAt: number;
}

export class JsonProvider implements CaptchaProvider {
  readonly name: JsonProviderName;
  private readonly dialect: Dialect;
  private readonly apiKey: string;
  private readonly baseUrl: string;
  private readonly requestTimeoutMs: number;
  private readonly submitTimeoutMs: number;
  private readonly softId: string | number | undefined;
  private readonly minPollIntervalMs: number;
  private readonly maxPollsPerTask: number;
  private readonly dispatcher: Agent;
  /** per provider task: polls sent and when the last answer came (spacing, poll cap) */
  private readonly pollState = new Map<string, PollState>();
  /** solutions that came with createTask (CapSolver image tasks), handed out by the next poll */
  private readonly early = new Map<string, string>();
  private closed = false;

  constructor(options: JsonProviderOptions) {
    if (!options.apiKey) throw new Error(`${options.name}: an API key is required`);
    this.name = options.name;
    this.dialect = JSON_DIALECTS[options.name];
    this.apiKey = options.apiKey;
    this.baseUrl = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.submitTimeoutMs = options.submitTimeoutMs ?? DEFAULT_SUBMIT_TIMEOUT_MS;
    this.softId = options.softId;
    this.minPollIntervalMs = options.minPollIntervalMs ?? this.dialect.minPollIntervalMs;
    this.maxPollsPerTask = options.maxPollsPerTask ?? this.dialect.maxPollsPerTask;
    this.dispatcher = createDispatcher(options.connections ?? 32, this.requestTimeoutMs);
  }

  async submit(task: CaptchaTask, signal?: AbortSignal, options?: SubmitOptions): Promise<string> {
    const softId = this.softId !== undefined && this.dialect.softIdField ? { [this.dialect.softIdField]: this.softId } : {};
    const answer = await this.exchange('submit', 'createTask', { task: jsonTaskFor(this.name, task), ...softId, ...(options?.callbackUrl && { callbackUrl: options.callbackUrl }) }, signal);
    if (answer.taskId === undefined || answer.taskId === null) throw this.badBody('submit', 'no taskId in the answer');
    const id = String(answer.taskId);
    if (answer.status === 'ready' && answer.solution) {
      const token = solutionSchema.safeParse(answer.solution);
      if (token.success) this.early.set(id, token.data);
    }
    return id;
  }

  async poll(providerTaskId: string, signal?: AbortSignal): Promise<PollAnswer> {
    const op = `poll ${providerTaskId}`;
    const early = this.early.get(providerTaskId);
    if (early !== undefined) {
      this.early.delete(providerTaskId);
      return { ready: true, token: early };
    }
    const now = Date.now();
    this.forgetStale(now);
    const state = this.pollState.get(providerTaskId) ?? { polls: 0, lastAnswerAt: 0, touchedAt: now };
    if (state.polls >= this.maxPollsPerTask) {
      this.pollState.delete(providerTaskId);
      throw this.failure(op, 'ERROR_POLL_LIMIT', `stopped after ${state.polls} polls (the provider allows ${this.maxPollsPerTask})`, providerTaskId);
    }
    const wait = state.lastAnswerAt + this.minPollIntervalMs - now;
    if (wait > 0) {
      try {
        await sleep(wait, undefined, signal ? { signal } : undefined);
      } catch (error) {
        throw this.transportFailure(op, error, signal, providerTaskId);
      }
    }
    state.polls++;
    this.pollState.set(providerTaskId, state);
    let answer: Answer;
    try {
      answer = await this.exchange(op, 'getTaskResult', { taskId: this.wireTaskId(providerTaskId) }, signal, providerTaskId);
    } finally {
      state.lastAnswerAt = state.touchedAt = Date.now();
    }
    const status = answer.status ?? '';
    if (NOT_READY_STATUSES.has(status)) return { ready: false };
    if (status !== 'ready') throw this.badBody(op, `unknown status ${JSON.stringify(status)}`, providerTaskId);
    this.pollState.delete(providerTaskId);
    const token = solutionSchema.safeParse(answer.solution ?? {});
    if (!token.success) throw this.badBody(op, 'ready without a token in the solution', providerTaskId);
    return { ready: true, token: token.data };
  }

  async balance(signal?: AbortSignal): Promise<number> {
    const answer = await this.exchange('balance', 'getBalance', {}, signal);
    const balance = Number(answer.balance);
    if (answer.balance === undefined || answer.balance === null || !Number.isFinite(balance)) {
      throw this.badBody('balance', `not a number: ${String(answer.balance)}`);
    }
    return balance;
  }

  async report(providerTaskId: string, verdict: 'good' | 'bad', signal?: AbortSignal): Promise<void> {
    const report = this.dialect.report?.(verdict, this.wireTaskId(providerTaskId));
    if (!report) return; // no report API in this dialect
    try {
      await this.exchange(`report ${providerTaskId}`, report.endpoint, report.body, signal, providerTaskId);
    } catch (error) {
      // the report is already on file: for a retried activity that is success
      if ((error as ProviderError).code === 'ERROR_DUPLICATE_REPORT') return;
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pollState.clear();
    this.early.clear();
    await this.dispatcher.close();
  }

  // ---- exchange --------------------------------------------------------------------------------------------------

  private wireTaskId(providerTaskId: string): string | number {
    return this.dialect.taskIdType === 'integer' && /^\d{1,15}$/.test(providerTaskId) ? Number(providerTaskId) : providerTaskId;
  }

  private forgetStale(now: number): void {
    if (this.pollState.size < 1_000) return;
    for (const [id, state] of this.pollState) if (now - state.touchedAt > POLL_STATE_TTL_MS) this.pollState.delete(id);
  }

  /**
   * One POST with a JSON body (which holds the key), answer parsed. A JSON answer with `errorId > 0` is classified by
   * its code whatever the HTTP status; other non-2xx answers, unparsable bodies and transport faults are transient.
   */
  private async exchange(
    op: string,
    endpoint: string,
    fields: Record<string, unknown>,
    signal?: AbortSignal,
    providerTaskId?: string,
  ): Promise<Answer> {
    if (this.closed) throw this.transient(op, 'CLIENT_CLOSED', 'the client is closed', providerTaskId);
    // a sent submit is waited for longer: it may be paid, and another one would be paid again
    const timeoutMs = op === 'submit' ? this.submitTimeoutMs : this.requestTimeoutMs;
    let status: number;
    let body: string;
    try {
      const response = await request(`${this.baseUrl}${endpoint}`, {
        method: 'POST',
        dispatcher: this.dispatcher,
        ...answerTimeouts(timeoutMs),
        ...(signal && { signal }),
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ clientKey: this.apiKey, ...fields }),
      });
      status = response.statusCode;
      body = await response.body.text();
    } catch (error) {
      throw this.transportFailure(op, error, signal, providerTaskId, timeoutMs);
    }
    const httpOk = status >= 200 && status <= 299;
    const text = body.trim();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      if (!httpOk) throw this.transient(op, `HTTP_${status}`, `HTTP ${status}`, providerTaskId);
      throw this.transient(op, 'BAD_JSON', `malformed JSON body: ${snippet(text)}`, providerTaskId);
    }
    const parsed = answerSchema.safeParse(json);
    if (!parsed.success) {
      if (!httpOk) throw this.transient(op, `HTTP_${status}`, `HTTP ${status}`, providerTaskId);
      throw this.badBody(op, `unexpected JSON: ${snippet(text)}`, providerTaskId);
    }
    const answer = parsed.data;
    if (answer.errorId > 0) {
      const code = answer.errorCode?.trim() || JSON_ERROR_IDS[answer.errorId] || `ERROR_ID_${answer.errorId}`;
      throw this.failure(op, code, answer.errorDescription ?? undefined, providerTaskId);
    }
    if (!httpOk) throw this.transient(op, `HTTP_${status}`, `HTTP ${status}`, providerTaskId);
    // a task id or solution that echoes the key must not travel on (an error code that does becomes UNRECOGNIZED_ANSWER)
    if (containsSecret(text, this.apiKey)) throw this.badBody(op, 'an answer that holds the API key (not shown)', providerTaskId);
    return answer;
  }

  // ---- errors (every message goes through redact) ----------------------------------------------------------------

  private failure(op: string, rawCode: string, text: string | undefined, providerTaskId?: string): ProviderError {
    return answerError(this.name, this.apiKey, op, rawCode, text, providerTaskId);
  }

  private transient(op: string, code: string, detail: string, providerTaskId?: string): ProviderTransientError {
    return transientError(this.name, this.apiKey, op, code, detail, providerTaskId);
  }

  private badBody(op: string, detail: string, providerTaskId?: string): ProviderTransientError {
    return this.transient(op, 'BAD_BODY', detail, providerTaskId);
  }

  private transportFailure(op: string, error: unknown, signal?: AbortSignal, providerTaskId?: string, timeoutMs = this.requestTimeoutMs): ProviderTransientError {
    return transportFailure(this.name, this.apiKey, timeoutMs, op, error, signal, providerTaskId);
  }
}

export function createJsonProvider(options: JsonProviderOptions): JsonProvider {
  return new JsonProvider(options);
}
