// The one way a failure enters the DLQ: signal-with-start, so the DLQ is created on demand and a report sent while it
// continues-as-new lands in the next run. The DLQ dedupes by entry id, so retried reports are harmless.
import { Context } from '@temporalio/activity';
import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import { WORKFLOW_TYPES, deadLetterSignal } from '../workflows/messages';
import type { DeadLetterReport } from '../workflows/types';
import { routeDeadLetter } from './dlq';

/** `dlqWorkflowId` is the DLQ's front; with `shardCount` > 1 the entry goes to the shard its id hashes to. */
export async function signalDeadLetter(client: Client, dlqWorkflowId: string, shardCount: number, report: DeadLetterReport): Promise<void> {
  const target = routeDeadLetter(dlqWorkflowId, shardCount, report.entryId);
  await client.workflow.signalWithStart(WORKFLOW_TYPES.dlq, {
    workflowId: target.workflowId,
    taskQueue: Context.current().info.taskQueue,
    args: [target.args],
    signal: deadLetterSignal,
    signalArgs: [report],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    staticSummary: 'dead-letter queue',
  });
}
