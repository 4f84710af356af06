// A faithful TypeScript port of the seed's sequential loop (/work/shared/seed-dlq-for-failed-captcha-tasks.txt,
// Python `solve_captcha` + "Process a batch"): one task at a time; submit; sleep the interval before every poll, up to
// 24 polls; on any error sleep 2^attempt and submit again, 3 retries; then push to a bounded in-memory deque.
// Only the clock is scaled (`timeUnitMs` = what the seed's one second becomes), so both sides see the same timings.
import { fetch } from 'undici';

export interface SeedTask {
  sitekey: string;
  pageUrl: string;
}

export interface FailedTask {
  sitekey: string;
  pageUrl: string;
  error: string;
  attempts: number;
  timestamp: number;
}

/** The seed's `DeadLetterQueue`: a deque with `maxlen` (the oldest entry falls out when full). */
export class DeadLetterQueue {
  private readonly queue: FailedTask[] = [];
  constructor(readonly maxSize = 1000) {}

  push(task: FailedTask): void {
    this.queue.push(task);
    if (this.queue.length > this.maxSize) this.queue.shift();
  }

  pop(): FailedTask | undefined {
    return this.queue.shift();
  }

  size(): number {
    return this.queue.length;
  }
}

export interface SeedOptions {
  baseUrl: string;
  apiKey: string;
  /** one of the seed's seconds, in real milliseconds (1000 = unscaled) */
  timeUnitMs: number;
  maxRetries?: number;
}

export interface SeedRunResult {
  wallMs: number;
  solved: number;
  deadLettered: number;
  /** time spent waiting for HTTP answers (the rest is the seed's own sleeps) */
  httpMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The seed's `solve_captcha`. */
export async function solveCaptcha(task: SeedTask, dlq: DeadLetterQueue, o: SeedOptions, clock: { httpMs: number }): Promise<string | null> {
  const maxRetries = o.maxRetries ?? 3;
  const second = o.timeUnitMs;
  const timed = async <T>(request: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await request();
    } finally {
      clock.httpMs += performance.now() - started;
    }
  };
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    try {
      const data = await timed(async () => {
        const response = await fetch(`${o.baseUrl}/in.php`, {
          method: 'POST',
          body: new URLSearchParams({ key: o.apiKey, method: 'userrecaptcha', googlekey: task.sitekey, pageurl: task.pageUrl, json: '1' }),
          signal: AbortSignal.timeout(15_000),
        });
        return (await response.json()) as { status: number; request: string | number };
      });
      if (data.status !== 1) throw new Error(String(data.request));
      const taskId = String(data.request);
      for (let i = 0; i < 24; i++) {
        await sleep(5 * second);
        const poll = await timed(async () => {
          const query = new URLSearchParams({ key: o.apiKey, action: 'get', id: taskId, json: '1' });
          const response = await fetch(`${o.baseUrl}/res.php?${query}`, { signal: AbortSignal.timeout(15_000) });
          return (await response.json()) as { status: number; request: string };
        });
        if (poll.status === 1) return poll.request;
        if (poll.request !== 'CAPCHA_NOT_READY') throw new Error(poll.request);
      }
      throw new Error(`Task ${taskId} timed out`);
    } catch (err) {
      if (attempt === maxRetries) {
        dlq.push({ sitekey: task.sitekey, pageUrl: task.pageUrl, error: (err as Error).message, attempts: attempt + 1, timestamp: Date.now() });
        return null;
      }
      await sleep(2 ** attempt * second);
    }
  }
  return null;
}

/** The seed's "Process a batch": every task in turn. */
export async function runSeedBatch(tasks: SeedTask[], options: SeedOptions): Promise<SeedRunResult> {
  const dlq = new DeadLetterQueue(1000);
  const clock = { httpMs: 0 };
  const started = performance.now();
  let solved = 0;
  for (const task of tasks) {
    if ((await solveCaptcha(task, dlq, options, clock)) !== null) solved++;
  }
  return { wallMs: performance.now() - started, solved, deadLettered: dlq.size(), httpMs: clock.httpMs };
}
