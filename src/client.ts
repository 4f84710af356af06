// The client library: solve one captcha, start and watch batches, operate the DLQ. Used by the CLI, demo and tests.
import { randomUUID } from 'node:crypto';
import {
  ApplicationFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import type { Config } from './config';
import { parseTask, parseTasks } from './shared/tasks';
import { readTaskFile } from './shared/task-files';
import type { captchaBatchWorkflow } from '../workflows/batch';
import {
  batchIdAttribute,
  batchProgressQuery,
  batchResultsQuery,
  type BatchInput,
  type BatchProgress,
  type BatchResultsPage,
  type BatchSummary,
  type TaskSource,
} from '../workflows/messages';
import type { solveCaptchaWorkflow } from '../workflows/solve';
import type { CaptchaTask, FailureClass, SolveFailureDetails, SolvePolicyOverrides, SolveResult } from '../workflows/types';
import { describeTask } from '../workflows/batch';

/** Largest batch that travels inline in the workflow input; larger ones must come from a file. */
export const INLINE_BATCH_LIMIT = 1_000;

/** A solve that ended in final failure, as the caller sees it. */
export class CaptchaSolveError extends Error {
  override readonly name = 'CaptchaSolveError';
  constructor(
    readonly failureClass: FailureClass,
    readonly details: SolveFailureDetails | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface SolveOptions {
  workflowId?: string;
  policy?: SolvePolicyOverrides;
  /** record a final failure in the DLQ (default true) */
  deadLetter?: boolean;
}

export interface StartBatchOptions {
  batchId?: string;
  /** inline tasks (≤ INLINE_BATCH_LIMIT) … */
  tasks?: unknown[];
  /** … or a JSON / NDJSON / CSV file the workers can read */
  file?: string;
  format?: string;
  concurrency?: number;
  policy?: SolvePolicyOverrides;
  /** extra workflow input (tests lower the continue-as-new thresholds) */
  tuning?: Pick<BatchInput, 'pageSize' | 'maxHistoryEvents' | 'maxChildrenPerRun' | 'resultsKept' | 'resultsMaxAgeMs'>;
}

export class CaptchaSolver {
  constructor(
    readonly client: Client,
    readonly config: Readonly<Config>,
  ) {}

  /** Solves one captcha and waits for the token. Throws `CaptchaSolveError` on final failure. */
  async solve(task: unknown, options: SolveOptions = {}): Promise<SolveResult> {
    const valid = parseTask(task);
    const taskKey = valid.key ?? randomUUID();
    try {
      return await this.client.workflow.execute<typeof solveCaptchaWorkflow>('solveCaptchaWorkflow', {
        workflowId: options.workflowId ?? `solve/${taskKey}`,
        taskQueue: this.config.temporal.taskQueue,
        args: [
          {
            task: valid,
            taskKey,
            policy: { ...this.config.solvePolicy, ...options.policy },
            dlqWorkflowId: options.deadLetter === false ? null : this.config.dlqWorkflowId,
          },
        ],
        staticSummary: describeTask(valid),
      });
    } catch (err) {
      throw asSolveError(err);
    }
  }

  /**
   * Starts a batch; validates every task first. Starting the same batch id again returns the running batch
   * (`existing: true`) instead of doing the work twice.
   */
  async startBatch(options: StartBatchOptions): Promise<{ batchId: string; handle: WorkflowHandle<typeof captchaBatchWorkflow>; existing: boolean; total: number }> {
    const source = await this.batchSource(options);
    const total = source.kind === 'file' ? source.total : source.tasks.length;
    const batchId = options.batchId ?? `batch-${new Date().toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
    const input: BatchInput = {
      batchId,
      source,
      concurrency: options.concurrency ?? this.config.batchConcurrency,
      policy: { ...this.config.solvePolicy, ...options.policy },
      dlqWorkflowId: this.config.dlqWorkflowId,
      ...options.tuning,
    };
    const startRequest = randomUUID();
    let handle: WorkflowHandle<typeof captchaBatchWorkflow>;
    try {
      handle = await this.client.workflow.start<typeof captchaBatchWorkflow>('captchaBatchWorkflow', {
        workflowId: batchId,
        taskQueue: this.config.temporal.taskQueue,
        args: [input],
        // a repeated start of a running batch returns it; a finished batch id is not reused
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: [{ key: batchIdAttribute, value: batchId }],
        memo: { startRequest },
        staticSummary: batchSummaryLine(total, source),
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      return { batchId, handle: this.client.workflow.getHandle(batchId), existing: true, total };
    }
    const existing = (await handle.describe()).memo?.startRequest !== startRequest;
    return { batchId, handle, existing, total };
  }

  batch(batchId: string) {
    const handle = this.client.workflow.getHandle<typeof captchaBatchWorkflow>(batchId);
    return {
      handle,
      progress: (): Promise<BatchProgress> => handle.query(batchProgressQuery),
      results: (cursor?: number, limit?: number): Promise<BatchResultsPage> => handle.query(batchResultsQuery, { cursor, limit }),
      result: (): Promise<BatchSummary> => handle.result(),
      cancel: async (): Promise<void> => {
        await handle.cancel();
      },
    };
  }

  private async batchSource(options: StartBatchOptions): Promise<TaskSource> {
    if (!!options.tasks === !!options.file) throw new Error('give either tasks or a file');
    if (options.file) {
      const file = await readTaskFile(options.file, options.format);
      return { kind: 'file', path: file.path, format: file.format, sha256: file.sha256, total: file.tasks.length };
    }
    const tasks = parseTasks(options.tasks!);
    if (tasks.length === 0) throw new Error('a batch needs at least one task');
    if (tasks.length > INLINE_BATCH_LIMIT) {
      throw new Error(`${tasks.length} tasks are too many to pass inline (limit ${INLINE_BATCH_LIMIT}): give them as a file`);
    }
    return { kind: 'inline', tasks };
  }
}

function batchSummaryLine(total: number, source: TaskSource): string {
  const sample = source.kind === 'inline' ? source.tasks : [];
  const types = [...new Set(sample.map((t) => t.type))];
  const hosts = [...new Set(sample.map((t) => (t.pageUrl ? new URL(t.pageUrl).host : undefined)).filter(Boolean))];
  const what = types.length === 1 ? `${types[0]} ` : '';
  const where = hosts.length === 1 ? ` for ${hosts[0]}` : hosts.length > 1 ? ` for ${hosts.length} sites` : source.kind === 'file' ? ` from ${source.path}` : '';
  return `${total} ${what}tasks${where}`;
}

export function asSolveError(err: unknown): unknown {
  if (!(err instanceof WorkflowFailedError) || !(err.cause instanceof ApplicationFailure)) return err;
  const details = err.cause.details?.[0] as SolveFailureDetails | undefined;
  return new CaptchaSolveError((err.cause.type ?? 'internal') as FailureClass, details, err.cause.message, { cause: err });
}

export type { CaptchaTask };
