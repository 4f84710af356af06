// What the gateway knows of its tasks, so that client polls are answered from memory: each task's solve workflow is
// watched once (`handle.result()`, one long poll per task, however often its client polls), and its outcome waits in
// the cache for a late poll until it expires. A task not in the cache (the gateway restarted, or the entry expired)
// costs one describe, then is watched again; its outcome comes back from the closed workflow.
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { CaptchaSolveError, asSolveError } from '../client';
import type { SolveResult } from '../domain/types';
import type { SubmissionType } from '../providers/legacy-wire';

export type TaskOutcome = { status: 'pending' } | { status: 'solved'; token: string; solvedAt: string } | { status: 'failed'; code: string };

export interface GatewayTask {
  workflowId: string;
  type: SubmissionType;
  createdAt: number;
  outcome: TaskOutcome;
  settledAt?: number;
  report?: 'good' | 'bad';
  /** settles when the current watch does */
  watching?: Promise<void>;
}

/** Temporal calls the gateway made, and client polls it answered (the ratio is the point of the cache). */
export interface GatewayCallCounts {
  starts: number;
  /** visibility counts (a user's spending, once per user and process) */
  counts: number;
  describes: number;
  resultWaits: number;
  polls: number;
}

export interface TaskBookOptions {
  /** how long a final outcome waits for a late poll (default 15 min, like the providers' ids) */
  resultTtlMs?: number;
  /** pause before watching again after the watch itself failed (Temporal unreachable; default 1 s) */
  rewatchDelayMs?: number;
}

/** Codes a client can act on as a provider's; anything else of ours (timeouts, account trouble) reads as unsolvable. */
const PASSED_ON = /^ERROR_(CAPTCHA_UNSOLVABLE|BAD_DUPLICATES|PROXY_|PAGEURL|GOOGLEKEY|SITEKEY|BAD_PARAMETERS|WRONG_CAPTCHA_ID|BAD_TOKEN_OR_PAGEURL|CAPTCHAIMAGE_BLOCKED|ZERO_CAPTCHA_FILESIZE|TOO_BIG_CAPTCHA_FILESIZE|UPLOAD)/;

export class TaskBook {
  readonly counts: GatewayCallCounts = { starts: 0, counts: 0, describes: 0, resultWaits: 0, polls: 0 };
  private readonly tasks = new Map<string, GatewayTask>();
  private readonly resultTtlMs: number;
  private readonly rewatchDelayMs: number;
  private closed = false;
  private expiredAt = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly client: Client,
    options: TaskBookOptions = {},
  ) {
    this.resultTtlMs = options.resultTtlMs ?? 15 * 60_000;
    this.rewatchDelayMs = options.rewatchDelayMs ?? 1_000;
  }

  /** A task just started (or found running under its id): watch it. */
  track(workflowId: string, type: SubmissionType, handle?: WorkflowHandle): GatewayTask {
    const known = this.tasks.get(workflowId);
    if (known) return known;
    const task: GatewayTask = { workflowId, type, createdAt: Date.now(), outcome: { status: 'pending' } };
    this.tasks.set(workflowId, task);
    this.watch(task, handle ?? this.client.workflow.getHandle(workflowId));
    return task;
  }

  /** The task under this id, from the cache, else from Temporal (one describe); undefined when there is none. */
  async lookup(workflowId: string): Promise<GatewayTask | undefined> {
    this.expire();
    const known = this.tasks.get(workflowId);
    if (known) return known;
    const handle = this.client.workflow.getHandle(workflowId);
    let type: SubmissionType;
    try {
      this.counts.describes++;
      const d = await handle.describe();
      const memoType = d.memo?.gatewayType;
      if (typeof memoType !== 'string') return undefined; // not a gateway task
      type = memoType as SubmissionType;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
    const task = this.track(workflowId, type, handle);
    // a closed workflow's result comes back at once: answer with it rather than "not ready"
    await task.watching;
    return task;
  }

  get size(): number {
    return this.tasks.size;
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private watch(task: GatewayTask, handle: WorkflowHandle): void {
    this.counts.resultWaits++;
    const settle = (outcome: TaskOutcome): void => {
      task.outcome = outcome;
      task.settledAt = Date.now();
    };
    task.watching = (handle.result() as Promise<SolveResult>).then(
      (result) => settle({ status: 'solved', token: result.token, solvedAt: result.solvedAt }),
      (err: unknown) => {
        const failure = asSolveError(err);
        if (failure instanceof CaptchaSolveError) {
          const code = failure.details?.code ?? '';
          return settle({ status: 'failed', code: PASSED_ON.test(code) ? code : 'ERROR_CAPTCHA_UNSOLVABLE' });
        }
        if (err instanceof Error && err.name === 'WorkflowFailedError') return settle({ status: 'failed', code: 'ERROR_CAPTCHA_UNSOLVABLE' }); // cancelled, terminated
        if (err instanceof WorkflowNotFoundError) {
          this.tasks.delete(task.workflowId);
          return;
        }
        // Temporal unreachable for a while: the solve goes on; watch again
        if (this.closed) return;
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (!this.closed) this.watch(task, handle);
        }, this.rewatchDelayMs);
        this.timers.add(timer);
      },
    );
  }

  /** Outcomes older than the TTL leave the cache (a later poll finds them again through Temporal). */
  private expire(now = Date.now()): void {
    if (now - this.expiredAt < 1_000) return;
    this.expiredAt = now;
    for (const [id, task] of this.tasks) {
      if (task.settledAt !== undefined && now - task.settledAt > this.resultTtlMs) this.tasks.delete(id);
    }
  }
}
