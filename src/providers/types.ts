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
  /** send only if the client's rate limit lets it go at once; otherwise `SubmitWouldWaitError`, nothing sent */
  immediate?: boolean;
}

/** How either wire client reaches its provider (each client adds its own). */
export interface WireClientOptions {
  /** the provider's base URL (legacy: in.php and res.php under it; JSON: createTask, getTaskResult, getBalance) */
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
  /** legacy `soft_id`; JSON `softId` (anti-captcha, 2captcha v2) or `appId` (CapSolver), sent with every submit */
  softId?: string | number;
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
   * Clients that coalesce polls (./poll-coalescer): the task's answer from a round shared with the other tasks, at or
   * after `window.earliestAt` and by `window.dueAt`; absent: the caller waits for `dueAt` and calls `poll`.
   */
  pollScheduled?(providerTaskId: string, window: PollWindow, signal?: AbortSignal): Promise<PollAnswer>;
}

/** When a scheduled poll may go, and when it must (epoch ms). */
export interface PollWindow {
  /** may ride in a round shared with other tasks from then on */
  earliestAt: number;
  /** polled by then at the latest: what the task's own policy plans */
  dueAt: number;
  /** the task's poll interval: a coalescing client keeps its rounds no further apart */
  intervalMs: number;
}

/** A client that also answers many tasks in one request (capability `get-multi`): answers in the order of `ids`. */
export interface MultiPollProvider extends CaptchaProvider {
  pollMany(providerTaskIds: readonly string[], signal?: AbortSignal): Promise<(PollAnswer | ProviderError)[]>;
}
