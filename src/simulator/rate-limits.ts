// The request-rate rules real providers enforce per account, with their bans (provider-api.md, "Timings and limits").

export interface SubmitBurstLimit {
  /** in.php calls allowed within `windowMs` (default 60) */
  max: number;
  /** default 3000 */
  windowMs: number;
  /** MAX_USER_TURN ban after the burst (default 10 000) */
  banMs: number;
}

/**
 * res.php budget: more than `perCaptcha` × captchas submitted + `base` calls within `windowMs` → `ERROR: 1005`.
 * The documents give the formula but not its window; one minute is our assumption.
 */
export interface PollBudgetLimit {
  /** default 20 */
  perCaptcha: number;
  /** default 1200 */
  base: number;
  /** default 60 000 */
  windowMs: number;
  /** default 600 000 (10 minutes) */
  banMs: number;
}

export interface RateLimitOptions {
  /** false turns the rule off */
  submitBurst?: Partial<SubmitBurstLimit> | false;
  pollBudget?: Partial<PollBudgetLimit> | false;
}

export const DEFAULT_SUBMIT_BURST: SubmitBurstLimit = { max: 60, windowMs: 3_000, banMs: 10_000 };
export const DEFAULT_POLL_BUDGET: PollBudgetLimit = { perCaptcha: 20, base: 1_200, windowMs: 60_000, banMs: 600_000 };

/** Timestamps within a trailing window; amortised O(1) per event. */
class SlidingWindow {
  private stamps: number[] = [];
  private head = 0;

  constructor(private readonly windowMs: number) {}

  add(now: number): void {
    this.stamps.push(now);
  }

  count(now: number): number {
    const cutoff = now - this.windowMs;
    while (this.head < this.stamps.length && (this.stamps[this.head] ?? Infinity) <= cutoff) this.head++;
    if (this.head > 1024 && this.head * 2 > this.stamps.length) {
      this.stamps = this.stamps.slice(this.head);
      this.head = 0;
    }
    return this.stamps.length - this.head;
  }
}

interface AccountState {
  submits: SlidingWindow;
  polls: SlidingWindow;
  /** accepted submits, in the poll budget's window */
  captchas: SlidingWindow;
  submitBannedUntil: number;
  pollBannedUntil: number;
}

export type BanCode = 'MAX_USER_TURN' | 'ERROR: 1005';

export class RateLimiter {
  private readonly submitBurst: SubmitBurstLimit | null;
  private readonly pollBudget: PollBudgetLimit | null;
  private accounts = new Map<string, AccountState>();

  constructor(
    options: RateLimitOptions = {},
    private readonly onBan: (code: BanCode) => void = () => {},
  ) {
    this.submitBurst = options.submitBurst === false ? null : { ...DEFAULT_SUBMIT_BURST, ...options.submitBurst };
    this.pollBudget = options.pollBudget === false ? null : { ...DEFAULT_POLL_BUDGET, ...options.pollBudget };
  }

  /** Counts an in.php call; returns the ban code when the account must be refused. */
  submit(key: string, now: number): BanCode | undefined {
    const limit = this.submitBurst;
    if (!limit) return undefined;
    const account = this.account(key);
    if (now < account.submitBannedUntil) return 'MAX_USER_TURN';
    account.submits.add(now);
    if (account.submits.count(now) > limit.max) {
      account.submitBannedUntil = now + limit.banMs;
      this.onBan('MAX_USER_TURN');
      return 'MAX_USER_TURN';
    }
    return undefined;
  }

  /** An accepted submit raises the account's res.php budget. */
  captchaAccepted(key: string, now: number): void {
    if (this.pollBudget) this.account(key).captchas.add(now);
  }

  /** Counts a res.php call; returns the ban code when the account must be refused. */
  poll(key: string, now: number): BanCode | undefined {
    const limit = this.pollBudget;
    if (!limit) return undefined;
    const account = this.account(key);
    if (now < account.pollBannedUntil) return 'ERROR: 1005';
    account.polls.add(now);
    if (account.polls.count(now) > limit.perCaptcha * account.captchas.count(now) + limit.base) {
      account.pollBannedUntil = now + limit.banMs;
      this.onBan('ERROR: 1005');
      return 'ERROR: 1005';
    }
    return undefined;
  }

  /** Forgets every window and lifts every ban. */
  reset(): void {
    this.accounts.clear();
  }

  private account(key: string): AccountState {
    let state = this.accounts.get(key);
    if (!state) {
      state = {
        submits: new SlidingWindow(this.submitBurst?.windowMs ?? 0),
        polls: new SlidingWindow(this.pollBudget?.windowMs ?? 0),
        captchas: new SlidingWindow(this.pollBudget?.windowMs ?? 0),
        submitBannedUntil: 0,
        pollBannedUntil: 0,
      };
      this.accounts.set(key, state);
    }
    return state;
  }
}
