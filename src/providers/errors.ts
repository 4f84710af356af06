// Every provider failure is born here, once, with its class and the provider's code. Messages never contain the key.
import type { FailureClass } from '../domain/types';

/** `not-ready` is the normal "poll again" answer; the others are failure classes shared with the workflows. */
export type ProviderAnswerClass = 'not-ready' | Exclude<FailureClass, 'timeout' | 'internal'>;

/**
 * What became of the request behind a failure: `answered` (the provider said no: nothing was paid), `not-sent` (the
 * request provably never left: connect refused, DNS, no route, connect timeout, a closed client) or `unknown` (it may
 * have reached the provider: a timeout or a broken connection after sending; a submit may have been paid).
 */
export type RequestOutcome = 'answered' | 'not-sent' | 'unknown';

export class ProviderError extends Error {
  override readonly name: string = 'ProviderError';
  constructor(
    message: string,
    /** what the caller should do about it */
    readonly failureClass: ProviderAnswerClass,
    /** the provider's code (`ERROR_CAPTCHA_UNSOLVABLE`) or ours for transport faults (`HTTP_503`, `ECONNRESET`, `BAD_BODY`) */
    readonly code: string,
    /** provider task id, when the failure concerns one */
    readonly providerTaskId?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The task is still being solved; poll again after the interval. */
export class CaptchaNotReadyError extends ProviderError {
  override readonly name = 'CaptchaNotReadyError';
  constructor(providerTaskId: string) {
    super(`captcha ${providerTaskId} is not ready yet`, 'not-ready', 'CAPCHA_NOT_READY', providerTaskId);
  }
}

/** Capacity, rate limit, 5xx, unparsable body or a broken connection: the same request may succeed later. */
export class ProviderTransientError extends ProviderError {
  override readonly name = 'ProviderTransientError';
  constructor(
    message: string,
    code: string,
    providerTaskId?: string,
    options?: { cause?: unknown },
    /** `answered` unless the exchange itself failed (./transport) */
    readonly requestOutcome: RequestOutcome = 'answered',
  ) {
    super(message, 'transient', code, providerTaskId, options);
  }
}

/** This provider task is lost (unsolvable, expired, bad id): a new submit may succeed. */
export class CaptchaResubmitError extends ProviderError {
  override readonly name = 'CaptchaResubmitError';
  constructor(message: string, code: string, providerTaskId?: string) {
    super(message, 'resubmit', code, providerTaskId);
  }
}

/** The task itself is wrong (bad sitekey, page URL, parameters): never retry. */
export class CaptchaPermanentError extends ProviderError {
  override readonly name = 'CaptchaPermanentError';
  constructor(message: string, code: string, providerTaskId?: string) {
    super(message, 'permanent', code, providerTaskId);
  }
}

/** The account is unusable (bad key, no balance, IP banned): every further request fails the same way. */
/**
 * Not the provider's answer but ours: a submit asked to go only at once (`SubmitOptions.immediate`) would have waited
 * for the client's own rate limit. Nothing was sent; the provider's health is not touched.
 */
export class SubmitWouldWaitError extends Error {
  override readonly name = 'SubmitWouldWaitError';
  readonly code = 'SUBMIT_WOULD_WAIT';
  constructor(provider: string) {
    super(`${provider} submit: the client's submit rate limit would make it wait; nothing was sent`);
  }
}

export class ProviderAccountError extends ProviderError {
  override readonly name = 'ProviderAccountError';
  constructor(message: string, code: string) {
    super(message, 'account', code);
  }
}

/** Shortest encoded form of a secret searched for: shorter fragments would match ordinary text. */
const MIN_FORM_LENGTH = 8;

/**
 * The spellings of `secret` that may show up in an answer or a message, all to be matched case-insensitively: as is,
 * URL-encoded (once and twice), hex, and base64 / base64url of the secret and of its lower- and upper-case forms, each
 * at the three byte alignments it can have inside a longer encoded string (only the characters that depend on the
 * secret's bytes alone, so `base64("ERROR_KEY_" + secret)` is found too).
 */
export function secretForms(secret: string): string[] {
  const forms = new Set([secret, encodeURIComponent(secret), encodeURIComponent(encodeURIComponent(secret))]);
  for (const variant of new Set([secret, secret.toLowerCase(), secret.toUpperCase()])) {
    const bytes = Buffer.from(variant, 'utf8');
    forms.add(bytes.toString('hex'));
    for (let offset = 0; offset < 3; offset++) {
      const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
      // characters fully inside the secret's bits: from ceil(8·offset/6) to floor(8·(offset+n)/6)
      const stable = encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6));
      forms.add(stable);
      forms.add(stable.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return [...forms].filter((form) => form === secret || form.length >= MIN_FORM_LENGTH);
}

/** The last secret's pattern: a client redacts with one key all its life. */
let cached: { secret: string; pattern: RegExp } | undefined;

function secretPattern(secret: string): RegExp {
  if (cached?.secret !== secret) {
    const forms = secretForms(secret)
      .sort((a, b) => b.length - a.length)
      .map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    cached = { secret, pattern: new RegExp(forms.join('|'), 'gi') };
  }
  return cached.pattern;
}

/** True when `text` holds the secret in any of its spellings (`secretForms`), in any letter case. */
export function containsSecret(text: string, secret: string | undefined): boolean {
  if (!secret) return false;
  const pattern = secretPattern(secret);
  pattern.lastIndex = 0;
  return pattern.test(text);
}

/** Replace every occurrence of the secret (any spelling of `secretForms`, in any letter case) in a string. */
export function redact(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return text.replace(secretPattern(secret), '[REDACTED]');
}
