// Client-side good citizenship with the provider: a decorator around any CaptchaProvider that keeps within the
// documented ban rules (provider-api.md, "Timings and limits"):
//   - at most `submitsPer3s` in.php calls in any 3 s (60 by default; more earns MAX_USER_TURN and a 10 s ban);
//   - polls of one provider task no faster than `minPollIntervalMs`.
// Requests over the limit wait their turn (first come, first served); they never fail for it, unless the caller's
// AbortSignal fires while they wait.
//
// The window is counted conservatively, so network jitter can never squeeze 61 arrivals into the provider's 3 s:
// a submit occupies a slot from the moment it is sent until `windowMs` after its answer came back (the provider saw
// the request before it answered). Polls are spaced the same way: from the previous poll's answer.
//
// The limits hold per process. Several workers sharing one provider account must split them (e.g. 60 / N each:
// CAPTCHA_MAX_SUBMITS_PER_3S) or rely on the server-wide WORKER_TASK_QUEUE_ACTIVITIES_PER_SECOND as well.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CaptchaTask } from '../domain/types';
import { ProviderTransientError, SubmitWouldWaitError } from './errors';
import type { CaptchaProvider, PollAnswer, PollWindow, SubmitOptions, ThreadPlan } from './types';

export interface ProviderLimits {
  /** in.php calls in any `submitWindowMs` at most; default 60 (the providers' rule) */
  submitsPer3s?: number;
  /** the sliding window of `submitsPer3s`; default 3 000 ms. Only tests change it. */
  submitWindowMs?: number;
  /** gap between the answer of one poll of a task and the next poll of the same task; default 0 (no limit) */
  minPollIntervalMs?: number;
}

export const DEFAULT_PROVIDER_LIMITS = Object.freeze({ submitsPer3s: 60, submitWindowMs: 3_000, minPollIntervalMs: 0 });

/** What the limiter did so far (for tests, benchmarks and logs). */
export interface ProviderLimiterStats {
  submits: number;
  /** submits that had to wait for a slot, and how long they waited in all */
  submitsDelayed: number;
  submitWaitMs: number;
  maxSubmitWaitMs: number;
  polls: number;
  pollsDelayed: number;
  pollWaitMs: number;
  /** requests given up while waiting (caller aborted) */
  aborted: number;
  /** submits asked to go at once that would have waited (`SubmitOptions.immediate`): not sent */
  submitsDeferred: number;
}

export interface LimitedProvider extends CaptchaProvider {
  readonly limits: Readonly<Required<ProviderLimits>>;
  limiterStats(): ProviderLimiterStats;
  /** the undecorated provider */
  readonly inner: CaptchaProvider;
}

/** Wraps `provider` so that its submits and polls keep within `limits`. `balance`, `report` and `close` pass through. */
export function withProviderLimits(provider: CaptchaProvider, limits: ProviderLimits = {}): LimitedProvider {
  const resolved = {
    submitsPer3s: limits.submitsPer3s ?? DEFAULT_PROVIDER_LIMITS.submitsPer3s,
    submitWindowMs: limits.submitWindowMs ?? DEFAULT_PROVIDER_LIMITS.submitWindowMs,
    minPollIntervalMs: limits.minPollIntervalMs ?? DEFAULT_PROVIDER_LIMITS.minPollIntervalMs,
  };
  if (!Number.isInteger(resolved.submitsPer3s) || resolved.submitsPer3s < 1) {
    throw new RangeError(`submitsPer3s must be a positive integer (got ${resolved.submitsPer3s})`);
  }
  if (!(resolved.submitWindowMs > 0)) throw new RangeError(`submitWindowMs must be positive (got ${resolved.submitWindowMs})`);
  if (!(resolved.minPollIntervalMs >= 0)) throw new RangeError(`minPollIntervalMs must be ≥ 0 (got ${resolved.minPollIntervalMs})`);
  return new RateLimitedProvider(provider, Object.freeze(resolved));
}

class RateLimitedProvider implements LimitedProvider {
  readonly name: string;
  private readonly submitGate: SlidingWindowGate;
  private readonly pollGate: PerKeySpacing;
  private readonly stats: ProviderLimiterStats = {
    submits: 0,
    submitsDelayed: 0,
    submitWaitMs: 0,
    maxSubmitWaitMs: 0,
    polls: 0,
    pollsDelayed: 0,
    pollWaitMs: 0,
    aborted: 0,
    submitsDeferred: 0,
  };

  constructor(
    readonly inner: CaptchaProvider,
    readonly limits: Readonly<Required<ProviderLimits>>,
  ) {
    this.name = inner.name;
    this.submitGate = new SlidingWindowGate(limits.submitsPer3s, limits.submitWindowMs);
    this.pollGate = new PerKeySpacing(limits.minPollIntervalMs);
  }

  async submit(task: CaptchaTask, signal?: AbortSignal, options?: SubmitOptions): Promise<string> {
    let release: () => void;
    if (options?.immediate) {
      const granted = this.submitGate.tryAcquire();
      if (!granted) {
        this.stats.submitsDeferred++;
        throw new SubmitWouldWaitError(this.name);
      }
      this.stats.submits++;
      release = granted;
    } else {
      release = await this.wait('submit', () => this.submitGate.acquire(signal), signal);
    }
    try {
      return await this.inner.submit(task, signal, options);
    } finally {
      release();
    }
  }

  async poll(providerTaskId: string, signal?: AbortSignal): Promise<PollAnswer> {
    const release = await this.wait(`poll ${providerTaskId}`, () => this.pollGate.acquire(providerTaskId, signal), signal);
    let done = false;
    try {
      const answer = await this.inner.poll(providerTaskId, signal);
      done = answer.ready;
      return answer;
    } finally {
      // a delivered answer ends the task: nothing to space any more
      release(done);
    }
  }

  /**
   * A coalescing client's shared round is no request of the task's own: it rides along without the per-task spacing
   * (the provider counts res.php calls, not ids in them: /work/shared/provider-api.md "Timings and limits"; the
   * rounds keep their own floor, ./poll-coalescer MIN_ROUND_PERIOD_SHARE). Otherwise a poll at `dueAt` through the
   * task's spacing like `poll`.
   */
  async pollScheduled(providerTaskId: string, window: PollWindow, signal?: AbortSignal): Promise<PollAnswer> {
    if (this.inner.pollScheduled) {
      this.stats.polls++;
      return this.inner.pollScheduled(providerTaskId, window, signal);
    }
    const release = await this.wait(`poll ${providerTaskId}`, () => this.pollGate.acquire(providerTaskId, signal), signal);
    let done = false;
    try {
      const answer = await pollAt(this.inner, providerTaskId, window.dueAt, signal);
      done = answer.ready;
      return answer;
    } finally {
      release(done);
    }
  }

  balance(signal?: AbortSignal): Promise<number> {
    return this.inner.balance(signal);
  }

  report(providerTaskId: string, verdict: 'good' | 'bad', signal?: AbortSignal): Promise<void> {
    return this.inner.report(providerTaskId, verdict, signal);
  }

  threadsInfo(signal?: AbortSignal): Promise<ThreadPlan | undefined> {
    return this.inner.threadsInfo ? this.inner.threadsInfo(signal) : Promise.resolve(undefined);
  }

  close(): Promise<void> {
    this.submitGate.close();
    this.pollGate.close();
    return this.inner.close();
  }

  limiterStats(): ProviderLimiterStats {
    return { ...this.stats };
  }

  private async wait<R>(op: string, acquire: () => Promise<{ release: R; waitedMs: number }>, signal?: AbortSignal): Promise<R> {
    const isSubmit = op === 'submit';
    try {
      const { release, waitedMs } = await acquire();
      if (isSubmit) {
        this.stats.submits++;
        if (waitedMs > 0) {
          this.stats.submitsDelayed++;
          this.stats.submitWaitMs += waitedMs;
          this.stats.maxSubmitWaitMs = Math.max(this.stats.maxSubmitWaitMs, waitedMs);
        }
      } else {
        this.stats.polls++;
        if (waitedMs > 0) {
          this.stats.pollsDelayed++;
          this.stats.pollWaitMs += waitedMs;
        }
      }
      return release;
    } catch (err) {
      if (!(err instanceof LimiterAborted)) throw err;
      this.stats.aborted++;
      throw new ProviderTransientError(
        `${this.name} ${op}: ${signal?.aborted ? 'aborted by the caller' : 'the client is closed'} while waiting for the rate limit`,
        signal?.aborted ? 'ABORTED' : 'CLIENT_CLOSED',
      );
    }
  }
}

class LimiterAborted extends Error {}

interface Waiter {
  enqueuedAt: number;
  grant(): void;
  fail(): void;
}

/**
 * At most `max` requests in any `windowMs`, counted from send to `windowMs` after the answer; FIFO. In-flight
 * requests hold their slot until they end.
 */
class SlidingWindowGate {
  /** answer times of ended requests, oldest first */
  private ended: number[] = [];
  private head = 0;
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  acquire(signal?: AbortSignal): Promise<{ release: () => void; waitedMs: number }> {
    if (this.closed || signal?.aborted) return Promise.reject(new LimiterAborted());
    const enqueuedAt = Date.now();
    let queued = false;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(new LimiterAborted());
        this.pump();
      };
      const waiter: Waiter = {
        enqueuedAt,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve({ waitedMs: queued ? Math.max(1, Date.now() - enqueuedAt) : 0, release: this.take() });
        },
        fail: () => {
          signal?.removeEventListener('abort', onAbort);
          reject(new LimiterAborted());
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
      this.pump();
      queued = true; // not granted synchronously: it waits
    });
  }

  /** A slot now, or undefined: never queues (a waiter ahead keeps its turn). */
  tryAcquire(): (() => void) | undefined {
    if (this.closed || this.queue.length > 0 || this.inFlight + this.recent(Date.now()) >= this.max) return undefined;
    return this.take();
  }

  /** Takes a slot; the release (once) frees it, counts the answer into the window and lets the next waiter in. */
  private take(): () => void {
    this.inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.ended.push(Date.now());
      this.pump();
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const waiter of this.queue.splice(0)) waiter.fail();
  }

  /** Grants waiters in order while slots are free; otherwise arms one timer for the next slot to free up. */
  private pump(): void {
    while (this.queue.length > 0) {
      const now = Date.now();
      const used = this.inFlight + this.recent(now);
      if (used >= this.max) {
        // only an ended request can free a slot by time; in-flight ones free theirs on release (which pumps)
        const oldest = this.ended[this.head];
        if (oldest !== undefined) this.arm(oldest + this.windowMs - now + 1);
        return;
      }
      this.queue.shift()!.grant();
    }
  }

  /** Ended requests whose answer is less than `windowMs` old. */
  private recent(now: number): number {
    const cutoff = now - this.windowMs;
    while (this.head < this.ended.length && this.ended[this.head]! <= cutoff) this.head++;
    if (this.head > 1_024 && this.head * 2 > this.ended.length) {
      this.ended = this.ended.slice(this.head);
      this.head = 0;
    }
    return this.ended.length - this.head;
  }

  private arm(ms: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(1, ms),
    );
  }
}

/** Per key: one request at a time, each at least `gapMs` after the previous one's answer. */
class PerKeySpacing {
  /** key → the end of its last request (a promise while one is in flight) */
  private readonly last = new Map<string, { busy: Promise<void> | null; endedAt: number }>();
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private closed = false;

  constructor(private readonly gapMs: number) {}

  async acquire(key: string, signal?: AbortSignal): Promise<{ release: (finished?: boolean) => void; waitedMs: number }> {
    const start = Date.now();
    if (this.gapMs <= 0) return { release: () => undefined, waitedMs: 0 };
    this.prune(start);
    let waited = false;
    for (;;) {
      if (this.closed || signal?.aborted) throw new LimiterAborted();
      const state = this.last.get(key);
      if (state?.busy) {
        waited = true;
        await raceAbort(state.busy, signal);
        continue;
      }
      const due = state ? state.endedAt + this.gapMs : 0;
      const now = Date.now();
      if (due > now) {
        waited = true;
        await this.sleep(due - now, signal);
        continue;
      }
      let done!: () => void;
      const busy = new Promise<void>((resolve) => (done = resolve));
      this.last.set(key, { busy, endedAt: state?.endedAt ?? 0 });
      let released = false;
      return {
        waitedMs: waited ? Math.max(1, Date.now() - start) : 0,
        release: (finished = false) => {
          if (released) return;
          released = true;
          if (finished) this.last.delete(key);
          else this.last.set(key, { busy: null, endedAt: Date.now() });
          done();
        },
      };
    }
  }

  close(): void {
    this.closed = true;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.wake();
    }
    this.sleepers.clear();
  }

  /** Keys whose last poll is older than the gap constrain nothing any more. */
  private prune(now: number): void {
    if (this.last.size < 1_000) return;
    for (const [key, state] of this.last) if (!state.busy && state.endedAt + this.gapMs <= now) this.last.delete(key);
  }

  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const sleeper = {
        timer: setTimeout(() => finish(), ms),
        wake: () => finish(),
      };
      const onAbort = (): void => finish(new LimiterAborted());
      const finish = (err?: Error): void => {
        clearTimeout(sleeper.timer);
        this.sleepers.delete(sleeper);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      this.sleepers.add(sleeper);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function raceAbort(p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new LimiterAborted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** A poll at `at` (epoch ms), for a client that does not schedule polls itself; an abort ends the wait. */
async function pollAt(client: CaptchaProvider, providerTaskId: string, at: number, signal?: AbortSignal): Promise<PollAnswer> {
  const ms = at - Date.now();
  if (ms > 0) await sleep(ms, undefined, { signal });
  return client.poll(providerTaskId, signal);
}
