// What both wire families share below the protocol: the pooled undici dispatcher, and turning a failed exchange into
// a transient ProviderError whose message and cause never carry the key.
import { Agent } from 'undici';
import { UNRECOGNIZED_ANSWER, classifyProviderCode, normalizeProviderCode, providerErrorFor, type ClassifiedProviderName } from './classify';
import { ProviderTransientError, containsSecret, redact, type ProviderError, type RequestOutcome } from './errors';

/** How long a sent submit waits for its answer by default (CAPTCHA_SUBMIT_TIMEOUT_MS). */
export const DEFAULT_SUBMIT_TIMEOUT_MS = 60_000;

/** Node and undici error codes of a failed exchange → our transient codes. */
export const TRANSPORT_CODES: Readonly<Record<string, string>> = {
  UND_ERR_HEADERS_TIMEOUT: 'TIMEOUT',
  UND_ERR_BODY_TIMEOUT: 'TIMEOUT',
  UND_ERR_CONNECT_TIMEOUT: 'TIMEOUT',
  ETIMEDOUT: 'TIMEOUT',
  UND_ERR_SOCKET: 'ECONNRESET',
  ECONNRESET: 'ECONNRESET',
  EPIPE: 'ECONNRESET',
  ECONNREFUSED: 'ECONNREFUSED',
  ENOTFOUND: 'ENOTFOUND',
  EAI_AGAIN: 'ENOTFOUND',
  EHOSTUNREACH: 'EHOSTUNREACH',
  ENETUNREACH: 'EHOSTUNREACH',
  UND_ERR_CLOSED: 'CLIENT_CLOSED',
  UND_ERR_DESTROYED: 'CLIENT_CLOSED',
};

/**
 * Node and undici error codes of an exchange that provably never sent its request: no connection was made (refused,
 * no address, no route, connect timeout) or the client was closed. Every other transport fault may come after the
 * request reached the provider: its outcome is unknown (a submit may have been paid).
 */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

/** Whether a failed exchange's request may have reached the provider, by the Node / undici error code. */
export function requestOutcomeOf(originalCode: string | undefined, aborted: boolean): Exclude<RequestOutcome, 'answered'> {
  return !aborted && originalCode !== undefined && NOT_SENT_CODES.has(originalCode) ? 'not-sent' : 'unknown';
}

/**
 * One keep-alive pool per client. `timeoutMs` limits each phase of one exchange (connect, headers, body); the clock
 * starts when the request leaves the pool, so waiting for a free connection under load is not a provider timeout.
 * A submit overrides the headers and body limits per request (`answerTimeouts`).
 */
export function createDispatcher(connections: number, timeoutMs: number): Agent {
  return new Agent({
    connections,
    keepAliveTimeout: 4_000,
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
}

/** Per-request limits of waiting for an answer that was sent: undici's `headersTimeout` and `bodyTimeout`. */
export function answerTimeouts(timeoutMs: number): { headersTimeout: number; bodyTimeout: number } {
  return { headersTimeout: timeoutMs, bodyTimeout: timeoutMs };
}

/**
 * A provider's error answer, classified by the one table; "not ready" outside a poll is an answer we did not expect.
 * An answer that is not a code (one that echoes the key above all) becomes `UNRECOGNIZED_ANSWER`, never a code.
 */
export function answerError(
  provider: ClassifiedProviderName,
  apiKey: string,
  op: string,
  rawCode: string,
  text: string | undefined,
  providerTaskId?: string,
): ProviderError {
  const code = normalizeProviderCode(rawCode, apiKey);
  const answerClass = classifyProviderCode(provider, code);
  if (answerClass === 'not-ready') return transientError(provider, apiKey, op, code, `unexpected ${code}`, providerTaskId);
  const unrecognized =
    code !== UNRECOGNIZED_ANSWER ? '' : containsSecret(rawCode, apiKey) ? ' (the answer held the API key: not shown)' : ` (answer: ${snippet(rawCode)})`;
  const message = `${provider} ${op}: ${code}${unrecognized}${text ? ` (${text})` : ''}`;
  return providerErrorFor(answerClass, code, redact(message, apiKey), providerTaskId);
}

/** A transient error of `provider` with the key redacted from the message (and from the cause, when given). */
export function transientError(
  provider: string,
  apiKey: string,
  op: string,
  code: string,
  detail: string,
  providerTaskId?: string,
  cause?: Error,
  requestOutcome: RequestOutcome = 'answered',
): ProviderTransientError {
  return new ProviderTransientError(redact(`${provider} ${op}: ${detail}`, apiKey), code, providerTaskId, cause ? { cause } : undefined, requestOutcome);
}

/**
 * A failed exchange (timeout, reset, refused, aborted by the caller) as a transient error, with whether its request
 * may have reached the provider. `requestTimeoutMs` is the limit that applied to this exchange (submit or poll).
 */
export function transportFailure(
  provider: string,
  apiKey: string,
  requestTimeoutMs: number,
  op: string,
  error: unknown,
  signal?: AbortSignal,
  providerTaskId?: string,
): ProviderTransientError {
  const original = error instanceof Error ? error : new Error(String(error));
  const rawCode = (original as Error & { code?: unknown }).code;
  const originalCode = typeof rawCode === 'string' ? rawCode : undefined;
  const code = signal?.aborted ? 'ABORTED' : ((originalCode && TRANSPORT_CODES[originalCode]) ?? 'NETWORK_ERROR');
  const detail =
    code === 'TIMEOUT'
      ? `no answer within ${requestTimeoutMs} ms (${originalCode ?? original.name})`
      : code === 'ABORTED'
        ? 'aborted by the caller'
        : `${original.message}${originalCode ? ` (${originalCode})` : ''}`;
  const outcome = requestOutcomeOf(originalCode, code === 'ABORTED');
  return transientError(provider, apiKey, op, code, detail, providerTaskId, sanitizedCause(original, originalCode, apiKey), outcome);
}

/**
 * The ways one provider client fails, bound to its name, its key (redacted from every message and cause) and its
 * request timeout: an error answer, a transient fault, an unreadable body, a failed exchange. Both wire families use it.
 */
export class ProviderFailures {
  constructor(
    private readonly provider: ClassifiedProviderName,
    private readonly apiKey: string,
    private readonly requestTimeoutMs: number,
  ) {}

  /** A provider's error answer, classified by the one table. */
  answer(op: string, rawCode: string, text: string | undefined, providerTaskId?: string): ProviderError {
    return answerError(this.provider, this.apiKey, op, rawCode, text, providerTaskId);
  }

  transient(op: string, code: string, detail: string, providerTaskId?: string): ProviderTransientError {
    return transientError(this.provider, this.apiKey, op, code, detail, providerTaskId);
  }

  badBody(op: string, detail: string, providerTaskId?: string): ProviderTransientError {
    return this.transient(op, 'BAD_BODY', detail, providerTaskId);
  }

  /** `timeoutMs`: the limit that applied to this exchange (the submit's is longer). */
  transport(op: string, error: unknown, signal?: AbortSignal, providerTaskId?: string, timeoutMs = this.requestTimeoutMs): ProviderTransientError {
    return transportFailure(this.provider, this.apiKey, timeoutMs, op, error, signal, providerTaskId);
  }
}

/** A copy of a transport error with the key redacted everywhere and nothing attached (no socket, no nested cause). */
export function sanitizedCause(original: Error, code: string | undefined, apiKey: string): Error {
  const safe = new Error(redact(original.message, apiKey));
  safe.name = original.name;
  safe.stack = redact(original.stack ?? `${original.name}: ${original.message}`, apiKey);
  if (code) Object.defineProperty(safe, 'code', { value: code, enumerable: true });
  return safe;
}

/** The first 80 characters of a body, on one line, for error messages. */
export function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 80 ? `${flat.slice(0, 80)}…` : flat;
}
