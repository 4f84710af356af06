// Client of the legacy in.php / res.php protocol (CaptchaAI, 2captcha) on one pooled undici dispatcher.
// Every failure is classified here, once, into the classes of ./errors; the API key never leaves in an error.
import { request, type Agent } from 'undici';
import { z } from 'zod';
import type { CaptchaTask } from '../domain/types';
import { classifyProviderCode, isKnownProviderCode, normalizeProviderCode, type LegacyProviderName } from './classify';
import { CaptchaPermanentError, containsSecret, type ProviderError, type ProviderTransientError } from './errors';
import { DEFAULT_SUBMIT_TIMEOUT_MS, answerError, answerTimeouts, createDispatcher, snippet, transientError, transportFailure } from './transport';
import type { CaptchaProvider, PollAnswer, SubmitOptions, ThreadPlan } from './types';
import { LEGACY_CAPABILITIES } from './capabilities';

export interface LegacyProviderOptions {
  name: LegacyProviderName;
  /** e.g. https://ocr.captchaai.com; in.php and res.php are resolved under it */
  baseUrl: string;
  apiKey: string;
  /**
   * Limit of each phase of one exchange: connecting, waiting for the headers once the request is sent, waiting for
   * body data (default 15 000 ms). The clock starts when the request leaves the pool, so waiting for a free
   * connection under load is not a provider timeout; the caller's signal bounds that wait.
   */
  requestTimeoutMs?: number;
  /**
   * How long a submit waits for its answer once sent (default 60 000 ms). A submit that reached the provider is paid
   * whether or not its answer arrives: giving up early and submitting again pays twice, so this is well above a slow
   * provider's answer time, and separate from `requestTimeoutMs` (polls and the rest).
   */
  submitTimeoutMs?: number;
  /** keep-alive connections to the provider (default 32) */
  connections?: number;
  /** `soft_id` sent with every submit */
  softId?: string | number;
}

type WireAnswer = { ok: true; value: string; plan?: ThreadPlan } | { ok: false; code: string; text?: string };

const jsonAnswerSchema = z
  .object({
    status: z.union([z.number(), z.string()]),
    // get_pingback answers a list of addresses
    request: z.union([z.string(), z.number(), z.array(z.string().max(2_048)).max(100)]),
    error_text: z.string().nullish(),
    // CaptchaAI's threadsinfo answers its plan as top-level fields
    threads: z.number().int().nonnegative().optional(),
    working_threads: z.number().int().nonnegative().optional(),
    free_threads: z.number().int().nonnegative().optional(),
  })
  .transform(
    (answer): WireAnswer =>
      Number(answer.status) === 1
        ? {
            ok: true,
            value: Array.isArray(answer.request) ? answer.request.join(',') : String(answer.request),
            ...(answer.threads !== undefined && {
              plan: { threads: answer.threads, workingThreads: answer.working_threads ?? 0, freeThreads: answer.free_threads ?? 0 },
            }),
          }
        : { ok: false, code: Array.isArray(answer.request) ? 'BAD_ANSWER' : String(answer.request), ...(answer.error_text ? { text: answer.error_text } : {}) },
  );

const CODE_SHAPE = /^(?:[A-Z][A-Z0-9_]*|ERROR:\s*\d+)$/;

/** Plain-text answers: `OK|<value>`, `OK_REPORT_RECORDED`, a bare balance, or a code (`CAPCHA_NOT_READY`, `ERROR_…`). */
const plainAnswerSchema = z.string().transform((text, ctx): WireAnswer => {
  const okValue = /^OK\|(.+)$/s.exec(text)?.[1];
  if (okValue !== undefined) return { ok: true, value: okValue };
  if (/^OK_[A-Z_]+$/.test(text) || /^-?\d+(?:\.\d+)?$/.test(text)) return { ok: true, value: text };
  if (CODE_SHAPE.test(text)) return { ok: false, code: text };
  ctx.addIssue({ code: 'custom', message: 'not a provider answer' });
  return z.NEVER;
});

const TASK_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Provider parameters of a task (without key, json, soft_id). */
export function legacySubmitParams(task: CaptchaTask): Record<string, string> {
  const options = task.options ?? {};
  const params: Record<string, string> = {};
  const set = (name: string, value: string | number | undefined): void => {
    if (value !== undefined && value !== '') params[name] = String(value);
  };
  switch (task.type) {
    case 'recaptcha-v2':
    case 'recaptcha-v3':
      set('method', 'userrecaptcha');
      set('googlekey', task.sitekey);
      set('pageurl', task.pageUrl);
      if (options.invisible) set('invisible', 1);
      if (options.enterprise) set('enterprise', 1);
      set('data-s', options.data);
      if (task.type === 'recaptcha-v3') {
        set('version', 'v3');
        set('action', options.action);
        set('min_score', options.minScore);
      }
      break;
    case 'hcaptcha':
      set('method', 'hcaptcha');
      set('sitekey', task.sitekey);
      set('pageurl', task.pageUrl);
      if (options.invisible) set('invisible', 1);
      set('data', options.data);
      break;
    case 'turnstile':
      set('method', 'turnstile');
      set('sitekey', task.sitekey);
      set('pageurl', task.pageUrl);
      set('action', options.action);
      set('data', options.data);
      set('pagedata', options.pageData);
      break;
    case 'image':
      set('method', 'base64');
      // a data: URL is a common way to hold an image; the provider wants the bare base64
      set('body', task.body?.replace(/^data:[^,]*;base64,/, ''));
      break;
  }
  set('userAgent', options.userAgent);
  set('proxy', options.proxy);
  set('proxytype', options.proxyType);
  return params;
}

export class LegacyProvider implements CaptchaProvider {
  readonly name: LegacyProviderName;
  private readonly apiKey: string;
  private readonly baseUrl: string;
  private readonly requestTimeoutMs: number;
  private readonly submitTimeoutMs: number;
  private readonly softId: string | undefined;
  private readonly dispatcher: Agent;
  private closed = false;

  constructor(options: LegacyProviderOptions) {
    if (!options.apiKey) throw new Error(`${options.name}: an API key is required`);
    this.name = options.name;
    this.apiKey = options.apiKey;
    this.baseUrl = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.submitTimeoutMs = options.submitTimeoutMs ?? DEFAULT_SUBMIT_TIMEOUT_MS;
    this.softId = options.softId === undefined ? undefined : String(options.softId);
    this.dispatcher = createDispatcher(options.connections ?? 32, this.requestTimeoutMs);
  }

  async submit(task: CaptchaTask, signal?: AbortSignal, options?: SubmitOptions): Promise<string> {
    if (this.name === 'captchaai' && task.type === 'hcaptcha') {
      // CaptchaAI answers hCaptcha with ERROR_SERVER_ERROR, which would be retried as transient forever-ish
      throw new CaptchaPermanentError('captchaai submit: hCaptcha is not supported by CaptchaAI', 'UNSUPPORTED_TYPE');
    }
    const form = new URLSearchParams({ key: this.apiKey, json: '1', ...legacySubmitParams(task) });
    if (this.softId !== undefined) form.set('soft_id', this.softId);
    if (options?.callbackUrl) form.set('pingback', options.callbackUrl);
    const answer = await this.exchange('submit', 'POST', 'in.php', form, signal);
    if (!answer.ok) throw this.failure('submit', answer);
    const id = answer.value.trim();
    if (!TASK_ID.test(id)) throw this.badBody('submit', `task id of unexpected shape: ${id}`);
    return id;
  }

  async poll(providerTaskId: string, signal?: AbortSignal): Promise<PollAnswer> {
    const answer = await this.resGet(`poll ${providerTaskId}`, { action: 'get', id: providerTaskId }, signal, providerTaskId);
    if (answer.ok) {
      if (answer.value === '') throw this.badBody(`poll ${providerTaskId}`, 'empty token', providerTaskId);
      return { ready: true, token: answer.value };
    }
    if (classifyProviderCode(this.name, answer.code) === 'not-ready') return { ready: false };
    throw this.failure(`poll ${providerTaskId}`, answer, providerTaskId);
  }

  /**
   * One res.php request for many tasks (`action=get&ids=`), answers in the order of `ids`: a poll answer, or the
   * classified error of that task. Errors of the request itself are thrown.
   */
  async pollMany(providerTaskIds: readonly string[], signal?: AbortSignal): Promise<(PollAnswer | ProviderError)[]> {
    if (providerTaskIds.length === 0) return [];
    const answer = await this.resGet('poll-many', { action: 'get', ids: providerTaskIds.join(',') }, signal);
    if (!answer.ok) throw this.failure('poll-many', answer);
    const parts = answer.value.split('|');
    if (parts.length !== providerTaskIds.length) {
      throw this.badBody('poll-many', `${parts.length} answers for ${providerTaskIds.length} ids`);
    }
    return parts.map((part, index) => {
      const id = providerTaskIds[index] ?? '';
      // an answer that echoes the key is neither a token nor a code
      if (containsSecret(part, this.apiKey)) return this.failure(`poll ${id}`, { ok: false, code: part }, id);
      const code = normalizeProviderCode(part);
      // an image answer may be upper-case letters: only known codes and ERROR… are codes
      if (!CODE_SHAPE.test(part) || !(isKnownProviderCode(code) || code.startsWith('ERROR'))) return { ready: true, token: part };
      if (classifyProviderCode(this.name, code) === 'not-ready') return { ready: false };
      return this.failure(`poll ${id}`, { ok: false, code }, id);
    });
  }

  /**
   * Pingback addresses (`res.php?action=add_pingback|get_pingback|del_pingback&addr=`): a pingback URL must be
   * registered once before submits may name it. `del` with `all` removes every address.
   */
  async pingbacks(action: 'add' | 'get' | 'del', addr?: string, signal?: AbortSignal): Promise<string[]> {
    const answer = await this.resGet(`${action}_pingback`, { action: `${action}_pingback`, ...(addr !== undefined && { addr }) }, signal);
    if (!answer.ok) throw this.failure(`${action}_pingback`, answer);
    if (action !== 'get') return [];
    return answer.value.split(/[,\n]/).map((url) => url.trim()).filter(Boolean);
  }

  async balance(signal?: AbortSignal): Promise<number> {
    const answer = await this.resGet('balance', { action: 'getbalance' }, signal);
    if (!answer.ok) throw this.failure('balance', answer);
    const balance = Number(answer.value);
    if (!Number.isFinite(balance)) throw this.badBody('balance', `not a number: ${answer.value}`);
    return balance;
  }

  async report(providerTaskId: string, verdict: 'good' | 'bad', signal?: AbortSignal): Promise<void> {
    const action = verdict === 'good' ? 'reportgood' : 'reportbad';
    const answer = await this.resGet(`report ${providerTaskId}`, { action, id: providerTaskId }, signal, providerTaskId);
    if (answer.ok) return;
    // the report is already on file: for a retried activity that is success
    if (normalizeProviderCode(answer.code) === 'ERROR_DUPLICATE_REPORT') return;
    throw this.failure(`report ${providerTaskId}`, answer, providerTaskId);
  }

  /** CaptchaAI's thread plan (`action=threadsinfo`); undefined for a provider without one (2captcha). */
  async threadsInfo(signal?: AbortSignal): Promise<ThreadPlan | undefined> {
    if (!LEGACY_CAPABILITIES[this.name].extraActions.includes('threadsinfo')) return undefined;
    const answer = await this.resGet('threadsinfo', { action: 'threadsinfo' }, signal);
    if (!answer.ok) throw this.failure('threadsinfo', answer);
    if (!answer.plan) throw this.badBody('threadsinfo', 'no thread plan in the answer');
    return answer.plan;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.dispatcher.close();
  }

  // ---- exchange --------------------------------------------------------------------------------------------------

  /** res.php is read with GET: the key travels in the query string of a URL that never leaves `exchange`. */
  private resGet(op: string, params: Record<string, string>, signal?: AbortSignal, providerTaskId?: string): Promise<WireAnswer> {
    const query = new URLSearchParams({ key: this.apiKey, ...params, json: '1' });
    return this.exchange(op, 'GET', 'res.php', query, signal, providerTaskId);
  }

  /**
   * One HTTP exchange, answer parsed. Throws ProviderTransientError for transport faults, non-2xx and unparsable
   * bodies. The URL (which holds the key for GETs) is built here and never leaves this function.
   */
  private async exchange(
    op: string,
    method: 'GET' | 'POST',
    endpoint: 'in.php' | 'res.php',
    params: URLSearchParams,
    signal?: AbortSignal,
    providerTaskId?: string,
  ): Promise<WireAnswer> {
    if (this.closed) throw this.transient(op, 'CLIENT_CLOSED', 'the client is closed', providerTaskId);
    // a sent submit is waited for longer: it may be paid, and another one would be paid again
    const timeoutMs = op === 'submit' ? this.submitTimeoutMs : this.requestTimeoutMs;
    let status: number;
    let body: string;
    try {
      const response = await request(method === 'GET' ? `${this.baseUrl}${endpoint}?${params}` : `${this.baseUrl}${endpoint}`, {
        method,
        dispatcher: this.dispatcher,
        ...answerTimeouts(timeoutMs),
        ...(signal && { signal }),
        ...(method === 'POST' && {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: params.toString(),
        }),
      });
      status = response.statusCode;
      body = await response.body.text();
    } catch (error) {
      throw this.transportFailure(op, error, signal, providerTaskId, timeoutMs);
    }
    if (status < 200 || status > 299) throw this.transient(op, `HTTP_${status}`, `HTTP ${status}`, providerTaskId);
    return this.parse(op, body, providerTaskId);
  }

  private parse(op: string, body: string, providerTaskId?: string): WireAnswer {
    const answer = this.parseBody(op, body, providerTaskId);
    // a task id or token that echoes the key must not travel on (an error code that does becomes UNRECOGNIZED_ANSWER)
    if (answer.ok && containsSecret(answer.value, this.apiKey)) throw this.badBody(op, 'an answer that holds the API key (not shown)', providerTaskId);
    return answer;
  }

  private parseBody(op: string, body: string, providerTaskId?: string): WireAnswer {
    const text = body.trim();
    if (text.startsWith('{') || text.startsWith('[')) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw this.transient(op, 'BAD_JSON', `malformed JSON body: ${snippet(text)}`, providerTaskId);
      }
      const parsed = jsonAnswerSchema.safeParse(json);
      if (!parsed.success) throw this.badBody(op, `unexpected JSON: ${snippet(text)}`, providerTaskId);
      return parsed.data;
    }
    const parsed = plainAnswerSchema.safeParse(text);
    if (!parsed.success) throw this.badBody(op, `unparsable body: ${snippet(text)}`, providerTaskId);
    return parsed.data;
  }

  // ---- errors (every message goes through redact) ----------------------------------------------------------------

  private failure(op: string, answer: { ok: false; code: string; text?: string }, providerTaskId?: string): ProviderError {
    return answerError(this.name, this.apiKey, op, answer.code, answer.text, providerTaskId);
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

export function createLegacyProvider(options: LegacyProviderOptions): LegacyProvider {
  return new LegacyProvider(options);
}
