// The JSON createTask / getTaskResult / getBalance family (provider-api.md, Family 2) on top of the same engine: a JSON
// request is turned into the engine's in.php / res.php request, so scenarios, rate limits, faults, balance and
// counters are shared with the legacy protocol; the answer is rendered in the dialect's JSON.
//
// Scenario scripts speak the legacy vocabulary (ERROR_CAPTCHA_UNSOLVABLE, ERROR_NO_SLOT_AVAILABLE, …) and each dialect
// translates a code into its own spelling where it has one (CapSolver: ERROR_CAPTCHA_SOLVE_FAILED, …); codes the
// table does not know (ERROR_ZERO_BALANCE, ERROR_TOO_MUCH_REQUESTS, …) are answered as written.
//
// Dialects: `2captcha-v2` and `anticaptcha` (HTTP 200, numbered errorIds, integer task ids), `capsolver` (HTTP 400 /
// 401 with errorId 1, UUID task ids, `idle` before `processing`, image tasks answered synchronously by createTask,
// at most 120 polls per task), `capmonster` (HTTP 200, errorId 1, integer ids, polls of one task at least 2 s apart
// or ERROR_TOO_MUCH_REQUESTS, at most 120 polls per task).
import { createHash } from 'node:crypto';
import type { SimulatorEngine } from './engine';
import type { FaultRule } from './scenarios';
import type { SimCaptchaType } from './tokens';

export const JSON_DIALECTS = ['2captcha-v2', 'anticaptcha', 'capsolver', 'capmonster'] as const;
export type JsonDialect = (typeof JSON_DIALECTS)[number];

/** Paths of the family; the report ones are each dialect's spelling of reportbad / reportgood. */
export const JSON_PATHS = [
  'createTask',
  'getTaskResult',
  'getBalance',
  'reportIncorrect',
  'reportCorrect',
  'reportIncorrectRecaptcha',
  'reportCorrectRecaptcha',
  'reportIncorrectImageCaptcha',
  'feedbackTask',
] as const;
export type JsonPath = (typeof JSON_PATHS)[number];

export interface JsonApiOptions {
  dialect: JsonDialect;
  /** least gap between two polls of a task (default: CapMonster 2 000, others 0) */
  minPollIntervalMs?: number;
  /** polls of a task before its result is lost (default: CapMonster and CapSolver 120, others unlimited) */
  maxPollsPerTask?: number;
}

export type JsonReply = { kind: 'json'; status: number; body: Record<string, unknown> } | { kind: 'fault'; rule: FaultRule };

type Kind = SimCaptchaType;

/**
 * Task type names each dialect accepts (their proxy variants drop the Proxyless / ProxyLess suffix), the legacy names
 * included: anti-captcha and CapMonster still take `NoCaptchaTask` / `NoCaptchaTaskProxyless` for reCAPTCHA v2
 * (https://anti-captcha.com/apidoc/task-types/NoCaptchaTaskProxyless; CapMonster's official JS client sends them).
 */
const TASK_TYPES: Record<JsonDialect, Record<string, Kind>> = {
  '2captcha-v2': withProxyVariants('Proxyless', {
    RecaptchaV2TaskProxyless: 'recaptcha-v2',
    RecaptchaV2EnterpriseTaskProxyless: 'recaptcha-v2',
    RecaptchaV3TaskProxyless: 'recaptcha-v3',
    HCaptchaTaskProxyless: 'hcaptcha',
    TurnstileTaskProxyless: 'turnstile',
    ImageToTextTask: 'image',
  }),
  anticaptcha: withProxyVariants('Proxyless', {
    RecaptchaV2TaskProxyless: 'recaptcha-v2',
    NoCaptchaTaskProxyless: 'recaptcha-v2',
    RecaptchaV2EnterpriseTaskProxyless: 'recaptcha-v2',
    RecaptchaV3TaskProxyless: 'recaptcha-v3',
    HCaptchaTaskProxyless: 'hcaptcha',
    TurnstileTaskProxyless: 'turnstile',
    ImageToTextTask: 'image',
  }),
  capsolver: withProxyVariants('ProxyLess', {
    ReCaptchaV2TaskProxyLess: 'recaptcha-v2',
    ReCaptchaV2EnterpriseTaskProxyLess: 'recaptcha-v2',
    ReCaptchaV3TaskProxyLess: 'recaptcha-v3',
    ReCaptchaV3EnterpriseTaskProxyLess: 'recaptcha-v3',
    HCaptchaTaskProxyLess: 'hcaptcha',
    AntiTurnstileTaskProxyLess: 'turnstile',
    ImageToTextTask: 'image',
  }),
  capmonster: withProxyVariants('Proxyless', {
    RecaptchaV2TaskProxyless: 'recaptcha-v2',
    NoCaptchaTaskProxyless: 'recaptcha-v2',
    RecaptchaV2EnterpriseTask: 'recaptcha-v2',
    RecaptchaV3TaskProxyless: 'recaptcha-v3',
    HCaptchaTaskProxyless: 'hcaptcha',
    TurnstileTaskProxyless: 'turnstile',
    ImageToTextTask: 'image',
  }),
};

/**
 * Kinds whose polls must be spaced (CapMonster): its error list words ERROR_TOO_MUCH_REQUESTS as "request the result
 * of the task no more than 1 time in 2 seconds" (https://zennolab.atlassian.net/wiki/spaces/APIS/pages/295396/Error+Types),
 * while recognition tasks are answered "within an interval from 300ms to 6s"
 * (https://docs.capmonster.cloud/docs/captchas/image-to-text) and its official client polls them at 350 ms then every
 * 200 ms: the 2-s rule covers token tasks, not image recognition.
 */
const SPACED_KINDS: ReadonlySet<Kind> = new Set(['recaptcha-v2', 'recaptcha-v3', 'hcaptcha', 'turnstile']);

function withProxyVariants(suffix: string, types: Record<string, Kind>): Record<string, Kind> {
  const out: Record<string, Kind> = { ...types };
  for (const [name, kind] of Object.entries(types)) if (name.endsWith(suffix)) out[name.slice(0, -suffix.length)] = kind;
  return out;
}

/** Legacy codes (the engine's and the scripts') → each dialect's spelling. */
const COMMON_CODES: Record<string, string> = {
  ERROR_WRONG_USER_KEY: 'ERROR_KEY_DOES_NOT_EXIST',
  ERROR_GOOGLEKEY: 'ERROR_RECAPTCHA_INVALID_SITEKEY',
  ERROR_SITEKEY: 'ERROR_RECAPTCHA_INVALID_SITEKEY',
  ERROR_PAGEURL: 'ERROR_BAD_PARAMETERS',
  ERROR_PROXY_FORMAT: 'ERROR_BAD_PROXY',
  ERROR_UPLOAD: 'ERROR_IMAGE_TYPE_NOT_SUPPORTED',
  ERROR_WRONG_CAPTCHA_ID: 'ERROR_NO_SUCH_CAPCHA_ID',
  ERROR_WRONG_ID_FORMAT: 'ERROR_NO_SUCH_CAPCHA_ID',
  MAX_USER_TURN: 'ERROR_TOO_MUCH_REQUESTS',
  'ERROR: 1005': 'ERROR_TOO_MUCH_REQUESTS',
  'ERROR: 1001': 'ERROR_TOO_MUCH_REQUESTS',
  ERROR_SERVER_ERROR: 'ERROR_SERVICE_UNAVAILABLE',
};
const CAPSOLVER_CODES: Record<string, string> = {
  ...COMMON_CODES,
  ERROR_WRONG_USER_KEY: 'ERROR_KEY_DENIED_ACCESS',
  ERROR_KEY_DOES_NOT_EXIST: 'ERROR_KEY_DENIED_ACCESS',
  ERROR_GOOGLEKEY: 'ERROR_INVALID_TASK_DATA',
  ERROR_SITEKEY: 'ERROR_INVALID_TASK_DATA',
  ERROR_PAGEURL: 'ERROR_INVALID_TASK_DATA',
  ERROR_BAD_PARAMETERS: 'ERROR_INVALID_TASK_DATA',
  ERROR_PROXY_FORMAT: 'ERROR_INVALID_TASK_DATA',
  ERROR_TASK_ABSENT: 'ERROR_INVALID_TASK_DATA',
  ERROR_TASK_NOT_SUPPORTED: 'ERROR_INVALID_TASK_DATA',
  ERROR_UPLOAD: 'ERROR_INVALID_IMAGE',
  ERROR_ZERO_CAPTCHA_FILESIZE: 'ERROR_INVALID_IMAGE',
  ERROR_TOO_BIG_CAPTCHA_FILESIZE: 'ERROR_INVALID_IMAGE',
  ERROR_WRONG_CAPTCHA_ID: 'ERROR_TASKID_INVALID',
  ERROR_WRONG_ID_FORMAT: 'ERROR_TASKID_INVALID',
  ERROR_NO_SUCH_CAPCHA_ID: 'ERROR_TASKID_INVALID',
  ERROR_CAPTCHA_UNSOLVABLE: 'ERROR_CAPTCHA_SOLVE_FAILED',
  ERROR_NO_SLOT_AVAILABLE: 'ERROR_SERVICE_UNAVALIABLE', // sic
  ERROR_SERVER_ERROR: 'ERROR_SERVICE_UNAVALIABLE',
  MAX_USER_TURN: 'ERROR_RATE_LIMIT',
  'ERROR: 1005': 'ERROR_RATE_LIMIT',
  'ERROR: 1001': 'ERROR_RATE_LIMIT',
  IP_BANNED: 'ERROR_IP_BANNED',
};

/** CapMonster answers an unknown task type with ERROR_NO_SUCH_METHOD ("Incorrect captcha type"; Error Types page above). */
const CAPMONSTER_CODES: Record<string, string> = {
  ...COMMON_CODES,
  ERROR_TASK_NOT_SUPPORTED: 'ERROR_NO_SUCH_METHOD',
  IP_BANNED: 'ERROR_IP_BANNED',
};

/**
 * Each dialect's own errorDescription texts, from its published error list:
 * 2captcha v2 https://2captcha.com/api-docs/error-codes, anti-captcha https://anti-captcha.com/apidoc/errors,
 * CapSolver https://docs.capsolver.com/guide/api-error, CapMonster (Error Types page above). A code a list lacks gets
 * the dialect's generic text, never the legacy in.php one.
 */
const ERROR_DESCRIPTIONS: Record<JsonDialect, Record<string, string>> = {
  '2captcha-v2': {
    ERROR_KEY_DOES_NOT_EXIST: 'Your API key is incorrect. Make sure you set the key correctly and copied it from the dashboard.',
    ERROR_NO_SLOT_AVAILABLE: 'Your bid is too low for the captcha you submit or the queue of your captchas is too long.',
    ERROR_ZERO_CAPTCHA_FILESIZE: 'Image size is less than 100 bytes.',
    ERROR_TOO_BIG_CAPTCHA_FILESIZE: 'Image size is more than 100 kB or image is bigger than 600px on any side.',
    ERROR_ZERO_BALANCE: 'You don\'t have funds on your account.',
    ERROR_IP_NOT_ALLOWED: 'The request is sent from the IP that is not on the list of your trusted IPs.',
    ERROR_CAPTCHA_UNSOLVABLE: 'We are unable to solve your captcha - three of our workers were unable to solve it.',
    ERROR_NO_SUCH_CAPCHA_ID: 'You\'ve provided incorrect captcha ID in the request.',
    ERROR_IP_BLOCKED: 'Your IP address is banned due to improper use of the API.',
    ERROR_TASK_ABSENT: 'task property is missing in your call to createTask method.',
    ERROR_TASK_NOT_SUPPORTED: 'task property in your call to createTask method contains the type of task that is not supported by our API or you have an error in type property.',
    ERROR_RECAPTCHA_INVALID_SITEKEY: 'The sitekey value provided in your request is not valid.',
    ERROR_BAD_PARAMETERS: 'The required captcha parameters in your request are missing or have incorrect format.',
    ERROR_IMAGE_TYPE_NOT_SUPPORTED: 'The server cannot recognize the image file type.',
  },
  anticaptcha: {
    ERROR_KEY_DOES_NOT_EXIST: 'Account authorization key not found in the system. Make sure you copied it correctly without spaces or tabulation signs.',
    ERROR_NO_SLOT_AVAILABLE: 'No idle captcha workers are available at the moment.',
    ERROR_ZERO_CAPTCHA_FILESIZE: 'The size of the captcha you are uploading is less than 100 bytes.',
    ERROR_TOO_BIG_CAPTCHA_FILESIZE: 'The size of the captcha you are uploading is more than 500,000 bytes.',
    ERROR_ZERO_BALANCE: 'Account has zero or negative balance.',
    ERROR_IP_NOT_ALLOWED: 'You are not allowed to make requests from your IP with your current account key.',
    ERROR_CAPTCHA_UNSOLVABLE: '5 different workers were unable to solve the captcha.',
    ERROR_NO_SUCH_METHOD: 'Request to API made with method which does not exist.',
    ERROR_IMAGE_TYPE_NOT_SUPPORTED: 'Could not determine captcha file type by its exif header or image type is not supported.',
    ERROR_NO_SUCH_CAPCHA_ID: 'The captcha you are requesting does not exist in your current captchas list or has been expired.',
    ERROR_IP_BLOCKED: 'Your IP is blocked due to API inproper use.',
    ERROR_TASK_ABSENT: 'Task property is empty or not set in the createTask method.',
    ERROR_TASK_NOT_SUPPORTED: 'Task type is not supported or inproperly printed. Please check "type" parameter in task object.',
    ERROR_RECAPTCHA_INVALID_SITEKEY: 'Recaptcha server reported that site key is invalid.',
    ERROR_BAD_PARAMETERS: 'Some task parameters are missing or have incorrect values.',
  },
  capsolver: {
    ERROR_SERVICE_UNAVALIABLE: 'Service is temporarily unavailable',
    ERROR_RATE_LIMIT: 'Request frequency/rate limit',
    ERROR_BAD_REQUEST: 'Error Request',
    ERROR_TASKID_INVALID: 'Task ID does not exist or is invalid',
    ERROR_TASK_TIMEOUT: 'The task has timed out',
    ERROR_KEY_DENIED_ACCESS: 'Access denied: the clientKey is wrong or disabled',
    ERROR_ZERO_BALANCE: 'Insufficient balance',
    ERROR_CAPTCHA_SOLVE_FAILED: 'Captcha recognition failed',
    ERROR_INVALID_IMAGE: 'Invalid image',
    ERROR_IP_BANNED: 'IP banned',
  },
  capmonster: {
    ERROR_KEY_DOES_NOT_EXIST: 'Account authorization key not found in the system or has incorrect format.',
    ERROR_ZERO_CAPTCHA_FILESIZE: 'The size of the captcha you are uploading is less than 100 bytes.',
    ERROR_TOO_BIG_CAPTCHA_FILESIZE: 'The size of the captcha you are uploading is more than 500,000 bytes.',
    ERROR_ZERO_BALANCE: 'Account has zero balance. Add funds to continue recognition.',
    ERROR_IP_NOT_ALLOWED: 'Request with current account key is not allowed from your IP.',
    ERROR_CAPTCHA_UNSOLVABLE: 'This type of captchas is not supported by the service or the image does not contain an answer.',
    ERROR_NO_SUCH_CAPCHA_ID: 'The captcha that you are requesting was not found. Make sure you are requesting a status update only within 5 minutes of uploading.',
    ERROR_IP_BANNED: 'You have exceeded the limit of requests with the wrong api key.',
    ERROR_NO_SUCH_METHOD: 'Incorrect captcha type (value of the «type» parameter).',
    ERROR_TOO_MUCH_REQUESTS: 'You have exceeded the limit of requests to receive an answer for one task. Try to request the result of the task no more than 1 time in 2 seconds.',
    ERROR_NO_SLOT_AVAILABLE: 'No idle workers are available at the moment.',
    ERROR_RECAPTCHA_INVALID_SITEKEY: 'The site key is invalid.',
  },
};
/** CapSolver words ERROR_INVALID_TASK_DATA as "invalid task data: …", naming what is wrong. */
const CAPSOLVER_TASK_DATA: Record<string, string> = {
  ERROR_TASK_NOT_SUPPORTED: 'task type is not supported',
  ERROR_TASK_ABSENT: 'task is missing',
  ERROR_GOOGLEKEY: 'websiteKey is missing or invalid',
  ERROR_SITEKEY: 'websiteKey is missing or invalid',
  ERROR_PAGEURL: 'websiteURL is missing',
  ERROR_PROXY_FORMAT: 'proxy is invalid',
};
const GENERIC_DESCRIPTION: Record<JsonDialect, string> = {
  '2captcha-v2': 'The request could not be processed.',
  anticaptcha: 'The request could not be processed.',
  capsolver: 'Error Request',
  capmonster: 'The request could not be processed.',
};

/** 2captcha v2 and anti-captcha number their errors (provider-api.md); the others answer every error with 1. */
const ERROR_IDS: Record<string, number> = {
  ERROR_KEY_DOES_NOT_EXIST: 1,
  ERROR_NO_SLOT_AVAILABLE: 2,
  ERROR_ZERO_CAPTCHA_FILESIZE: 3,
  ERROR_TOO_BIG_CAPTCHA_FILESIZE: 4,
  ERROR_ZERO_BALANCE: 10,
  ERROR_IP_NOT_ALLOWED: 11,
  ERROR_CAPTCHA_UNSOLVABLE: 12,
  ERROR_BAD_DUPLICATES: 13,
  ERROR_NO_SUCH_METHOD: 14,
  ERROR_IMAGE_TYPE_NOT_SUPPORTED: 15,
  ERROR_NO_SUCH_CAPCHA_ID: 16,
  ERROR_IP_BLOCKED: 21,
  IP_BANNED: 21,
  ERROR_TASK_ABSENT: 22,
  ERROR_TASK_NOT_SUPPORTED: 23,
  ERROR_RECAPTCHA_INVALID_SITEKEY: 31,
  ERROR_RECAPTCHA_INVALID_DOMAIN: 32,
  ERROR_TOKEN_EXPIRED: 34,
};

const ACCOUNT_CODES = new Set(['ERROR_KEY_DENIED_ACCESS', 'ERROR_KEY_DOES_NOT_EXIST']);

interface PollState {
  polls: number;
  lastPollAt: number;
  idleShown: boolean;
}

/** The JSON face of one engine. */
export class JsonApi {
  readonly dialect: JsonDialect;
  private readonly minPollIntervalMs: number;
  private readonly maxPollsPerTask: number;
  /** CapSolver: UUID ↔ engine id */
  private readonly uuidToId = new Map<string, string>();
  private readonly idToUuid = new Map<string, string>();
  private readonly polls = new Map<string, PollState>();

  constructor(
    private readonly engine: SimulatorEngine,
    options: JsonApiOptions,
  ) {
    this.dialect = options.dialect;
    this.minPollIntervalMs = options.minPollIntervalMs ?? (this.dialect === 'capmonster' ? 2_000 : 0);
    this.maxPollsPerTask = options.maxPollsPerTask ?? (this.dialect === 'capmonster' || this.dialect === 'capsolver' ? 120 : Infinity);
  }

  /**
   * One request. `wait` delays the answer (slow rules, CapSolver's synchronous image tasks); the returned `delayMs` is
   * what remains to wait before rendering.
   */
  async handle(path: JsonPath, body: unknown, wait: (ms: number) => Promise<void>, now = Date.now()): Promise<{ reply: JsonReply; delayMs: number }> {
    const input = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    const key = typeof input.clientKey === 'string' ? input.clientKey : '';
    this.engine.counters.jsonRequest(path);
    switch (path) {
      case 'createTask':
        return this.createTask(key, input.task, wait, now);
      case 'getTaskResult':
        return this.getTaskResult(key, input.taskId, now);
      case 'getBalance':
        return this.viaEngine('res.php', { key, action: 'getbalance' }, now, (answer) => ({ errorId: 0, balance: Number(answer) }));
      default: {
        const verdict = path === 'reportCorrect' || path === 'reportCorrectRecaptcha' ? 'good' : path === 'feedbackTask' ? feedbackVerdict(input) : 'bad';
        const id = this.engineId(input.taskId);
        return this.viaEngine('res.php', { key, action: verdict === 'good' ? 'reportgood' : 'reportbad', id }, now, () => ({
          errorId: 0,
          status: 'success',
        }));
      }
    }
  }

  // ---- createTask ------------------------------------------------------------------------------------------------

  private async createTask(key: string, rawTask: unknown, wait: (ms: number) => Promise<void>, now: number): Promise<{ reply: JsonReply; delayMs: number }> {
    const task = rawTask && typeof rawTask === 'object' && !Array.isArray(rawTask) ? (rawTask as Record<string, unknown>) : undefined;
    const type = typeof task?.type === 'string' ? task.type : undefined;
    const kind = type !== undefined ? TASK_TYPES[this.dialect][type] : undefined;
    // an unknown or absent task still goes through the engine (key check, rules, counters) as an unknown method
    const params = task && kind ? legacyParams(kind, type ?? '', task) : { method: task ? 'unsupported' : '' };
    const absentCode = task ? 'ERROR_TASK_NOT_SUPPORTED' : 'ERROR_TASK_ABSENT';
    const handled = this.engine.handle({ endpoint: 'in.php', params: new Map(Object.entries({ ...params, key, json: '1' })), files: new Map() }, now);
    const reply = handled.reply;
    if (reply.kind === 'fault') return { reply, delayMs: handled.delayMs };
    if (!reply.ok) {
      const code = reply.request === 'ERROR_NO_SUCH_METHOD' ? absentCode : String(reply.request);
      return { reply: this.error(code, reply.scriptedText), delayMs: handled.delayMs };
    }
    const id = String(reply.request);
    const taskId = this.wireId(id);
    if (this.dialect === 'capsolver' && kind === 'image') {
      // CapSolver recognises images synchronously: the answer comes with createTask. The result is read at the task's
      // exact ready time (not the ms-truncated ISO string of the view, nor a timer that may fire a little early).
      await wait(handled.delayMs);
      const readyAt = this.engine.readyAtMs(id) ?? Date.now();
      const syncLimit = Date.now() + 30_000;
      await wait(Math.min(30_000, Math.max(0, readyAt - Date.now())));
      const result = this.getTaskResult(key, taskId, readyAt <= syncLimit ? Math.max(Date.now(), readyAt) : Date.now());
      if (result.reply.kind === 'json' && result.reply.body.errorId === 0 && result.reply.body.status === 'ready') {
        return { reply: { kind: 'json', status: 200, body: { ...result.reply.body, taskId } }, delayMs: result.delayMs };
      }
      return { reply: { kind: 'json', status: 200, body: { errorId: 0, taskId, status: 'processing' } }, delayMs: result.delayMs };
    }
    return { reply: { kind: 'json', status: 200, body: { errorId: 0, taskId, ...(this.dialect === 'capsolver' && { status: 'idle' }) } }, delayMs: handled.delayMs };
  }

  // ---- getTaskResult ---------------------------------------------------------------------------------------------

  private getTaskResult(key: string, rawId: unknown, now: number): { reply: JsonReply; delayMs: number } {
    const id = this.engineId(rawId);
    const state = this.polls.get(id) ?? { polls: 0, lastPollAt: -Infinity, idleShown: false };
    // the dialect's own poll rules answer before the engine sees the request
    const view = this.engine.task(id);
    if (view) {
      const spaced = SPACED_KINDS.has(view.type);
      if (spaced && now - state.lastPollAt < this.minPollIntervalMs) return { reply: this.localError('ERROR_TOO_MUCH_REQUESTS'), delayMs: 0 };
      if (state.polls >= this.maxPollsPerTask) return { reply: this.localError('ERROR_NO_SUCH_CAPCHA_ID'), delayMs: 0 };
      state.polls++;
      state.lastPollAt = now;
      this.polls.set(id, state);
    }
    const handled = this.engine.handle({ endpoint: 'res.php', params: new Map([['key', key], ['action', 'get'], ['id', id], ['json', '1']]), files: new Map() }, now);
    const reply = handled.reply;
    if (reply.kind === 'fault') return { reply, delayMs: handled.delayMs };
    const withId = this.dialect === 'capsolver' ? { taskId: this.wireId(id) } : {};
    if (reply.ok) {
      this.polls.delete(id);
      const solution = solutionFor(this.dialect, view?.type ?? 'recaptcha-v2', String(reply.request));
      const createTime = view ? Math.floor(Date.parse(view.createdAt) / 1000) : Math.floor(now / 1000);
      return {
        reply: {
          kind: 'json',
          status: 200,
          body: { errorId: 0, ...withId, status: 'ready', solution, cost: '0.00299', ip: '127.0.0.1', createTime, endTime: Math.floor(now / 1000), solveCount: 1 },
        },
        delayMs: handled.delayMs,
      };
    }
    if (reply.request === 'CAPCHA_NOT_READY') {
      // CapSolver: a task waits `idle` in its queue before workers pick it up
      const status = this.dialect === 'capsolver' && !state.idleShown ? 'idle' : 'processing';
      state.idleShown = true;
      return { reply: { kind: 'json', status: 200, body: { errorId: 0, ...withId, status } }, delayMs: handled.delayMs };
    }
    this.polls.delete(id);
    return { reply: this.error(String(reply.request), reply.scriptedText), delayMs: handled.delayMs };
  }

  // ---- shared ----------------------------------------------------------------------------------------------------

  private viaEngine(
    endpoint: 'in.php' | 'res.php',
    params: Record<string, string>,
    now: number,
    body: (answer: string | number) => Record<string, unknown>,
  ): { reply: JsonReply; delayMs: number } {
    const handled = this.engine.handle({ endpoint, params: new Map(Object.entries({ ...params, json: '1' })), files: new Map() }, now);
    const reply = handled.reply;
    if (reply.kind === 'fault') return { reply, delayMs: handled.delayMs };
    if (!reply.ok) return { reply: this.error(String(reply.request), reply.scriptedText), delayMs: handled.delayMs };
    return { reply: { kind: 'json', status: 200, body: body(reply.request) }, delayMs: handled.delayMs };
  }

  /** An answer of this layer alone (poll spacing, poll cap): counted like the engine's own answers. */
  private localError(code: string): JsonReply {
    this.engine.counters.request('res.php', 'get');
    const reply = this.error(code);
    this.engine.counters.outcome('res.php', String(reply.kind === 'json' ? reply.body.errorCode : code));
    return reply;
  }

  /** `scriptedText`: a scenario rule's own errorText, which wins; the engine's legacy texts are never reused. */
  private error(legacyCode: string, scriptedText?: string): JsonReply {
    const table = this.dialect === 'capsolver' ? CAPSOLVER_CODES : this.dialect === 'capmonster' ? CAPMONSTER_CODES : COMMON_CODES;
    const code = table[legacyCode] ?? legacyCode;
    const numbered = this.dialect === '2captcha-v2' || this.dialect === 'anticaptcha';
    const errorId = numbered ? (ERROR_IDS[code] ?? 100) : 1;
    const status = this.dialect === 'capsolver' ? (ACCOUNT_CODES.has(code) ? 401 : 400) : 200;
    const taskData = code === 'ERROR_INVALID_TASK_DATA' && `invalid task data: ${CAPSOLVER_TASK_DATA[legacyCode] ?? 'some parameters are invalid'}`;
    const description = scriptedText ?? (taskData || (ERROR_DESCRIPTIONS[this.dialect][code] ?? GENERIC_DESCRIPTION[this.dialect]));
    return { kind: 'json', status, body: { errorId, errorCode: code, errorDescription: description } };
  }

  /** The id the dialect shows for an engine id: a number, or (CapSolver) a UUID. */
  private wireId(id: string): string | number {
    if (this.dialect !== 'capsolver') return Number(id);
    let uuid = this.idToUuid.get(id);
    if (!uuid) {
      const hex = createHash('sha256').update(`capsolver:${id}`).digest('hex');
      uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
      this.idToUuid.set(id, uuid);
      this.uuidToId.set(uuid, id);
    }
    return uuid;
  }

  /** The engine's id of a task id as this dialect shows it (a number, or a CapSolver UUID); undefined when unknown. */
  engineIdOf(wireId: string): string | undefined {
    return this.dialect === 'capsolver' ? this.uuidToId.get(wireId) : wireId;
  }

  private engineId(raw: unknown): string {
    const text = typeof raw === 'number' || typeof raw === 'string' ? String(raw) : '';
    if (this.dialect === 'capsolver') return this.uuidToId.get(text) ?? (text === '' ? '' : `unknown-${text}`);
    return text;
  }
}

function feedbackVerdict(input: Record<string, unknown>): 'good' | 'bad' {
  const result = input.result as { invalid?: unknown } | undefined;
  return result?.invalid === true ? 'bad' : 'good';
}

/** A JSON task as the engine's in.php parameters. */
function legacyParams(kind: Kind, type: string, task: Record<string, unknown>): Record<string, string> {
  const params: Record<string, string> = {};
  const set = (name: string, value: unknown): void => {
    if (typeof value === 'string' && value !== '') params[name] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') params[name] = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  };
  const sitekeyField = kind === 'recaptcha-v2' || kind === 'recaptcha-v3' ? 'googlekey' : 'sitekey';
  switch (kind) {
    case 'recaptcha-v2':
    case 'recaptcha-v3':
    case 'hcaptcha':
    case 'turnstile':
      set('method', kind === 'hcaptcha' || kind === 'turnstile' ? kind : 'userrecaptcha');
      set(sitekeyField, task.websiteKey);
      set('pageurl', task.websiteURL);
      if (task.isInvisible === true) set('invisible', '1');
      if (/enterprise/i.test(type) || task.isEnterprise === true) set('enterprise', '1');
      if (kind === 'recaptcha-v3') {
        set('version', 'v3');
        set('action', task.pageAction);
        set('min_score', task.minScore);
      }
      if (kind === 'turnstile') set('action', task.action ?? (task.metadata as { action?: unknown } | undefined)?.action);
      break;
    case 'image':
      set('method', 'base64');
      set('body', task.body);
      break;
  }
  set('userAgent', task.userAgent);
  // proxy: separate fields, or CapSolver's `type:host:port[:login:password]`
  if (typeof task.proxy === 'string') {
    const [proxyType, host, port, login, password] = task.proxy.split(':');
    set('proxytype', proxyType?.toUpperCase());
    set('proxy', `${login !== undefined ? `${login}${password !== undefined ? `:${password}` : ''}@` : ''}${host ?? ''}:${port ?? ''}`);
  } else if (task.proxyAddress !== undefined) {
    set('proxytype', String(task.proxyType ?? 'http').toUpperCase());
    const auth = task.proxyLogin !== undefined ? `${String(task.proxyLogin)}${task.proxyPassword !== undefined ? `:${String(task.proxyPassword)}` : ''}@` : '';
    set('proxy', `${auth}${String(task.proxyAddress)}:${String(task.proxyPort ?? '')}`);
  }
  return params;
}

/** The `solution` object of a ready task, shaped like the dialect's. */
function solutionFor(dialect: JsonDialect, type: SimCaptchaType, answer: string): Record<string, unknown> {
  switch (type) {
    case 'recaptcha-v2':
    case 'recaptcha-v3':
      return { gRecaptchaResponse: answer, ...(dialect === '2captcha-v2' && { token: answer }) };
    case 'hcaptcha':
      return { gRecaptchaResponse: answer, respKey: `E0_${answer.slice(4, 40)}`, userAgent: SIM_USER_AGENT };
    case 'turnstile':
      return { token: answer, userAgent: SIM_USER_AGENT };
    case 'image':
      return { text: answer };
  }
}

const SIM_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';
