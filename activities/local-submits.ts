// What a submit attempt leaves for the next one. A regular submit sends it as heartbeat details; a local one has no
// heartbeat on the server (its retries run in the same worker, inside the workflow task that scheduled it), so the
// worker keeps it here. A worker that dies takes its records along; the attempt that then repeats its workflow task on
// another worker is told apart by what its workflow saw (activities/solve.ts, unsettledLocalSubmits).

/**
 * What a submit attempt leaves behind for the next one: whether its request was out (or may have been: `sending`
 * stays true when the attempt died or its exchange broke after sending), and how many earlier attempts ended so.
 */
export interface SubmitHeartbeat {
  attempt: number;
  sending: boolean;
  unsettled: number;
}

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
