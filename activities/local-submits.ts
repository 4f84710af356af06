// What a local submit attempt leaves for the next one. A local activity has no heartbeat on the server: its retries run
// in the same worker, inside the workflow task that scheduled it, so the worker keeps the record (the one a regular
// submit sends as heartbeat details). A worker that dies takes its records along; the attempt that then runs on another
// worker is told apart by how late it starts (activities/solve.ts).
import type { SubmitHeartbeat } from './solve';

/** Records kept at most; the oldest go first (a record outlives its activity only when a final failure left it). */
export const LOCAL_SUBMIT_RECORDS_KEPT = 10_000;

export class LocalSubmitRecords {
  readonly #records = new Map<string, SubmitHeartbeat>();

  constructor(private readonly kept = LOCAL_SUBMIT_RECORDS_KEPT) {}

  /** The key of one local activity: its workflow run and its sequence number there (stable across its attempts). */
  static keyOf(info: { workflowExecution?: { workflowId: string; runId: string }; activityId: string }): string | undefined {
    const run = info.workflowExecution;
    return run ? `${run.workflowId}\u0000${run.runId}\u0000${info.activityId}` : undefined;
  }

  get(key: string): SubmitHeartbeat | undefined {
    return this.#records.get(key);
  }

  set(key: string, record: SubmitHeartbeat): void {
    this.#records.delete(key);
    this.#records.set(key, record);
    if (this.#records.size > this.kept) this.#records.delete(this.#records.keys().next().value!);
  }

  delete(key: string): void {
    this.#records.delete(key);
  }

  get size(): number {
    return this.#records.size;
  }
}
