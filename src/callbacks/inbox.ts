// The worker's in-process meeting point of pushes and the poll activities waiting for them: a push received by this
// worker's receiver for a poll running in this worker reaches it without a round trip to Temporal. A push that comes
// before its poll has started waits here briefly (bounded), keyed by workflow id and provider task id: a URL signed for
// one workflow can never feed another's task.
export class CallbackInbox {
  private readonly waiters = new Map<string, (token: string) => void>();
  private readonly early = new Map<string, { token: string; at: number; taken: boolean }>();

  constructor(
    /** pushes kept for polls not started yet (default 10 000) */
    private readonly maxEarly = 10_000,
    /** how long such a push is kept (default 10 minutes) */
    private readonly earlyTtlMs = 600_000,
  ) {}

  /** A poll waiting for its push: `token` resolves when it comes (at once if it came already); `cancel` stops waiting. */
  wait(workflowId: string, providerTaskId: string): { token: Promise<string>; cancel(): void } {
    const key = keyOf(workflowId, providerTaskId);
    const stashed = this.early.get(key);
    if (stashed) {
      stashed.taken = true;
      return { token: Promise.resolve(stashed.token), cancel: () => undefined };
    }
    let resolve!: (token: string) => void;
    const token = new Promise<string>((r) => (resolve = r));
    this.waiters.set(key, resolve);
    return { token, cancel: () => this.waiters.get(key) === resolve && this.waiters.delete(key) };
  }

  /** A verified push: true when a waiting poll here took it; otherwise it is kept for a poll that starts later. */
  offer(workflowId: string, providerTaskId: string, token: string): boolean {
    const key = keyOf(workflowId, providerTaskId);
    const waiter = this.waiters.get(key);
    if (waiter) {
      this.waiters.delete(key);
      waiter(token);
      return true;
    }
    this.prune(Date.now());
    if (this.early.size < this.maxEarly && !this.early.has(key)) this.early.set(key, { token, at: Date.now(), taken: false });
    return false;
  }

  /** Whether a kept push was taken by a poll that started after it came. */
  taken(workflowId: string, providerTaskId: string): boolean {
    return this.early.get(keyOf(workflowId, providerTaskId))?.taken === true;
  }

  private prune(now: number): void {
    for (const [key, entry] of this.early) {
      if (now - entry.at < this.earlyTtlMs) break;
      this.early.delete(key);
    }
  }
}

function keyOf(workflowId: string, providerTaskId: string): string {
  return `${workflowId}\n${providerTaskId}`;
}
