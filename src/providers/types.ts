import type { CaptchaTask } from '../domain/types';

/** What a submit may ask besides the task: where the provider pushes the result (legacy `pingback`, JSON `callbackUrl`). */
export interface SubmitOptions {
  /** our callback receiver's per-task URL (src/callbacks); absent: the result is polled */
  callbackUrl?: string;
}

export type PollAnswer = { ready: false } | { ready: true; token: string };

/**
 * A captcha solver service. Every method throws only `ProviderError` subclasses (see ./errors), already classified
 * and with the API key redacted. `signal` aborts the request.
 */
export interface CaptchaProvider {
  /** 'captchaai', '2captcha', … */
  readonly name: string;
  /** Pays for a new provider task; returns its id (always a string, whatever the wire type). */
  submit(task: CaptchaTask, signal?: AbortSignal, options?: SubmitOptions): Promise<string>;
  poll(providerTaskId: string, signal?: AbortSignal): Promise<PollAnswer>;
  balance(signal?: AbortSignal): Promise<number>;
  report(providerTaskId: string, verdict: 'good' | 'bad', signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
