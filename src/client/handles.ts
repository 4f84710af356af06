// Talking to one workflow by its id: updates sent again across a continue-as-new, the type checked before a signal
// or an order, the DLQ workflow that answers a list cursor, the stats a busy DLQ published.
import {
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  isGrpcServiceError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { dlqShardWorkflowId } from '../domain/dlq-routing';
import { WorkflowIdTakenError, showId } from '../domain/ids';
import { WORKFLOW_TYPES } from '../domain/names';
import { DLQ_STATS_MEMO_KEY, type BatchSummary, type DlqStatsSnapshot } from '../../workflows/messages';

/**
 * An update that reaches a long-lived workflow in the middle of its continue-as-new is refused by the server (the run
 * it targeted is closing); the next run takes it. Sent again a few times with the same update id — the workflows also
 * dedupe orders by request id across runs — while a validator's or handler's refusal is final at once.
 */
export async function executeUpdateAcrossRuns<Ret, Args extends [unknown, ...unknown[]]>(
  handle: WorkflowHandle,
  def: UpdateDefinition<Ret, Args>,
  options: { args: Args; updateId?: string },
  attempts = 6,
): Promise<Ret> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await handle.executeUpdate(def, options);
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError || !(err instanceof ServiceError) || attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
  }
}

/** The shard a list cursor belongs to: `"<shard>:<seq>"`; a bare `"<seq>"` or none is the front's. */
export function cursorShard(cursor: string | undefined): number {
  const m = /^(\d+):\d+$/.exec(cursor ?? '');
  return m ? Number(m[1]) : 0;
}

/** The DLQ workflow that answers a list cursor. */
export function dlqWorkflowOfCursor(frontId: string, cursor: string | undefined): string {
  return dlqShardWorkflowId(frontId, cursorShard(cursor));
}

/** The refusal of a batch start whose id is held by a finished batch or by another type of workflow. */
export async function batchIdTaken(handle: WorkflowHandle): Promise<WorkflowIdTakenError> {
  const batchId = handle.workflowId;
  const { type, status } = await handle.describe();
  let state = status.name.toLowerCase().replace('_', ' ');
  // a cancelled batch completes with a summary that says so
  if (type === WORKFLOW_TYPES.batch && status.name === 'COMPLETED') state = ((await handle.result()) as BatchSummary).status;
  const message =
    type === WORKFLOW_TYPES.batch
      ? `batch ${showId(batchId)} already ran and is ${state}: it is not started again; start the tasks as a new batch under another id (or without one, for a generated id)`
      : `${showId(batchId)} is the id of a ${state} ${type}, not a batch: nothing was started; start the batch under another id`;
  return new WorkflowIdTakenError(batchId, type, status.name, message);
}

/** The DLQ's description (`WorkflowIdTakenError` when the id holds another type, `WorkflowNotFoundError` if none). */
export async function describeDlq(handle: WorkflowHandle): Promise<WorkflowExecutionDescription> {
  const d = await handle.describe();
  checkType(handle, d, WORKFLOW_TYPES.dlq, 'the DLQ');
  return d;
}

/** True when a call was not answered in time: past its deadline, or the server too busy to take it. */
export function timedOut(err: unknown): boolean {
  const cause = err instanceof ServiceError ? err.cause : err;
  // CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED ("workflow is busy"), UNAVAILABLE
  return isGrpcServiceError(cause) && [1, 4, 8, 14].includes(cause.code);
}

/** The stats snapshot in a DLQ's memo, or null when there is none (or it is not one). */
export function publishedStats(memo: Record<string, unknown> | undefined): DlqStatsSnapshot | null {
  const s = memo?.[DLQ_STATS_MEMO_KEY] as Partial<DlqStatsSnapshot> | undefined;
  if (!s || typeof s !== 'object' || typeof s.total !== 'number' || typeof s.asOf !== 'string' || !Array.isArray(s.bySitekey)) return null;
  return s as DlqStatsSnapshot;
}

/** Throws `WorkflowIdTakenError` unless the workflow under `handle` is of `type` (`WorkflowNotFoundError` if none). */
export async function expectType(handle: WorkflowHandle, type: string, what: string): Promise<void> {
  checkType(handle, await handle.describe(), type, what);
}

export function checkType(handle: WorkflowHandle, d: WorkflowExecutionDescription, type: string, what: string): void {
  if (d.type === type) return;
  const hint = type === WORKFLOW_TYPES.dlq ? ': check DLQ_WORKFLOW_ID' : '';
  throw new WorkflowIdTakenError(
    handle.workflowId,
    d.type,
    d.status.name,
    `${showId(handle.workflowId)} is a ${d.type} (${d.status.name.toLowerCase()}), not ${what}${hint}`,
  );
}

/** Runs `fn`; when it fails, a workflow of another type under the handle's id is named instead of the raw error. */
export async function typeChecked<T>(handle: WorkflowHandle, type: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw err;
    await expectType(handle, type, what).catch((mismatch: unknown) => {
      if (mismatch instanceof WorkflowIdTakenError) throw mismatch;
    });
    throw err;
  }
}

/** True when `err` says the workflow (batch, DLQ) does not exist. */
export function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError;
}
