// One poll request for many tasks: the polls that the worker's activities ask for within a short tick go out as one
// `res.php?action=get&ids=` request (capability `get-multi`, ./capabilities), at most `maxIds` ids a request. Each
// activity still waits on its own task's answer and heartbeats its own progress. A failed multi-poll is answered
// task by task; after repeated failures polls go task by task for a while. Nothing here logs: errors are the
// provider client's, already redacted.
import { ProviderError, ProviderTransientError } from './errors';
import type { CaptchaProvider, MultiPollProvider, PollAnswer } from './types';

/**
 * Ids a request may carry: 2captcha answers up to 100 tasks in one `action=get&ids=` request (its legacy API,
 * https://2captcha.com/2captcha-api, "get many answers"; /work/shared/provider-api.md).
 */
export const MULTI_POLL_MAX_IDS = 100;

export interface PollCoalescerOptions {
  /** how long the first poll of a batch waits for others to join (default 100 ms) */
  tickMs?: number;
  /** ids per request (default MULTI_POLL_MAX_IDS) */
  maxIds?: number;
  /** consecutive failed multi-polls after which polls go task by task (default 2) */
  failuresBeforeCooldown?: number;
  /** how long polls go task by task then (default 30 000 ms) */
  cooldownMs?: number;
  /** told about every multi-poll request once it settles */
  onBatch?: (batch: { ids: number; ok: boolean }) => void;
}

export interface PollCoalescerStats {
  /** multi-poll requests sent, and those that failed */
  batches: number;
  failedBatches: number;
  /** polls answered by a multi-poll, and by a poll of their own (fallback or cooldown) */
  coalesced: number;
  single: number;
}

interface Waiter {
  id: string;
  resolve: (answer: PollAnswer) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  settled: boolean;
  onAbort: () => void;
}

export class PollCoalescer {
  private readonly tickMs: number;
  private readonly maxIds: number;
  private readonly failuresBeforeCooldown: number;
  private readonly cooldownMs: number;
  private queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private consecutiveFailures = 0;
  private cooldownUntil = 0;
  /**
   * When the cohort's latest multi-poll answered (the tasks it answered poll again an interval later), and how many
   * tasks it carried: a much smaller request (a straggler's) does not move the cohort's phase.
   */
  private anchor: { at: number; size: number } | undefined;
  /** the round (epoch ms) each task was slotted into, and the tasks each round still waits for */
  private readonly slotOf = new Map<string, number>();
  private readonly rounds = new Map<number, Set<string>>();
  private closed = false;
  private readonly counts: PollCoalescerStats = { batches: 0, failedBatches: 0, coalesced: 0, single: 0 };

  constructor(
    private readonly provider: MultiPollProvider,
    private readonly options: PollCoalescerOptions = {},
  ) {
    this.tickMs = Math.max(0, options.tickMs ?? 100);
    this.maxIds = Math.min(MULTI_POLL_MAX_IDS, Math.max(1, Math.floor(options.maxIds ?? MULTI_POLL_MAX_IDS)));
    this.failuresBeforeCooldown = Math.max(1, options.failuresBeforeCooldown ?? 2);
    this.cooldownMs = Math.max(0, options.cooldownMs ?? 30_000);
  }

  stats(): PollCoalescerStats {
    return { ...this.counts };
  }

  /** Polls waiting for the next request. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * The time nearest `plannedAt` (but at least an interval after the latest multi-poll's answer, and still to come) at
   * which the tasks that multi-poll answered poll again: a task that polls then shares their request. Tasks polled
   * together stay together, as each polls again an interval after the answer they shared. The task is expected in
   * that round: once every task expected in it has polled, the request leaves without waiting out the tick.
   */
  pollSlot(providerTaskId: string, plannedAt: number, intervalMs: number, now = Date.now()): number {
    if (this.anchor === undefined || !(intervalMs > 0) || now < this.cooldownUntil) return plannedAt;
    const anchor = this.anchor.at;
    // a cohort not heard of for two intervals is gone: the next request sets the phase
    if (now - anchor > 2 * intervalMs) this.anchor.size = 0;
    // the nearest round to the plan that is still to come (a round already past would be a request of its own)
    let k = Math.max(1, Math.round((plannedAt - anchor) / intervalMs));
    if (anchor + k * intervalMs < now) k = Math.ceil((now - anchor) / intervalMs);
    const slot = anchor + k * intervalMs;
    this.unexpect(providerTaskId);
    this.slotOf.set(providerTaskId, slot);
    const members = this.rounds.get(slot);
    if (members) members.add(providerTaskId);
    else this.rounds.set(slot, new Set([providerTaskId]));
    return slot;
  }

  /** Forgets where a task was expected; true when it was the last one its round waited for. */
  private unexpect(providerTaskId: string): boolean {
    const slot = this.slotOf.get(providerTaskId);
    if (slot === undefined) return false;
    this.slotOf.delete(providerTaskId);
    const members = this.rounds.get(slot);
    members?.delete(providerTaskId);
    if (members?.size !== 0) return false;
    this.rounds.delete(slot);
    return true;
  }

  /** The answer of one task, from the next multi-poll (or a poll of its own while multi-polls are failing). */
  poll(providerTaskId: string, signal?: AbortSignal): Promise<PollAnswer> {
    if (this.closed) return Promise.reject(this.closedError(providerTaskId));
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (Date.now() < this.cooldownUntil) return this.pollOne(providerTaskId, signal);
    return new Promise<PollAnswer>((resolve, reject) => {
      const waiter: Waiter = {
        id: providerTaskId,
        signal,
        settled: false,
        resolve: (answer) => this.settle(waiter, () => resolve(answer)),
        reject: (error) => this.settle(waiter, () => reject(error)),
        // a cancelled activity leaves at once: out of the queue, or its share of a request in flight is dropped
        onAbort: () => {
          this.queue = this.queue.filter((w) => w !== waiter);
          waiter.reject(abortReason(signal!));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
      if (this.unexpect(providerTaskId)) {
        // the last task its round waited for: no one else is coming
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        setImmediate(() => this.flush());
      } else this.timer ??= setTimeout(() => this.flush(), this.tickMs);
    });
  }

  /** Rejects every pending poll (a transient error: the activity's retry resumes the task elsewhere). */
  close(): void {
    this.closed = true;
    this.slotOf.clear();
    this.rounds.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const waiting = this.queue;
    this.queue = [];
    for (const waiter of waiting) waiter.reject(this.closedError(waiter.id));
  }

  private settle(waiter: Waiter, done: () => void): void {
    if (waiter.settled) return;
    waiter.settled = true;
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    done();
  }

  private flush(): void {
    this.timer = undefined;
    // a round more than a tick past waits for late tasks (a busy event loop) or ones that never come (cancelled, moved
    // to another worker): the late ones then gather within a tick, each no longer a request of its own
    const stale = Date.now() - this.tickMs;
    for (const [slot, members] of this.rounds) {
      if (slot >= stale) continue;
      for (const id of members) this.slotOf.delete(id);
      this.rounds.delete(slot);
    }
    const waiting = this.queue;
    this.queue = [];
    // one slot per task id: two waiters of one task share its answer
    const byId = new Map<string, Waiter[]>();
    for (const waiter of waiting) {
      if (waiter.settled) continue;
      const list = byId.get(waiter.id);
      if (list) list.push(waiter);
      else byId.set(waiter.id, [waiter]);
    }
    const ids = [...byId.keys()];
    for (let i = 0; i < ids.length; i += this.maxIds) {
      const chunk = ids.slice(i, i + this.maxIds);
      void this.request(chunk.map((id) => [id, byId.get(id)!] as const));
    }
  }

  private async request(slots: readonly (readonly [string, Waiter[]])[]): Promise<void> {
    const ids = slots.map(([id]) => id);
    // the request is abandoned when every waiter of it has left
    const controller = new AbortController();
    const live = () => slots.some(([, waiters]) => waiters.some((w) => !w.settled));
    const watchers = slots.flatMap(([, waiters]) => waiters.map((w) => w.signal)).filter((s): s is AbortSignal => s !== undefined);
    const onLeave = () => {
      if (!live()) controller.abort();
    };
    for (const s of watchers) s.addEventListener('abort', onLeave, { once: true });
    this.counts.batches++;
    let answers: (PollAnswer | ProviderError)[];
    try {
      answers = await this.provider.pollMany(ids, controller.signal);
      this.consecutiveFailures = 0;
      if (!this.anchor || ids.length * 2 >= this.anchor.size) this.anchor = { at: Date.now(), size: ids.length };
      this.options.onBatch?.({ ids: ids.length, ok: true });
    } catch {
      this.counts.failedBatches++;
      this.options.onBatch?.({ ids: ids.length, ok: false });
      if (++this.consecutiveFailures >= this.failuresBeforeCooldown) this.cooldownUntil = Date.now() + this.cooldownMs;
      // each waiting task gets its own answer, or its own (transient or classified) error
      for (const [id, waiters] of slots) {
        if (!waiters.some((w) => !w.settled)) continue;
        const signal = waiters.length === 1 ? waiters[0]!.signal : undefined;
        this.pollOne(id, signal).then(
          (answer) => waiters.forEach((w) => w.resolve(answer)),
          (error: unknown) => waiters.forEach((w) => w.reject(error)),
        );
      }
      return;
    } finally {
      for (const s of watchers) s.removeEventListener('abort', onLeave);
    }
    slots.forEach(([, waiters], index) => {
      const answer = answers[index];
      for (const waiter of waiters) {
        if (waiter.settled) continue;
        this.counts.coalesced++;
        if (answer instanceof ProviderError) waiter.reject(answer);
        else if (answer) waiter.resolve(answer);
        else waiter.reject(this.missing(waiter.id));
      }
    });
  }

  private pollOne(providerTaskId: string, signal?: AbortSignal): Promise<PollAnswer> {
    this.counts.single++;
    return this.provider.poll(providerTaskId, signal);
  }

  private closedError(providerTaskId: string): ProviderTransientError {
    return new ProviderTransientError(`${this.provider.name} poll ${providerTaskId}: the client is closed`, 'CLIENT_CLOSED', providerTaskId, undefined, 'not-sent');
  }

  private missing(providerTaskId: string): ProviderTransientError {
    return new ProviderTransientError(`${this.provider.name} poll ${providerTaskId}: no answer in the multi-poll`, 'BAD_BODY', providerTaskId);
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

/** Whether a provider client can poll many tasks in one request. */
export function canPollMany(provider: CaptchaProvider): provider is MultiPollProvider {
  return typeof (provider as Partial<MultiPollProvider>).pollMany === 'function';
}

/** `provider` with its polls coalesced; everything else passes through. Closing it rejects the pending polls. */
export function withPollCoalescing(provider: MultiPollProvider, options: PollCoalescerOptions = {}): CaptchaProvider & { readonly coalescer: PollCoalescer } {
  const coalescer = new PollCoalescer(provider, options);
  return {
    get name() {
      return provider.name;
    },
    coalescer,
    submit: (task, signal) => provider.submit(task, signal),
    poll: (id, signal) => coalescer.poll(id, signal),
    pollSlot: (id, plannedAt, intervalMs) => coalescer.pollSlot(id, plannedAt, intervalMs),
    balance: (signal) => provider.balance(signal),
    report: (id, verdict, signal) => provider.report(id, verdict, signal),
    close: async () => {
      coalescer.close();
      await provider.close();
    },
  };
}
