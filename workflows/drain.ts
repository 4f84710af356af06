// The scheduled drain: the seed's answer to "DLQ grows indefinitely", run by a Temporal Schedule (`captcha-dlq schedule
// create --every 1h`). Each run asks the DLQ, through its validated retry update, to retry the retryable classes once;
// the DLQ itself skips parked and account-class entries and dedupes the order by its request id (this run's id).
// With a budget, the DLQ retries the entries whose last failure is oldest while their worst case fits it and leaves the
// rest for a later run; the run's result and the DLQ's audit record say how many were left and what they would cost.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { DrainActivities } from '../activities/drain';
import type { DlqRetryRequest, DrainInput, DrainResult } from './messages';
import { DRAIN_DEFAULT_CLASSES } from '../src/domain/names';
import { DRAIN_ACTIVITY_OPTIONS } from '../src/domain/policies';

export async function dlqDrainWorkflow(input: DrainInput): Promise<DrainResult> {
  const { drainDeadLetters } = proxyActivities<DrainActivities>({
    ...DRAIN_ACTIVITY_OPTIONS,
    summary: `retry ${(input.classes ?? DRAIN_DEFAULT_CLASSES).join(', ')} entries of ${input.dlqWorkflowId}`,
  });
  // a scheduled run's id is `<schedule id>-<fire time>`, to the second: two runs triggered in one second share it, so
  // the order is named by the run too (its first run id: a retried activity repeats nothing, the next run is new)
  const request: DlqRetryRequest & { requestId: string } = {
    classes: [...(input.classes ?? DRAIN_DEFAULT_CLASSES)],
    ...(input.errorCodes?.length && { errorCodes: input.errorCodes }),
    statuses: ['dead'],
    reason: input.reason,
    by: input.by,
    requestId: `${workflowInfo().workflowId.slice(-400)}@${workflowInfo().firstExecutionRunId}`,
    // absent on runs created before budgets: the same order as before
    ...(input.budgetMicros !== undefined && { budgetMicros: input.budgetMicros, prices: input.prices ?? {}, fitBudget: true }),
  };
  return await drainDeadLetters({ dlqWorkflowId: input.dlqWorkflowId, request });
}
