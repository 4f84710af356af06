// The JSON createTask / getTaskResult family's wire pieces, shared by the simulator's JSON face and the gateway: the
// dialects, a JSON task as in.php parameters, each dialect's error spelling and numbering, and the solution shapes.
import { JSON_CAPABILITIES } from './capabilities';
import type { SubmissionType } from './legacy-wire';

type Kind = SubmissionType;

export const JSON_DIALECTS = ['2captcha-v2', 'anticaptcha', 'capsolver', 'capmonster'] as const;
export type JsonDialect = (typeof JSON_DIALECTS)[number];

/** Paths of the family; the report ones are each dialect's spelling of reportbad / reportgood. */
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

/** CapMonster answers an unknown task type with ERROR_NO_SUCH_METHOD ("Incorrect captcha type", its error list). */
const CAPMONSTER_CODES: Record<string, string> = {
  ...COMMON_CODES,
  ERROR_TASK_NOT_SUPPORTED: 'ERROR_NO_SUCH_METHOD',
  IP_BANNED: 'ERROR_IP_BANNED',
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

/** A legacy code as the dialect's error answer (HTTP status and body); `scriptedText` replaces the dialect's text. */
export function jsonError(dialect: JsonDialect, legacyCode: string, scriptedText?: string): { status: number; body: Record<string, unknown> } {
  const caps = JSON_CAPABILITIES[dialect];
  const table = dialect === 'capsolver' ? CAPSOLVER_CODES : dialect === 'capmonster' ? CAPMONSTER_CODES : COMMON_CODES;
  const code = table[legacyCode] ?? legacyCode;
  const numbered = dialect === '2captcha-v2' || dialect === 'anticaptcha';
  const errorId = numbered ? (ERROR_IDS[code] ?? 100) : 1;
  const status = dialect === 'capsolver' ? (ACCOUNT_CODES.has(code) ? 401 : 400) : 200;
  const taskData = code === 'ERROR_INVALID_TASK_DATA' && `invalid task data: ${CAPSOLVER_TASK_DATA[legacyCode] ?? 'some parameters are invalid'}`;
  const description = scriptedText ?? (taskData || (caps.errorTexts[code] ?? caps.genericErrorText));
  return { status, body: { errorId, errorCode: code, errorDescription: description } };
}

/** A JSON task as the engine's in.php parameters. */
export function legacyParams(kind: Kind, type: string, task: Record<string, unknown>): Record<string, string> {
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
export function solutionFor(dialect: JsonDialect, type: Kind, answer: string): Record<string, unknown> {
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
