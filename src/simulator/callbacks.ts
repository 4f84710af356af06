// The simulator's pushes: when a task that named a callback (legacy `pingback`, JSON `callbackUrl`) is ready, its
// result is POSTed there like the providers do — a form with `id` and `code` for the legacy family (2captcha's
// pingback guide: https://2captcha.com/h/how-to-configure-automatic-response-retrieval-via-pingback), the
// getTaskResult body with `taskId` for the JSON family — and retried on a non-2xx answer or a transport error.
// A script makes the delivery unreliable: pushes lost, duplicated, delayed (so they arrive out of order), or late.
import { request } from 'undici';
import { z } from 'zod';
import { mixSeed, mulberry32, type Rng } from './random';

export const callbackScriptSchema = z
  .object({
    /** share of pushes never sent (0–1) */
    lossRate: z.number().min(0).max(1).default(0),
    /** share of pushes sent twice (0–1); the copy goes `duplicateDelayMs` after the first */
    duplicateRate: z.number().min(0).max(1).default(0),
    duplicateDelayMs: z.number().int().min(0).max(600_000).default(0),
    /** each push waits a random 0…`maxDelayMs` after the task is ready: pushes of close tasks arrive out of order */
    maxDelayMs: z.number().int().min(0).max(600_000).default(0),
    /** sends after a non-2xx answer or a transport error, with the first one (default 5) */
    maxAttempts: z.number().int().min(1).max(20).default(5),
    /** wait before the first retry, doubled each time (default 200 ms) */
    retryDelayMs: z.number().int().min(1).max(600_000).default(200),
  })
  .strict();
export type CallbackScript = z.input<typeof callbackScriptSchema>;

export interface CallbackStats {
  /** tasks that named a callback URL */
  requested: number;
  /** legacy tasks whose pingback URL is not under a registered address: never pushed */
  unregistered: number;
  /** pushes dropped by the script */
  lost: number;
  /** extra copies sent by the script */
  duplicated: number;
  /** HTTP requests sent (retries included) */
  sent: number;
  /** answered 2xx */
  delivered: number;
  /** answered otherwise (403, 5xx, …) or failed in transport */
  refused: number;
  /** pushes given up after `maxAttempts` */
  abandoned: number;
}

export interface PushTarget {
  /** the engine's task id */
  id: string;
  url: string;
  family: 'legacy' | 'json';
}

/** Body of one push: undefined when the task has no final answer (never ready). */
export type PushBody = (target: PushTarget) => { contentType: string; body: string } | undefined;

export class CallbackPusher {
  private script: z.output<typeof callbackScriptSchema>;
  private readonly rng: Rng;
  private readonly timers = new Set<NodeJS.Timeout>();
  private counts: CallbackStats = CallbackPusher.zero();
  private closed = false;

  constructor(
    private readonly bodyOf: PushBody,
    private readonly readyAt: (id: string) => number | undefined,
    script: CallbackScript = {},
    seed = 1,
  ) {
    this.script = callbackScriptSchema.parse(script);
    this.rng = mulberry32(mixSeed(seed, 0xca11));
  }

  private static zero(): CallbackStats {
    return { requested: 0, unregistered: 0, lost: 0, duplicated: 0, sent: 0, delivered: 0, refused: 0, abandoned: 0 };
  }

  /** Replaces the delivery script (throws a ZodError when it is malformed). */
  setScript(script: CallbackScript): void {
    this.script = callbackScriptSchema.parse(script);
  }

  stats(): CallbackStats {
    return { ...this.counts };
  }

  resetStats(): void {
    this.counts = CallbackPusher.zero();
  }

  /** A task that named `target.url`; `registered` false: a legacy pingback URL nobody registered (no push). */
  schedule(target: PushTarget, registered = true): void {
    this.counts.requested++;
    if (!registered) {
      this.counts.unregistered++;
      return;
    }
    const readyAt = this.readyAt(target.id);
    if (readyAt === undefined) return; // never ready: nothing to push (the client polls into its deadline)
    if (this.rng() < this.script.lossRate) {
      this.counts.lost++;
      return;
    }
    const at = readyAt + Math.round(this.rng() * this.script.maxDelayMs);
    this.later(at - Date.now(), () => this.send(target, 1));
    if (this.rng() < this.script.duplicateRate) {
      this.counts.duplicated++;
      this.later(at + this.script.duplicateDelayMs - Date.now(), () => this.send(target, 1));
    }
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private later(ms: number, fn: () => Promise<void>): void {
    if (this.closed) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        fn().catch(() => undefined);
      },
      Math.max(0, ms),
    );
    this.timers.add(timer);
  }

  private async send(target: PushTarget, attempt: number): Promise<void> {
    if (this.closed) return;
    const push = this.bodyOf(target);
    if (!push) {
      // a timer may fire a little before the (fractional) ready time: try again once it has passed
      const readyAt = this.readyAt(target.id);
      if (readyAt !== undefined) this.later(Math.ceil(readyAt - Date.now()) + 1, () => this.send(target, attempt));
      return;
    }
    this.counts.sent++;
    let ok = false;
    try {
      const response = await request(target.url, {
        method: 'POST',
        headers: { 'content-type': push.contentType },
        body: push.body,
        headersTimeout: 5_000,
        bodyTimeout: 5_000,
      });
      await response.body.dump();
      ok = response.statusCode >= 200 && response.statusCode < 300;
    } catch {
      ok = false;
    }
    if (ok) {
      this.counts.delivered++;
      return;
    }
    this.counts.refused++;
    if (attempt >= this.script.maxAttempts) {
      this.counts.abandoned++;
      return;
    }
    this.later(this.script.retryDelayMs * 2 ** (attempt - 1), () => this.send(target, attempt + 1));
  }
}
