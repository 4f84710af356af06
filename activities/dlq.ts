// Activities of the DLQ workflows: the front forwards operator orders to its shards, shards push their counts to the
// front, and retry children that never reported are looked up. Temporal calls only; no provider, no secrets.
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { WorkflowFailedError, WorkflowIdConflictPolicy, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { dlqShardOf, dlqShardWorkflowId } from '../src/domain/dlq-routing';
import { signalDlqWithStart } from './dlq-signal';
import {
  dlqForwardedOrderUpdate,
  dlqShardSnapshotSignal,
  type DlqForwardedOrder,
  type DlqInput,
  type DlqOperationResult,
  type DlqSettings,
  type DlqShardSnapshot,
} from '../workflows/messages';
import type { SolveFailureDetails } from '../src/domain/types';

export interface DlqActivityDeps {
  client: Client;
  /** the deployment's DLQ settings (the worker's configuration): every DLQ start carries them */
  settings?: DlqSettings;
}

export interface ForwardOrderInput {
  workflowIds: string[];
  order: DlqForwardedOrder;
}
export interface ForwardOrderOutput {
  /** `result` is null when the shard does not exist (never received an entry); `error` when it rejected the order */
  results: { workflowId: string; result: DlqOperationResult | null; error?: string }[];
}

export interface PushSnapshotInput {
  frontWorkflowId: string;
  snapshot: DlqShardSnapshot;
  /** start arguments of the front if it is not running (it then starts with these settings) */
  frontArgs: DlqInput;
}

export interface LookupChildrenInput {
  workflowIds: string[];
}
export type RetryChildStatus =
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED'
  | 'TERMINATED'
  | 'TIMED_OUT'
  | 'CONTINUED_AS_NEW'
  | 'NOT_FOUND'
  | 'UNKNOWN';
export interface RetryChildLookup {
  workflowId: string;
  status: RetryChildStatus;
  /** the solve's typed failure, for FAILED */
  failure?: SolveFailureDetails;
}

/** Where a report for `entryId` goes, and how that workflow starts (with `settings`) if it is not running. */
export function routeDeadLetter(frontId: string, settings: DlqSettings, entryId: string): { workflowId: string; args: DlqInput } {
  const shardCount = settings.shardCount ?? 1;
  const shard = dlqShardOf(shardCount, entryId);
  if (shard === 0) return { workflowId: frontId, args: settings };
  return { workflowId: dlqShardWorkflowId(frontId, shard), args: { ...settings, role: 'shard', front: frontId, shard } };
}

/** How many updates the forwarder keeps in flight. */
const FORWARD_PARALLELISM = 16;

export function createDlqActivities({ client, settings = {} }: DlqActivityDeps) {
  return {
    /** Front → every shard: the same order, watermark and request id (a shard applies a request id once). */
    async forwardDlqOrder({ workflowIds, order }: ForwardOrderInput): Promise<ForwardOrderOutput> {
      const ctx = Context.current();
      const results: ForwardOrderOutput['results'] = [];
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < workflowIds.length) {
          const workflowId = workflowIds[next++]!;
          try {
            const result = await client.workflow.getHandle(workflowId).executeUpdate(dlqForwardedOrderUpdate, {
              args: [order],
              // a dry run and the real order may share a request id: the server must not dedupe one into the other
              updateId: `${order.request.requestId}@${workflowId}${order.request.dryRun ? '#dry-run' : ''}`,
            });
            results.push({ workflowId, result });
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) {
              results.push({ workflowId, result: null });
            } else if (err instanceof WorkflowUpdateFailedError) {
              // the shard's validator rejected it: retrying cannot help
              log.warn('a DLQ shard rejected a forwarded order', { workflowId, error: String(err.cause ?? err) });
              results.push({ workflowId, result: null, error: String(err.cause?.message ?? err.message) });
            } else {
              throw err; // connection trouble: the activity retries, the shards dedupe by request id
            }
          }
          ctx.heartbeat(next);
        }
      };
      await Promise.all(Array.from({ length: Math.min(FORWARD_PARALLELISM, workflowIds.length) }, worker));
      return { results };
    },

    /**
     * Shard → front: the shard's latest counts (latest `seq` wins at the front). Starts the front if needed, on the
     * deployment's settings (the shard's shard count where the shard knows it), never on the workflow's defaults.
     */
    async pushDlqSnapshot({ frontWorkflowId, snapshot, frontArgs }: PushSnapshotInput): Promise<void> {
      await signalDlqWithStart(client, {
        workflowId: frontWorkflowId,
        taskQueue: Context.current().info.taskQueue,
        args: [{ ...settings, ...frontArgs }],
        signal: dlqShardSnapshotSignal,
        signalArgs: [snapshot],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      });
    },

    /** The status of retry children that have not reported (and the typed failure of failed ones). */
    async lookupDlqRetryChildren({ workflowIds }: LookupChildrenInput): Promise<RetryChildLookup[]> {
      const out: RetryChildLookup[] = [];
      for (const workflowId of workflowIds) {
        const handle = client.workflow.getHandle(workflowId);
        try {
          const { status } = await handle.describe();
          const name = (status.name ?? 'UNKNOWN') as RetryChildStatus;
          if (name !== 'FAILED') {
            out.push({ workflowId, status: name });
            continue;
          }
          try {
            await handle.result();
            out.push({ workflowId, status: name });
          } catch (err) {
            const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
            const details = cause instanceof ApplicationFailure ? (cause.details?.[0] as SolveFailureDetails | undefined) : undefined;
            out.push({ workflowId, status: name, ...(details && typeof details === 'object' && { failure: details }) });
          }
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          out.push({ workflowId, status: 'NOT_FOUND' });
        }
      }
      return out;
    },
  };
}

export type DlqActivities = ReturnType<typeof createDlqActivities>;
