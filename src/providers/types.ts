import type { CaptchaTask } from '../domain/types';

/** The account's thread plan (CaptchaAI's `threadsinfo`): threads bought, busy and free. */
export interface ThreadPlan {
  threads: number;
  workingThreads: number;
  freeThreads: number;
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
  submit(task: CaptchaTask, signal?: AbortSignal): Promise<string>;
  poll(providerTaskId: string, signal?: AbortSignal): Promise<PollAnswer>;
  balance(signal?: AbortSignal): Promise<number>;
  report(providerTaskId: string, verdict: 'good' | 'bad', signal?: AbortSignal): Promise<void>;
  /** the thread plan, where the provider has one (`threadsinfo`); undefined where it has none */
  threadsInfo?(signal?: AbortSignal): Promise<ThreadPlan | undefined>;
  close(): Promise<void>;
}
