// One poll request for many tasks: the polls that the worker's activities ask for within a short tick go out as one
// `res.php?action=get&ids=` request (capability `get-multi`, ./capabilities), at most `maxIds` ids a request. Each
// activity still waits on its own task's answer and heartbeats its own progress. A failed multi-poll is answered
// task by task; after repeated failures polls go task by task for a while. Nothing here logs: errors are the
// provider client's, already redacted.
//
// Scheduled polls (`pollScheduled`) go out in rounds: every waiting task past its earliest time rides in each round
// (one request for all of them), and rounds follow one another at a period that keeps about READY_PER_ROUND tokens in
// each: the busier the worker, the shorter the wait for a token, at a cost per solve that stays about 1/READY_PER_ROUND
// request. A task is never polled later than its own policy would (its due time); a lone task polls as before.
import { ProviderError, ProviderTransientError } from './errors';
import type { CaptchaProvider, MultiPollProvider, PollAnswer, PollWindow } from './types';

/**
 * Ids a request may carry: 2captcha answers up to 100 tasks in one `action=get&ids=` request (its legacy API,
 * https://2captcha.com/2captcha-api, "get many answers"; /work/shared/provider-api.md).
 */
export const MULTI_POLL_MAX_IDS = 100;

/** Tokens a round should bring back on average: the period between rounds is this many / the observed ready rate. */
export const READY_PER_ROUND = 3;

/**
 * The shortest period between rounds, as a share of the poll interval (1 s at the default 5 s). The provider limits
 * res.php calls per account, not ids per call: more than 20 × captchas + 1200 calls → `ERROR: 1005`
 * (/work/shared/provider-api.md, "Timings and limits"). A round is one call whatever it carries, and at about
 * READY_PER_ROUND tokens a round the calls stay far below 20 per captcha; the floor caps a worker at one round a
 * second even when tokens pour in.
 */
export const MIN_ROUND_PERIOD_SHARE = 0.2;


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
  /** tasks past their earliest time that make a round worth a request before anyone is due (default READY_PER_ROUND) */
  minShared?: number;
}

export interface PollCoalescerStats {
  /** multi-poll requests sent, and those that failed */
  batches: number;
  failedBatches: number;
  /** polls answered by a multi-poll, and by a poll of their own (fallback or cooldown) */
  coalesced: number;
  single: number;
  /** rounds of scheduled polls, and the period the next one keeps (ms; absent before the first) */
  rounds: number;
  periodMs?: number;
}

interface Waiter {
  id: string;
  resolve: (answer: PollAnswer) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  settled: boolean;
  onAbort: () => void;
  /** a scheduled poll's window (absent: a plain poll, sent within the tick) */
  window?: PollWindow;
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
  private readonly minShared: number;
  /** scheduled polls waiting for a round */
  private planned: Waiter[] = [];
  private roundTimer: NodeJS.Timeout | undefined;
  private roundAt: number | undefined;
  private roundInFlight = false;
  /** when the latest round went, and the tokens per ms the rounds have been bringing back (a moving average) */
  private lastRoundAt: number | undefined;
  private readyRate: number | undefined;
  private closed = false;
  private readonly counts: PollCoalescerStats = { batches: 0, failedBatches: 0, coalesced: 0, single: 0, rounds: 0 };

  constructor(
    private readonly provider: MultiPollProvider,
    private readonly options: PollCoalescerOptions = {},
  ) {
    this.tickMs = Math.max(0, options.tickMs ?? 100);
    this.maxIds = Math.min(MULTI_POLL_MAX_IDS, Math.max(1, Math.floor(options.maxIds ?? MULTI_POLL_MAX_IDS)));
    this.failuresBeforeCooldown = Math.max(1, options.failuresBeforeCooldown ?? 2);
    this.cooldownMs = Math.max(0, options.cooldownMs ?? 30_000);
    this.minShared = Math.max(1, Math.floor(options.minShared ?? READY_PER_ROUND));
  }

  stats(): PollCoalescerStats {
    return { ...this.counts };
  }

  /** Polls waiting for the next request. */
  get pending(): number {
    return this.queue.length;
  }

  /** Scheduled polls waiting for a round. */
  get scheduled(): number {
    return this.planned.length;
  }

  /**
   * The answer of one task from the first round at or after `earliestAt`; a round goes by `dueAt` at the latest (or
   * as soon as the period since the previous round allows). While multi-polls are cooling down, the task polls on its
   * own at `dueAt`.
   */
  pollScheduled(providerTaskId: string, window: PollWindow, signal?: AbortSignal): Promise<PollAnswer> {
    if (this.closed) return Promise.reject(this.closedError(providerTaskId));
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<PollAnswer>((resolve, reject) => {
      const waiter: Waiter = {
        id: providerTaskId,
        signal,
        settled: false,
        window: { ...window, earliestAt: Math.min(window.earliestAt, window.dueAt) },
        resolve: (answer) => this.settle(waiter, () => resolve(answer)),
        reject: (error) => this.settle(waiter, () => reject(error)),
        onAbort: () => {
          this.planned = this.planned.filter((w) => w !== waiter);
          waiter.reject(abortReason(signal!));
          this.schedule();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.planned.push(waiter);
      this.schedule();
    });
  }

  /** The period rounds keep now: READY_PER_ROUND tokens at the observed rate, within [share × interval, interval]. */
  private period(intervalMs: number, now: number): number {
    // a rate not refreshed for two intervals is stale: rounds start again at the interval
    if (this.lastRoundAt === undefined || now - this.lastRoundAt > 2 * intervalMs) this.readyRate = undefined;
    const rate = this.readyRate ?? 0;
    const floor = intervalMs * MIN_ROUND_PERIOD_SHARE;
    return rate > 0 ? Math.min(intervalMs, Math.max(floor, READY_PER_ROUND / rate)) : intervalMs;
  }

  /** When the next round goes: the earliest due time, or earlier when enough tasks can share it; a period after the last. */
  private nextRoundAt(now: number): number | undefined {
    if (this.planned.length === 0) return undefined;
    const intervalMs = Math.min(...this.planned.map((w) => w.window!.intervalMs));
    const period = this.period(intervalMs, now);
    const spaced = (this.lastRoundAt ?? -Infinity) + period;
    let at = Math.min(...this.planned.map((w) => w.window!.dueAt));
    if (now >= this.cooldownUntil && this.planned.length >= this.minShared) {
      const earliest = this.planned.map((w) => w.window!.earliestAt).sort((x, y) => x - y);
      at = Math.min(at, earliest[this.minShared - 1]!);
    }
    // rounds keep the period, due tasks included (one may wait up to a period past its due time): tasks whose answers
    // come back late (a busy event loop) rejoin the next round instead of splitting off into rounds of their own
    at = Math.max(at, spaced);
    return Math.max(now, at);
  }

  private schedule(): void {
    if (this.closed || this.roundInFlight) return;
    const now = Date.now();
    const at = this.nextRoundAt(now);
    if (at === this.roundAt) return;
    if (this.roundTimer) clearTimeout(this.roundTimer);
    this.roundTimer = undefined;
    this.roundAt = at;
    if (at !== undefined) this.roundTimer = setTimeout(() => void this.round(), at - now);
  }

  /** One round: every task past its earliest time, in requests of at most `maxIds`; then the next is scheduled. */
  private async round(): Promise<void> {
    this.roundTimer = undefined;
    this.roundAt = undefined;
    const now = Date.now();
    const cooling = now < this.cooldownUntil;
    const going = this.planned.filter((w) => !w.settled && (cooling ? w.window!.dueAt : w.window!.earliestAt) <= now);
    this.planned = this.planned.filter((w) => !w.settled && !going.includes(w));
    if (going.length === 0) return this.schedule();
    this.roundInFlight = true;
    let ready = 0;
    try {
      if (cooling) {
        await Promise.all(
          going.map((w) =>
            this.pollOne(w.id, w.signal).then(
              (answer) => w.resolve(answer),
              (error: unknown) => w.reject(error),
            ),
          ),
        );
        return;
      }
      const byId = new Map<string, Waiter[]>();
      for (const waiter of going) {
        const list = byId.get(waiter.id);
        if (list) list.push(waiter);
        else byId.set(waiter.id, [waiter]);
      }
      const ids = [...byId.keys()];
      const requests: Promise<number>[] = [];
      for (let i = 0; i < ids.length; i += this.maxIds) {
        requests.push(this.request(ids.slice(i, i + this.maxIds).map((id) => [id, byId.get(id)!] as const)));
      }
      ready = (await Promise.all(requests)).reduce((a, b) => a + b, 0);
      // tokens per ms over the time they had to become ready: since the previous round, or (the first round) since
      // its tasks could first be polled, at most one interval; averaged over the latest rounds. A first round that
      // went as soon as a few tasks could share it counts their tokens over those few ms, not over a whole interval:
      // else its low rate would hold every task that became pollable just after it back for a full interval
      const intervalMs = Math.min(...going.map((w) => w.window!.intervalMs));
      const recent = this.lastRoundAt !== undefined && now - this.lastRoundAt <= 2 * intervalMs ? this.lastRoundAt : undefined;
      const from = recent ?? Math.max(now - intervalMs, Math.min(...going.map((w) => w.window!.earliestAt)));
      const since = Math.max(1, now - from);
      const rate = ready / since;
      this.readyRate = this.readyRate === undefined ? rate : (this.readyRate + rate) / 2;
      this.lastRoundAt = now;
      this.counts.rounds++;
      this.counts.periodMs = Math.round(this.period(intervalMs, now));
    } finally {
      this.roundInFlight = false;
      this.schedule();
    }
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
      this.timer ??= setTimeout(() => this.flush(), this.tickMs);
    });
  }

  /** Rejects every pending poll (a transient error: the activity's retry resumes the task elsewhere). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.roundTimer) clearTimeout(this.roundTimer);
    this.roundTimer = undefined;
    const waiting = [...this.queue, ...this.planned];
    this.queue = [];
    this.planned = [];
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

  /** Sends one multi-poll; resolves with the number of tasks it found ready. */
  private async request(slots: readonly (readonly [string, Waiter[]])[]): Promise<number> {
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
      return 0;
    } finally {
      for (const s of watchers) s.removeEventListener('abort', onLeave);
    }
    let ready = 0;
    slots.forEach(([, waiters], index) => {
      const answer = answers[index];
      if (answer && !(answer instanceof ProviderError) && answer.ready) ready++;
      for (const waiter of waiters) {
        if (waiter.settled) continue;
        this.counts.coalesced++;
        if (answer instanceof ProviderError) waiter.reject(answer);
        else if (answer) waiter.resolve(answer);
        else waiter.reject(this.missing(waiter.id));
      }
    });
    return ready;
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
    // the submit's options carry the callback URL (callback mode): dropping them would leave every solve waiting for a push
    submit: (task, signal, options) => provider.submit(task, signal, options),
    poll: (id, signal) => coalescer.poll(id, signal),
    pollScheduled: (id, window, signal) => coalescer.pollScheduled(id, window, signal),
    balance: (signal) => provider.balance(signal),
    report: (id, verdict, signal) => provider.report(id, verdict, signal),
    close: async () => {
      coalescer.close();
      await provider.close();
    },
  };
}
