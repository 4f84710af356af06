import type { CaptchaTask } from '../domain/types';
import type { ProviderError } from './errors';

/** The account's thread plan (CaptchaAI's `threadsinfo`): threads bought, busy and free. */
export interface ThreadPlan {
  threads: number;
  workingThreads: number;
  freeThreads: number;
}

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
  /** the thread plan, where the provider has one (`threadsinfo`); undefined where it has none */
  threadsInfo?(signal?: AbortSignal): Promise<ThreadPlan | undefined>;
  close(): Promise<void>;
  /**
   * When to poll a task that would poll at `plannedAt` (epoch ms) every `intervalMs`, so that its polls share requests
   * with the other tasks' (clients that coalesce polls, ./poll-coalescer); absent: at `plannedAt`.
   */
  pollSlot?(providerTaskId: string, plannedAt: number, intervalMs: number): number;
}

/** A client that also answers many tasks in one request (capability `get-multi`): answers in the order of `ids`. */
export interface MultiPollProvider extends CaptchaProvider {
  pollMany(providerTaskIds: readonly string[], signal?: AbortSignal): Promise<(PollAnswer | ProviderError)[]>;
}
