// The one classification table of provider answer codes (provider-api.md, "What each answer means for the caller"),
// and the factory that turns a classified code into the matching error class.
import {
  CaptchaNotReadyError,
  CaptchaPermanentError,
  CaptchaResubmitError,
  ProviderAccountError,
  ProviderTransientError,
  type ProviderAnswerClass,
  type ProviderError,
} from './errors';

export type LegacyProviderName = 'captchaai' | '2captcha';

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
  ERROR_TOO_MUCH_REQUESTS: 'transient',

  ERROR_CAPTCHA_UNSOLVABLE: 'resubmit',
  ERROR_BAD_DUPLICATES: 'resubmit',
  ERROR_PROXY_CONNECTION_FAILED: 'resubmit',
  ERROR_TOKEN_EXPIRED: 'resubmit',
  ERROR_WRONG_CAPTCHA_ID: 'resubmit',
  ERROR_NO_SUCH_CAPCHA_ID: 'resubmit',
  ERROR_NO_SUCH_CAPTCHA_ID: 'resubmit',

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
  // report answers: repeating the same report cannot change them
  ERROR_REPORT_NOT_RECORDED: 'permanent',
  ERROR_DUPLICATE_REPORT: 'permanent',

  ERROR_WRONG_USER_KEY: 'account',
  ERROR_KEY_DOES_NOT_EXIST: 'account',
  IP_BANNED: 'account',
  ERROR_IP_NOT_ALLOWED: 'account',
};

const PER_PROVIDER: Readonly<Record<LegacyProviderName, Readonly<Record<string, ProviderAnswerClass>>>> = {
  // CaptchaAI sells threads, not solves: "zero balance" there means "no free thread right now"
  captchaai: { ERROR_ZERO_BALANCE: 'transient' },
  '2captcha': { ERROR_ZERO_BALANCE: 'account' },
};

/** `ERROR:1005`, `error: 1005 ` → `ERROR: 1005`; other codes are trimmed and upper-cased. */
export function normalizeProviderCode(code: string): string {
  const trimmed = code.trim().toUpperCase();
  const numbered = /^ERROR:\s*(\d+)$/.exec(trimmed);
  return numbered ? `ERROR: ${numbered[1]}` : trimmed;
}

/**
 * What the caller should do about a provider answer code. Unknown codes are transient: a code we have never seen
 * is more likely a new capacity or maintenance answer than a verdict on the task, so a bounded retry is the safe
 * default; dead-lettering or stopping the account on a guess would lose good work. The code travels with the error,
 * so an unknown one shows up in the DLQ reason and can be added here.
 */
export function classifyProviderCode(provider: LegacyProviderName, code: string): ProviderAnswerClass {
  const normalized = normalizeProviderCode(code);
  return PER_PROVIDER[provider][normalized] ?? SHARED[normalized] ?? 'transient';
}

/** True when the table knows the code (for either provider). */
export function isKnownProviderCode(code: string): boolean {
  const normalized = normalizeProviderCode(code);
  return normalized in SHARED || normalized in PER_PROVIDER.captchaai || normalized in PER_PROVIDER['2captcha'];
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
