// Final failures into the DLQ: one from a solve, many from a batch whose circuit opened. Temporal-facing: built from
// a Temporal client, the deployment's DLQ settings and the provider's name (the workflow does not know which one).
// The one way a failure enters the DLQ is signal-with-start, so the DLQ is created on demand and a report sent while it
// continues-as-new lands in the next run. The DLQ dedupes by entry id, so retried reports are harmless.
import { Context, log } from '@temporalio/activity';
import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import type { DeadLetterReport } from '../src/domain/types';
import { deadLetterSignal, type DlqSettings } from '../workflows/messages';
import { routeDeadLetter } from './dlq';
import { signalDlqWithStart } from './dlq-signal';
import { emitterOf, type ActivityEvents } from './events';

export interface ReportActivityDeps {
  client: Client;
  providerName: string;
  /** how a DLQ started by a report is configured, and how many shards the entries are spread over */
  dlqSettings?: DlqSettings;
  /** metrics hooks (src/metrics.ts) */
  events?: ActivityEvents;
}

export interface ReportInput {
  dlqWorkflowId: string;
  /** the provider's name is the worker's to add: the workflow does not know which one is configured */
  report: Omit<DeadLetterReport, 'provider'> & { provider?: string };
}

export interface ReportManyInput {
  dlqWorkflowId: string;
  reports: Omit<DeadLetterReport, 'provider'>[];
}

export function createReportActivities({ client, providerName, dlqSettings = {}, events }: ReportActivityDeps) {
  const emit = emitterOf(events);
  return {
    /** Records a final failure in the DLQ, starting the DLQ if it is not running. Idempotent by `report.entryId`. */
    async reportDeadLetter({ dlqWorkflowId, report: partial }: ReportInput): Promise<void> {
      // the provider the solve last tried, when it knows; else the worker's
      const report: DeadLetterReport = { ...partial, provider: partial.provider ?? providerName };
      await signalDeadLetter(client, dlqWorkflowId, dlqSettings, report);
      emit('deadLettered', { provider: providerName, failureClass: report.failureClass, code: report.code });
      log.info('dead-lettered', { entryId: report.entryId, code: report.code, failureClass: report.failureClass });
    },

    /** Records many unsubmitted tasks at once (an open circuit); idempotent per entry id, so a retry is harmless. */
    async reportDeadLetters({ dlqWorkflowId, reports }: ReportManyInput): Promise<void> {
      for (const report of reports) {
        await signalDeadLetter(client, dlqWorkflowId, dlqSettings, { ...report, provider: providerName });
        Context.current().heartbeat();
      }
    },
  };
}

export type ReportActivities = ReturnType<typeof createReportActivities>;

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
  });
}

