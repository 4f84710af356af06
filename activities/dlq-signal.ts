// Every signal to a DLQ workflow goes through here: signal-with-start that never signals a workflow of another type.
import { ApplicationFailure, WorkflowNotFoundError, type Client, type WorkflowSignalWithStartOptions } from '@temporalio/client';
import type { WithWorkflowArgs } from '@temporalio/common';
import { WORKFLOW_TYPES } from '../src/domain/names';
import type { DlqInput } from '../workflows/messages';

/** The DLQ workflow's signature, from its input type: activities start it by name and never import workflow code. */
type DeadLetterQueueWorkflow = (input?: DlqInput) => Promise<void>;

/** DLQ ids this worker found to be DLQs lately: the type is asked again after `VERIFIED_FOR_MS`. */
const verified = new Map<string, number>();
const VERIFIED_FOR_MS = 60_000;

/**
 * Signal-with-start of a DLQ workflow that never signals a workflow of another type holding the id (a batch started
 * under the DLQ's id has no dead-letter handler: the report would be acknowledged and lost). A running workflow of
 * another type fails the activity, non-retryably, with a sentence naming it: the caller never counts the report as
 * held. A closed one does not matter (the signal starts a new DLQ run under the id).
 */
export async function signalDlqWithStart<SignalArgs extends unknown[]>(
  client: Client,
  options: WithWorkflowArgs<DeadLetterQueueWorkflow, WorkflowSignalWithStartOptions<SignalArgs>>,
): Promise<void> {
  const id = options.workflowId;
  const fresh = (verified.get(id) ?? 0) > Date.now();
  if (!fresh) await refuseOtherType(client, id);
  const handle = await client.workflow.signalWithStart<DeadLetterQueueWorkflow, SignalArgs>(WORKFLOW_TYPES.dlq, options);
  if (fresh) return;
  // the run that got the signal (a workflow of another type could have started between the check and the signal)
  const { type } = await client.workflow.getHandle(id, handle.signaledRunId).describe();
  if (type !== WORKFLOW_TYPES.dlq) throw notADlq(id, type);
  verified.set(id, Date.now() + VERIFIED_FOR_MS);
}

async function refuseOtherType(client: Client, workflowId: string): Promise<void> {
  try {
    const { type, status } = await client.workflow.getHandle(workflowId).describe();
    if (type !== WORKFLOW_TYPES.dlq && status.name === 'RUNNING') throw notADlq(workflowId, type);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}

function notADlq(workflowId: string, type: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `the DLQ's id "${workflowId}" is held by a running ${type}, not the DLQ: nothing was dead-lettered; ` +
      'end that workflow or set DLQ_WORKFLOW_ID to a free id',
    'internal',
  );
}
