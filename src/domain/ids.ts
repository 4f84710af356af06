// Workflow ids a user may choose (batch ids), and the errors that say an id is bad or taken. Batches, solves and the
// DLQ live in one namespace: batch ids have no "/" (solves are `solve/<key>`, a batch's children `<batch>/<key>`, DLQ
// shards `<dlq>/shard-<n>`) and may not be the DLQ's id; every start, signal and attach also checks the workflow type.

/** One-off solves run as `solve/<task key>`: a batch of that name would give its tasks the same ids. */
export const SOLVE_PREFIX = 'solve';

/** Longest id a user may choose (Temporal's own limit is 1,000 bytes). */
export const ID_MAX_LENGTH = 200;
const ID_CHARS = /^[A-Za-z0-9._:@-]+$/;

/** A chosen id that is malformed or reserved. */
export class InvalidIdError extends Error {
  override readonly name = 'InvalidIdError';
}

/** An id, shown safely: quoted (control characters escaped) and cut at 60 characters. */
export function showId(id: string): string {
  return JSON.stringify(id.length > 60 ? `${id.slice(0, 60)}…` : id);
}

/** Checks a batch id; returns it unchanged. `dlqWorkflowId` is the deployment's DLQ front (DLQ_WORKFLOW_ID). */
export function checkBatchId(id: string, dlqWorkflowId: string): string {
  if (id === '') throw new InvalidIdError('the batch id is empty: give a non-empty id, or none for a generated one');
  if (id.length > ID_MAX_LENGTH) {
    throw new InvalidIdError(`the batch id ${showId(id)} has ${id.length} characters: at most ${ID_MAX_LENGTH} are allowed`);
  }
  if (!ID_CHARS.test(id)) throw new InvalidIdError(`the batch id ${showId(id)} may contain only letters, digits and . _ : @ -`);
  if (id === SOLVE_PREFIX) {
    throw new InvalidIdError(`the batch id ${showId(id)} is reserved: its tasks would share ids with one-off solves (solve/<key>); pick another batch id`);
  }
  if (id === dlqWorkflowId) throw new InvalidIdError(`the batch id ${showId(id)} is the DLQ's id (DLQ_WORKFLOW_ID): pick another batch id`);
  return id;
}

/** The id belongs to a workflow of another type, or to a batch that already ended: nothing was started or signalled. */
export class WorkflowIdTakenError extends Error {
  override readonly name = 'WorkflowIdTakenError';
  constructor(
    readonly workflowId: string,
    /** the type of the workflow that holds the id */
    readonly workflowType: string,
    /** its status: RUNNING, COMPLETED, CANCELLED, TERMINATED, FAILED, TIMED_OUT */
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}
