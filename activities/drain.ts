// The scheduled drain's one activity: sends the DLQ its validated retry update and returns what the DLQ did.
import { ApplicationFailure, log } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { describeBudgetUse } from '../src/domain/dlq-cost';
import { dlqRetryUpdate, type DlqRetryRequest, type DrainResult } from '../workflows/messages';

export interface DrainDeadLettersInput {
  dlqWorkflowId: string;
  request: DlqRetryRequest & { requestId: string };
}

export function createDrainActivities({ client }: { client: Client }) {
  return {
    async drainDeadLetters({ dlqWorkflowId, request }: DrainDeadLettersInput): Promise<DrainResult> {
      try {
        const result = await client.workflow.getHandle(dlqWorkflowId).executeUpdate(dlqRetryUpdate, {
          args: [request],
          updateId: request.requestId,
        });
        const budget = result.budget && describeBudgetUse(result.matched, result.budget);
        log.info('DLQ drained', { dlqWorkflowId, requestId: request.requestId, matched: result.matched, skipped: result.skipped, ...(budget && { budget }) });
        return {
          dlqRunning: true,
          requestId: request.requestId,
          matched: result.matched,
          skipped: result.skipped,
          sample: result.sample,
          ...(result.cost && { cost: result.cost }),
          ...(result.budget && { budget: result.budget }),
        };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) {
          log.info('no DLQ to drain', { dlqWorkflowId });
          return { dlqRunning: false, requestId: request.requestId, matched: 0, skipped: 0, sample: [] };
        }
        if (err instanceof WorkflowUpdateFailedError) {
          throw ApplicationFailure.nonRetryable(`the DLQ rejected the drain: ${err.cause?.message ?? err.message}`, 'DrainRejected');
        }
        throw err;
      }
    },
  };
}

export type DrainActivities = ReturnType<typeof createDrainActivities>;
