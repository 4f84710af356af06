// Every signal to a DLQ workflow goes through here: signal-with-start that never signals a workflow of another type,
// and that gives whatever DLQ workflow it starts (front or shard, by a report or by a shard's snapshot) the same Web UI
// summary and operator commands.
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
  options: Omit<WithWorkflowArgs<DeadLetterQueueWorkflow, WorkflowSignalWithStartOptions<SignalArgs>>, 'staticSummary' | 'staticDetails'>,
): Promise<void> {
  const id = options.workflowId;
  const fresh = (verified.get(id) ?? 0) > Date.now();
  if (!fresh) await refuseOtherType(client, id);
  const withDetails = { ...options, ...dlqStartDetails(id, options.args?.[0]) } as WithWorkflowArgs<DeadLetterQueueWorkflow, WorkflowSignalWithStartOptions<SignalArgs>>;
  const handle = await client.workflow.signalWithStart<DeadLetterQueueWorkflow, SignalArgs>(WORKFLOW_TYPES.dlq, withDetails);
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

/** The Web UI's summary and details of a DLQ workflow `workflowId` started with `input`: the front's commands on both. */
export function dlqStartDetails(workflowId: string, input: DlqInput | undefined): { staticSummary: string; staticDetails: string } {
  const shard = input?.role === 'shard' && typeof input.front === 'string' ? { front: input.front, index: input.shard } : undefined;
  const front = shard?.front ?? workflowId;
  return {
    staticSummary: shard ? `dead-letter queue shard ${shard.index} of ${front}` : 'dead-letter queue',
    staticDetails: dlqDetails(front),
  };
}

/** The operator's commands, on the DLQ's page in the Web UI. */
function dlqDetails(id: string): string {
  return [
    'Failed captcha tasks, held until an operator retries or discards them.',
    '',
    // one short line per argument: the Web UI cuts a code line at the preview's right edge, it does not wrap it
    '```',
    `temporal workflow query --type stats \\`,
    `  --workflow-id ${id}`,
    `temporal workflow query --type list \\`,
    `  --workflow-id ${id} \\`,
    `  --input '{"limit":20}'`,
    `temporal workflow signal --name retry \\`,
    `  --workflow-id ${id} \\`,
    `  --input '{"errorCodes":["ERROR_CAPTCHA_UNSOLVABLE"]}'`,
    `temporal workflow update execute \\`,
    `  --name discardEntries --workflow-id ${id} \\`,
    `  --input '{"classes":["permanent"],"reason":"…","dryRun":true}'`,
    '```',
  ].join('\n');
}
