// The one classification table of provider answer codes (provider-api.md, "What each answer means for the caller"),
// and the factory that turns a classified code into the matching error class.
import {
  CaptchaNotReadyError,
  CaptchaPermanentError,
  CaptchaResubmitError,
  ProviderAccountError,
  ProviderTransientError,
  containsSecret,
  type ProviderAnswerClass,
  type ProviderError,
} from './errors';

export type LegacyProviderName = 'captchaai' | '2captcha';
/** The JSON createTask / getTaskResult family (provider-api.md, Family 2). */
export type JsonProviderName = '2captcha-v2' | 'anticaptcha' | 'capsolver' | 'capmonster';
export type ClassifiedProviderName = LegacyProviderName | JsonProviderName;
/** Every provider the product speaks to, once: configuration, routes and the simulator take their names from here. */
export const PROVIDERS = ['captchaai', '2captcha', '2captcha-v2', 'anticaptcha', 'capsolver', 'capmonster'] as const satisfies readonly ClassifiedProviderName[];
// every name of the types above is in the list (a name added to a type and not here fails to compile)
const _everyProvider: Record<ClassifiedProviderName, true> = Object.fromEntries(PROVIDERS.map((p) => [p, true])) as Record<(typeof PROVIDERS)[number], true>;
void _everyProvider;

const SHARED: Readonly<Record<string, ProviderAnswerClass>> = {
  CAPCHA_NOT_READY: 'not-ready',
  CAPTCHA_NOT_READY: 'not-ready',

  ERROR_NO_SLOT_AVAILABLE: 'transient',
  MAX_USER_TURN: 'transient',
  'ERROR: 1001': 'transient',
  'ERROR: 1003': 'transient',
  'ERROR: 1005': 'transient',
  ERROR_SERVER_ERROR: 'transient',
  ERROR_INTERNAL_SERVER_ERROR: 'transient',
  // also CapMonster's answer to polls less than 2 s apart: the same poll a little later is fine
  ERROR_TOO_MUCH_REQUESTS: 'transient',
  // JSON family (anti-captcha / 2captcha v2 / CapSolver / CapMonster spellings)
  ERROR_SERVICE_UNAVALIABLE: 'transient', // sic, CapSolver
  ERROR_SERVICE_UNAVAILABLE: 'transient',
  ERROR_RATE_LIMIT: 'transient',

  ERROR_CAPTCHA_UNSOLVABLE: 'resubmit',
  ERROR_BAD_DUPLICATES: 'resubmit',
  ERROR_PROXY_CONNECTION_FAILED: 'resubmit',
  ERROR_TOKEN_EXPIRED: 'resubmit',
  ERROR_WRONG_CAPTCHA_ID: 'resubmit',
  ERROR_NO_SUCH_CAPCHA_ID: 'resubmit',
  ERROR_NO_SUCH_CAPTCHA_ID: 'resubmit',
  ERROR_TASKID_INVALID: 'resubmit',
  ERROR_TASK_TIMEOUT: 'resubmit',
  ERROR_CAPTCHA_SOLVE_FAILED: 'resubmit',
  ERROR_RECAPTCHA_TIMEOUT: 'resubmit',
  ERROR_MAXIMUM_TIME_EXCEED: 'resubmit',
  ERROR_FAILED_LOADING_WIDGET: 'resubmit',
  ERROR_PROXY_BANNED: 'resubmit',
  ERROR_PROXY_CONNECT_REFUSED: 'resubmit',
  ERROR_PROXY_CONNECT_TIMEOUT: 'resubmit',
  ERROR_PROXY_READ_TIMEOUT: 'resubmit',
  /** ours: the client stopped polling a task at the provider's per-task poll limit (CapMonster, CapSolver: 120) */
  ERROR_POLL_LIMIT: 'resubmit',

  ERROR_PAGEURL: 'permanent',
  ERROR_GOOGLEKEY: 'permanent',
  ERROR_WRONG_GOOGLEKEY: 'permanent',
  ERROR_SITEKEY: 'permanent',
  ERROR_BAD_TOKEN_OR_PAGEURL: 'permanent',
  ERROR_BAD_PARAMETERS: 'permanent',
  ERROR_PROXY_FORMAT: 'permanent',
  ERROR_WRONG_ID_FORMAT: 'permanent',
  ERROR_EMPTY_ACTION: 'permanent',
  ERROR_NO_SUCH_METHOD: 'permanent',
  ERROR_ZERO_CAPTCHA_FILESIZE: 'permanent',
  ERROR_TOO_BIG_CAPTCHA_FILESIZE: 'permanent',
  ERROR_WRONG_FILE_EXTENSION: 'permanent',
  ERROR_IMAGE_TYPE_NOT_SUPPORTED: 'permanent',
  ERROR_UPLOAD: 'permanent',
  ERROR_CAPTCHAIMAGE_BLOCKED: 'permanent',
  ERROR_TASK_ABSENT: 'permanent',
  ERROR_TASK_NOT_SUPPORTED: 'permanent',
  ERROR_INVALID_TASK_DATA: 'permanent',
  ERROR_BAD_REQUEST: 'permanent',
  ERROR_RECAPTCHA_INVALID_SITEKEY: 'permanent',
  ERROR_RECAPTCHA_INVALID_DOMAIN: 'permanent',
  ERROR_DOMAIN_NOT_ALLOWED: 'permanent',
  ERROR_INCORRECT_SESSION_DATA: 'permanent',
  ERROR_INVALID_IMAGE: 'permanent',
  ERROR_PARSE_IMAGE_FAIL: 'permanent',
  ERROR_BAD_PROXY: 'permanent',
  // report answers: repeating the same report cannot change them
  ERROR_REPORT_NOT_RECORDED: 'permanent',
  ERROR_DUPLICATE_REPORT: 'permanent',

  ERROR_WRONG_USER_KEY: 'account',
  ERROR_KEY_DOES_NOT_EXIST: 'account',
  IP_BANNED: 'account',
  ERROR_IP_NOT_ALLOWED: 'account',
  ERROR_IP_BLOCKED: 'account',
  ERROR_IP_BANNED: 'account',
  ERROR_KEY_DENIED_ACCESS: 'account',
  ERROR_KEY_TEMP_BLOCKED: 'account',
  ERROR_SETTLEMENT_FAILED: 'account',
  ERROR_ACCOUNT_SUSPENDED: 'account',
};

const PER_PROVIDER: Readonly<Record<ClassifiedProviderName, Readonly<Record<string, ProviderAnswerClass>>>> = {
  // CaptchaAI sells threads, not solves: "zero balance" there means "no free thread right now"
  captchaai: { ERROR_ZERO_BALANCE: 'transient' },
  '2captcha': { ERROR_ZERO_BALANCE: 'account' },
  // the JSON family sells solves: no money, no further task
  '2captcha-v2': { ERROR_ZERO_BALANCE: 'account' },
  anticaptcha: { ERROR_ZERO_BALANCE: 'account' },
  capsolver: { ERROR_ZERO_BALANCE: 'account' },
  capmonster: { ERROR_ZERO_BALANCE: 'account' },
};

/**
 * JSON-family numeric `errorId`s (2captcha v2 and anti-captcha share the numbering), for answers that carry an id but
 * no `errorCode`. CapSolver and CapMonster answer every error with `errorId: 1` and always name the code.
 */
export const JSON_ERROR_IDS: Readonly<Record<number, string>> = {
  1: 'ERROR_KEY_DOES_NOT_EXIST',
  2: 'ERROR_NO_SLOT_AVAILABLE',
  3: 'ERROR_ZERO_CAPTCHA_FILESIZE',
  4: 'ERROR_TOO_BIG_CAPTCHA_FILESIZE',
  10: 'ERROR_ZERO_BALANCE',
  11: 'ERROR_IP_NOT_ALLOWED',
  12: 'ERROR_CAPTCHA_UNSOLVABLE',
  13: 'ERROR_BAD_DUPLICATES',
  14: 'ERROR_NO_SUCH_METHOD',
  15: 'ERROR_IMAGE_TYPE_NOT_SUPPORTED',
  16: 'ERROR_NO_SUCH_CAPCHA_ID',
  21: 'ERROR_IP_BLOCKED',
  22: 'ERROR_TASK_ABSENT',
  23: 'ERROR_TASK_NOT_SUPPORTED',
  31: 'ERROR_RECAPTCHA_INVALID_SITEKEY',
  32: 'ERROR_RECAPTCHA_INVALID_DOMAIN',
  34: 'ERROR_TOKEN_EXPIRED',
};

/** Longest part between underscores of a code we accept; the longest known one (`CAPTCHAIMAGE`) has 12 characters. */
const MAX_CODE_PART = 24;

/**
 * `ERROR:1005`, `error: 1005 ` → `ERROR: 1005`; other codes are trimmed and upper-cased. Anything that is not a code
 * becomes `UNRECOGNIZED_ANSWER`: codes travel into messages, histories, the DLQ and search attributes, so an answer
 * that echoes the key (`ERROR_KEY_<key>`, in any case or encoding) must never become one. Pass the key as `secret`
 * wherever it is known; without it, a part longer than any real code's (a key, a token) is refused all the same.
 */
export function normalizeProviderCode(code: string, secret?: string): string {
  if (containsSecret(code, secret)) return UNRECOGNIZED_ANSWER;
  const trimmed = code.trim().toUpperCase();
  const numbered = /^ERROR:\s*(\d+)$/.exec(trimmed);
  if (numbered) return `ERROR: ${numbered[1]}`;
  // every provider code has an underscore (ERROR_…, CAPCHA_NOT_READY, IP_BANNED); anything else — an empty or huge
  // string, a part as long as a key — is not a code
  const shaped = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/.test(trimmed) && trimmed.length <= 64;
  return shaped && trimmed.split('_').every((part) => part.length <= MAX_CODE_PART) ? trimmed : UNRECOGNIZED_ANSWER;
}

/** The code of a provider answer that is not a code. */
export const UNRECOGNIZED_ANSWER = 'UNRECOGNIZED_ANSWER';

/**
 * What the caller should do about a provider answer code. Unknown codes are transient: a code we have never seen
 * is more likely a new capacity or maintenance answer than a verdict on the task, so a bounded retry is the safe
 * default; dead-lettering or stopping the account on a guess would lose good work. The code travels with the error,
 * so an unknown one shows up in the DLQ reason and can be added here.
 */
export function classifyProviderCode(provider: ClassifiedProviderName, code: string): ProviderAnswerClass {
  const normalized = normalizeProviderCode(code);
  return PER_PROVIDER[provider][normalized] ?? SHARED[normalized] ?? 'transient';
}

/** True when the table knows the code (for any provider). */
export function isKnownProviderCode(code: string): boolean {
  const normalized = normalizeProviderCode(code);
  return normalized in SHARED || Object.values(PER_PROVIDER).some((table) => normalized in table);
}

/** The error class of a classified provider code. `message` must already be redacted. */
export function providerErrorFor(
  answerClass: ProviderAnswerClass,
  code: string,
  message: string,
  providerTaskId?: string,
): ProviderError {
  switch (answerClass) {
    case 'not-ready':
      return new CaptchaNotReadyError(providerTaskId ?? 'unknown');
    case 'transient':
      return new ProviderTransientError(message, code, providerTaskId);
    case 'resubmit':
      return new CaptchaResubmitError(message, code, providerTaskId);
    case 'permanent':
      return new CaptchaPermanentError(message, code, providerTaskId);
    case 'account':
      return new ProviderAccountError(message, code);
  }
}
