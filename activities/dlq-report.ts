// The one way a failure enters the DLQ: signal-with-start, so the DLQ is created on demand and a report sent while it
// continues-as-new lands in the next run. The DLQ dedupes by entry id, so retried reports are harmless.
import { Context } from '@temporalio/activity';
import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import { deadLetterSignal } from '../workflows/messages';
import type { DlqSettings } from '../workflows/messages';
import type { DeadLetterReport } from '../src/domain/types';
import { routeDeadLetter } from './dlq';
import { signalDlqWithStart } from './dlq-signal';

/**
 * `dlqWorkflowId` is the DLQ's front; with `settings.shardCount` > 1 the entry goes to the shard its id hashes to.
 * `settings` (the worker's configuration) apply when this report is the one that starts the DLQ.
 */
export async function signalDeadLetter(client: Client, dlqWorkflowId: string, settings: DlqSettings, report: DeadLetterReport): Promise<void> {
  const target = routeDeadLetter(dlqWorkflowId, settings, report.entryId);
  await signalDlqWithStart(client, {
    workflowId: target.workflowId,
    taskQueue: Context.current().info.taskQueue,
    args: [target.args],
    signal: deadLetterSignal,
    signalArgs: [report],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    staticSummary: target.args.role === 'shard' ? `dead-letter queue shard ${target.args.shard} of ${dlqWorkflowId}` : 'dead-letter queue',
    staticDetails: DLQ_DETAILS(dlqWorkflowId),
  });
}

/** The operator's commands, on the DLQ's page in the Web UI. */
const DLQ_DETAILS = (id: string): string =>
  [
    'Failed captcha tasks, held until an operator retries or discards them.',
    '',
    '```',
    `temporal workflow query  --workflow-id ${id} --type stats`,
    `temporal workflow query  --workflow-id ${id} --type list --input '{"limit":20}'`,
    `temporal workflow signal --workflow-id ${id} --name retry --input '{"errorCodes":["ERROR_CAPTCHA_UNSOLVABLE"]}'`,
    `temporal workflow update execute --workflow-id ${id} --name discardEntries --input '{"classes":["permanent"],"reason":"…","dryRun":true}'`,
    '```',
  ].join('\n');
