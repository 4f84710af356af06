// Final failures into the DLQ: one from a solve, many from a batch whose circuit opened. Temporal-facing: built from
// a Temporal client, the deployment's DLQ settings and the provider's name (the workflow does not know which one).
import { Context, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { DeadLetterReport } from '../src/domain/types';
import type { DlqSettings } from '../workflows/messages';
import { signalDeadLetter } from './dlq-report';
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
