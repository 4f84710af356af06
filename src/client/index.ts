// The client library: solve one captcha, start and watch batches, operate the DLQ, report tokens, read the balance.
// Used by the CLI, the console, the gateway, the demo and the tests. Its errors (./errors), options (./options) and
// the way it talks to one workflow (./handles) live beside it.
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import {
  ScheduleOverlapPolicy,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client,
  type ScheduleHandle,
  type WorkflowHandle,
} from '@temporalio/client';
import type { Config } from '../config';
import { parseTask, parseTasks } from '../tasks/schema';
import { readTaskFile } from '../tasks/files';
import { checkProviderSupports } from '../tasks/support';
import { CAPABILITIES, type ProviderName } from '../providers/capabilities';
import { SOLVE_PREFIX, checkBatchId, showId } from '../domain/ids';
import type { captchaBatchWorkflow } from '../../workflows/batch';
import { batchProgressQuery, batchResultsQuery, batchResumeUpdate, type BatchInput, type BatchProgress, type BatchResultsPage, type BatchSummary, type TaskSource, dlqAuditQuery, dlqDiscardUpdate, dlqListQuery, dlqPurgeUpdate, dlqResetShardUpdate, dlqRetryUpdate, dlqStatsQuery, type DlqStatsSnapshot, type DlqResetShardRequest, type DlqResetShardResult, type DlqAuditRecord, type DlqAuditRequest, type DlqDiscardRequest, type DlqEntry, type DlqFilter, type DlqListPage, type DlqListRequest, type DlqOperationResult, type DlqRetryRequest, type DlqStats, type DlqStatsRequest, type DrainInput } from '../../workflows/messages';
import { WORKFLOW_TYPES, batchIdAttribute, sitekeyAttribute, tokenReportWorkflowId } from '../domain/names';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { checkBalanceUpdate, dailyCapQuery, setDailyCapUpdate, type DailyCapView, feedbackStatsQuery, type BalanceCheck, type FeedbackStats, type TokenReportInput, type TokenReportResult, type TokenVerdict } from '../../workflows/messages';
import type { captchaAccountWorkflow, tokenReportWorkflow } from '../../workflows/account';
import { dlqShardWorkflowId } from '../domain/dlq-routing';
import type { dlqDrainWorkflow } from '../../workflows/drain';
import { formatInterval } from '../domain/describe';
import { formatUsd } from '../domain/prices';
import { DRAIN_DEFAULT_CLASSES, DRAIN_SCHEDULE_ID } from '../domain/names';
import type { solveCaptchaWorkflow } from '../../workflows/solve';
import type { CaptchaTask, CaptchaType, SolveResult } from '../domain/types';
import { describeTask } from '../domain/describe';
import { resolveSolvePolicy } from '../domain/policies';
import { routeProblem } from '../providers/routes';

/** Largest batch that travels inline in the workflow input; larger ones must come from a file. */
export const INLINE_BATCH_LIMIT = 1_000;

import { InvalidRouteError, TokenReportError, asSolveError, budgetMicrosOf, checkDlqRequest } from './errors';
import { batchIdTaken, cursorShard, describeDlq, dlqWorkflowOfCursor, executeUpdateAcrossRuns, expectType, publishedStats, timedOut, typeChecked } from './handles';
import { batchDetails, batchSummaryLine } from './summaries';
import type { DrainScheduleOptions, DrainScheduleSummary, SolveOptions, StartBatchOptions } from './options';

export class CaptchaSolver {
  constructor(
    readonly client: Client,
    readonly config: Readonly<Config>,
  ) {}

  /** Search attributes are never encrypted: with payload encryption on, sitekeys are not indexed. */
  private get indexSitekeys(): boolean {
    return !this.config.temporal.codecKeys;
  }

  /** Solves one captcha and waits for the token. Throws `CaptchaSolveError` on final failure. */
  async solve(task: unknown, options: SolveOptions = {}): Promise<SolveResult> {
    const valid = parseTask(task);
    // what the route (named, or the default one of several providers) or the provider solves, before anything starts
    this.checkSupports(options.route, [valid], { where: 'task' });
    const taskKey = valid.key ?? randomUUID();
    try {
      return await this.client.workflow.execute<typeof solveCaptchaWorkflow>(WORKFLOW_TYPES.solve, {
        workflowId: options.workflowId ?? `${SOLVE_PREFIX}/${taskKey}`,
        taskQueue: this.config.temporal.taskQueue,
        args: [
          {
            task: valid,
            taskKey,
            policy: resolveSolvePolicy(this.config.solvePolicy, options.policy),
            dlqWorkflowId: options.deadLetter === false ? null : this.config.dlqWorkflowId,
            ...(options.route && { route: [...options.route] }),
            ...(options.resubmitElsewhere !== undefined && { resubmitElsewhere: options.resubmitElsewhere }),
          },
        ],
        staticSummary: describeTask(valid),
        ...(valid.sitekey && this.indexSitekeys && { typedSearchAttributes: [{ key: sitekeyAttribute, value: valid.sitekey }] }),
      });
    } catch (err) {
      throw asSolveError(err);
    }
  }

  /**
   * Starts a batch; validates the id and every task first. Starting the id of a running batch again returns it
   * (`existing: true`) instead of doing the work twice; the id of a batch that ended, or of a workflow of another type,
   * throws `WorkflowIdTakenError` (nothing started); a malformed or reserved id throws `InvalidIdError`.
   */
  async startBatch(
    options: StartBatchOptions,
  ): Promise<{ batchId: string; handle: WorkflowHandle<typeof captchaBatchWorkflow>; existing: boolean; total: number; balance?: BalanceCheck }> {
    const batchId =
      options.batchId !== undefined
        ? checkBatchId(options.batchId, this.config.dlqWorkflowId)
        : `batch-${new Date().toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
    const budgetMicros = options.budget === undefined ? undefined : budgetMicrosOf(options.budget);
    const { source, tasks } = await this.batchSource(options);
    const total = tasks.length;
    // with CAPTCHA_LOW_BALANCE set, the balance is read first: a near-empty account alerts before the batch spends it
    const balance = this.config.account.lowBalance !== undefined ? await this.balanceBeforeBatch() : undefined;
    const input: BatchInput = {
      batchId,
      source,
      concurrency: options.concurrency ?? this.config.batchConcurrency,
      policy: resolveSolvePolicy(this.config.solvePolicy, options.policy),
      dlqWorkflowId: this.config.dlqWorkflowId,
      ...(options.breakerThreshold !== undefined && { breakerThreshold: options.breakerThreshold }),
      ...(options.onAccountFailure && { onAccountFailure: options.onAccountFailure }),
      ...(options.route && { route: [...options.route] }),
      ...(options.resubmitElsewhere !== undefined && { resubmitElsewhere: options.resubmitElsewhere }),
      ...(!this.indexSitekeys && { indexSitekeys: false }),
      ...(budgetMicros !== undefined && { budgetMicros }),
      ...((budgetMicros !== undefined || this.config.account.dailyCapMicros !== undefined) && { prices: this.routePrices(options.route) }),
      ...(this.config.account.dailyCapMicros !== undefined && { dailyCap: this.dailyCapOf(options.route) }),
      ...options.tuning,
    };
    const startRequest = randomUUID();
    let handle: WorkflowHandle<typeof captchaBatchWorkflow>;
    try {
      handle = await this.client.workflow.start<typeof captchaBatchWorkflow>(WORKFLOW_TYPES.batch, {
        workflowId: batchId,
        taskQueue: this.config.temporal.taskQueue,
        args: [input],
        // a repeated start of a running batch returns it; a finished batch id is not reused
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: [{ key: batchIdAttribute, value: batchId }],
        memo: { startRequest },
        staticSummary: batchSummaryLine(tasks),
        staticDetails: batchDetails(input),
      });
    } catch (err) {
      // the id is held by a closed workflow (reuse is refused): say what holds it
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      throw await batchIdTaken(this.client.workflow.getHandle(batchId));
    }
    // USE_EXISTING hands back whatever runs under the id: attach only to a running batch
    const d = await handle.describe();
    if (d.type !== WORKFLOW_TYPES.batch) throw await batchIdTaken(handle);
    const checked = balance ? { balance } : {};
    if (d.memo?.startRequest === startRequest) return { batchId, handle, existing: false, total, ...checked };
    if (d.status.name !== 'RUNNING') throw await batchIdTaken(handle);
    return { batchId, handle, existing: true, total, ...checked };
  }

  /** A batch's daily cap: the configured cap, leased in chunks of CAPTCHA_DAILY_CAP_CHUNK_SUBMITS at the route's dearest price. */
  private dailyCapOf(route?: readonly string[]): NonNullable<BatchInput['dailyCap']> {
    const top = Math.max(1, ...Object.values(this.routePrices(route)));
    return { capMicros: this.config.account.dailyCapMicros!, chunkMicros: top * this.config.account.dailyCapChunkSubmits, accountWorkflowId: this.config.account.workflowId };
  }

  /** The balance check before a batch; undefined when no worker answers within 15 s (the batch starts anyway). */
  private async balanceBeforeBatch(): Promise<BalanceCheck | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 15_000)));
    try {
      return await Promise.race([this.account().checkBalance('batch start'), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reports whether a solved token worked on the target site (`bad` asks the provider for a refund). `ref` is a task key
   * (the solve `solve/<key>`), a solve's workflow id (`<batch>/<key>` for a batch's task) or the provider's task id;
   * a string is tried as a key or workflow id first. The report is sent once per token by the worker (the key stays
   * there); a second report is answered from the first one's record (`repeated: true`) and sends nothing. Throws
   * `TokenReportError` when it cannot be sent (the provider's report window has closed, the solve has no token).
   */
  async reportToken(ref: string | { taskKey: string; batchId?: string } | { providerTaskId: string }, verdict: TokenVerdict): Promise<TokenReportResult & { repeated: boolean }> {
    if (verdict !== 'good' && verdict !== 'bad') throw new TokenReportError(`the verdict must be "good" or "bad", not ${JSON.stringify(verdict)}`);
    const reportable = (kind: ProviderName, name: string): void => {
      if (!CAPABILITIES[kind].extraActions.some((action) => /^report|^feedback/.test(action))) {
        throw new TokenReportError(`${name} has no report endpoint (src/providers/capabilities.ts): its tokens cannot be reported or refunded`);
      }
    };
    if (this.config.providers.length <= 1) reportable(this.config.provider.name, this.config.provider.name);
    const input: TokenReportInput = await this.reportInput(ref, verdict);
    // several providers: the report goes to the one that solved the token (a bare provider task id: the first one)
    const solver = this.config.providers.find((p) => p.name === input.provider) ?? this.config.providers[0];
    if (solver) reportable(solver.provider, solver.name);
    const workflowId = tokenReportWorkflowId(solver?.name ?? this.config.provider.name, input.providerTaskId);
    const startRequest = randomUUID();
    let handle: WorkflowHandle<typeof tokenReportWorkflow>;
    let repeated = false;
    try {
      handle = await this.client.workflow.start<typeof tokenReportWorkflow>(WORKFLOW_TYPES.tokenReport, {
        workflowId,
        taskQueue: this.config.temporal.taskQueue,
        args: [input],
        // one report per token: a report that completed (sent or refused) is the record; a failed one may run again
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        memo: { startRequest },
        staticSummary: `report ${verdict}: provider task ${input.providerTaskId}`,
      });
      const d = await handle.describe();
      repeated = d.memo?.startRequest !== startRequest;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = this.client.workflow.getHandle<typeof tokenReportWorkflow>(workflowId);
      repeated = true;
    }
    let result: TokenReportResult;
    try {
      result = await handle.result();
    } catch (err) {
      if (err instanceof WorkflowFailedError) throw new TokenReportError(`the report of provider task ${input.providerTaskId} failed: ${err.cause?.message ?? err.message}`, { cause: err });
      throw err;
    }
    if (result.status === 'refused') throw new TokenReportError(`the report of provider task ${result.providerTaskId} was refused: ${result.reason}`);
    return { ...result, repeated };
  }

  /** The account: the balance and thread plan (read on the worker), the low-balance alert, token feedback counts. */
  account() {
    const workflowId = this.config.account.workflowId;
    const handle = () => this.client.workflow.getHandle<typeof captchaAccountWorkflow>(workflowId);
    // the account workflow, started if it is not running (an update needs a running workflow)
    const started = () =>
      this.client.workflow.start<typeof captchaAccountWorkflow>(WORKFLOW_TYPES.account, {
        workflowId,
        taskQueue: this.config.temporal.taskQueue,
        args: [{}],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        staticSummary: 'account: token feedback, balance alerts',
      });
    return {
      workflowId,
      /** Reads the balance on the worker; a balance below CAPTCHA_LOW_BALANCE raises one alert per crossing. */
      checkBalance: async (reason = 'client'): Promise<BalanceCheck> => {
        await started();
        return executeUpdateAcrossRuns(handle(), checkBalanceUpdate, { args: [{ reason }] });
      },
      /**
       * Sets the daily cap (USD) that batches lease from, replacing CAPTCHA_DAILY_CAP_USD's; batches it held are told to
       * ask again. A bad amount throws BudgetError, unsent.
       */
      setDailyCap: async (usd: string | number, by = 'client'): Promise<DailyCapView> => {
        const capMicros = budgetMicrosOf(usd);
        await started();
        return executeUpdateAcrossRuns(handle(), setDailyCapUpdate, { args: [{ capMicros, by }] });
      },
      /** The daily cap's day, cap, leases and reset time; null before any batch leased or a cap was set. */
      dailyCap: async (): Promise<DailyCapView | null> => {
        try {
          return await handle().query(dailyCapQuery);
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return null;
          throw err;
        }
      },
      /** Acceptance by provider, sitekey and type; undefined before the first report. */
      feedbackStats: async (top = 10): Promise<FeedbackStats | undefined> => {
        try {
          return await handle().query(feedbackStatsQuery, { top });
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return undefined;
          throw err;
        }
      },
    };
  }

  /** What a report needs: the provider task id, and from the solve (when named) its solve time, type and sitekey. */
  private async reportInput(ref: string | { taskKey: string; batchId?: string } | { providerTaskId: string }, verdict: TokenVerdict): Promise<TokenReportInput> {
    const base = { verdict, windowMs: this.config.account.reportWindowMs, accountWorkflowId: this.config.account.workflowId };
    const bare = (providerTaskId: string): TokenReportInput => {
      if (!/^[A-Za-z0-9_-]{1,100}$/.test(providerTaskId)) throw new TokenReportError(`${showId(providerTaskId)} is neither a solved task's key nor a provider task id`);
      return { ...base, providerTaskId };
    };
    if (typeof ref === 'object' && 'providerTaskId' in ref) return bare(ref.providerTaskId);
    const workflowId =
      typeof ref === 'object' ? (ref.batchId !== undefined ? `${ref.batchId}/${ref.taskKey}` : `${SOLVE_PREFIX}/${ref.taskKey}`) : ref.includes('/') ? ref : `${SOLVE_PREFIX}/${ref}`;
    const handle = this.client.workflow.getHandle<typeof solveCaptchaWorkflow>(workflowId);
    let d;
    try {
      d = await handle.describe();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      if (typeof ref === 'string') return bare(ref);
      throw new TokenReportError(`no solve ${showId(workflowId)}: check the task key (and the batch id of a batch's task)`);
    }
    if (d.type !== WORKFLOW_TYPES.solve) throw new TokenReportError(`${showId(workflowId)} is a ${d.type}, not a solve: give a task key or a provider task id`);
    if (d.status.name !== 'COMPLETED') throw new TokenReportError(`the solve ${showId(workflowId)} is ${d.status.name.toLowerCase()}: only a solved token can be reported`);
    const result = await handle.result();
    // the task (type, sitekey) from the solve's input, decoded as the client decodes payloads
    const history = await handle.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const [solveInput] = (await decodeArrayFromPayloads(this.client.options.loadedDataConverter, started?.input?.payloads)) as [{ task?: CaptchaTask } | undefined];
    const task = solveInput?.task;
    return {
      ...base,
      providerTaskId: result.providerTaskId,
      taskKey: result.taskKey,
      solvedAt: result.solvedAt,
      ...(result.provider !== undefined && { provider: result.provider }),
      ...(task && { captchaType: task.type }),
      ...(task?.sitekey !== undefined && { sitekey: task.sitekey }),
    };
  }

  batch(batchId: string) {
    const handle = this.client.workflow.getHandle<typeof captchaBatchWorkflow>(batchId);
    return {
      handle,
      progress: (): Promise<BatchProgress> => typeChecked(handle, WORKFLOW_TYPES.batch, 'a batch', () => handle.query(batchProgressQuery)),
      results: (cursor?: number, limit?: number): Promise<BatchResultsPage> =>
        typeChecked(handle, WORKFLOW_TYPES.batch, 'a batch', () => handle.query(batchResultsQuery, { cursor, limit })),
      result: (): Promise<BatchSummary> => handle.result(),
      /** closes an open circuit once the provider account is fixed; `budget` (USD) replaces the batch's budget */
      resume: async (reason?: string, options: { budget?: string | number } = {}): Promise<BatchProgress> => {
        const budgetMicros = options.budget === undefined ? undefined : budgetMicrosOf(options.budget);
        await expectType(handle, WORKFLOW_TYPES.batch, 'a batch');
        return executeUpdateAcrossRuns(handle, batchResumeUpdate, { args: [{ ...(reason && { reason }), ...(budgetMicros !== undefined && { budgetMicros }) }] });
      },
      cancel: async (): Promise<void> => {
        await expectType(handle, WORKFLOW_TYPES.batch, 'a batch');
        await handle.cancel();
      },
    };
  }

  /**
   * The DLQ's queries and validated updates. Queries and updates throw `WorkflowNotFoundError` when the DLQ was never
   * started (no failure recorded yet); updates rejected by the DLQ's validator throw `WorkflowUpdateFailedError`.
   */
  dlq() {
    const workflowId = this.config.dlqWorkflowId;
    const handle = this.client.workflow.getHandle(workflowId);
    // the update id dedupes a repeated order; a dry run must not swallow the real order that follows it
    const order = (request: { requestId?: string; dryRun?: boolean }) => ({
      args: [checkDlqRequest(request)] as never,
      ...(request.requestId && { updateId: request.dryRun ? `${request.requestId}:dry-run` : request.requestId }),
    });
    // queries to another type fail harmlessly: its type is asked only then; an order is sent only to a DLQ
    const asDlq = <T>(h: WorkflowHandle, fn: () => Promise<T>): Promise<T> => typeChecked(h, WORKFLOW_TYPES.dlq, 'the DLQ', fn);
    const ordered = async <T>(fn: () => Promise<T>): Promise<T> => {
      await expectType(handle, WORKFLOW_TYPES.dlq, 'the DLQ');
      return fn();
    };
    return {
      workflowId,
      handle,
      /** the exact stats: a query, answered by the worker (behind the DLQ's activations while reports pour in) */
      stats: (request: DlqStatsRequest = {}): Promise<DlqStats> => asDlq(handle, () => handle.query(dlqStatsQuery, request)),
      /**
       * The stats the DLQ last published in its memo, read from the server without waiting on the worker: as of
       * `asOf`, at most `statsPublishIntervalMs` (1 s) behind the front's counts while the DLQ runs (see
       * DlqStatsSnapshot); null when none is published yet (a run started before the memo existed publishes none).
       */
      statsSnapshot: (): Promise<DlqStatsSnapshot | null> => this.dlqSnapshot(handle),
      /**
       * The exact stats when the DLQ answers within `waitMs` (50 ms; at rest it takes ~15 ms), else the published
       * snapshot (`source` says which): fast during ingest, exact at rest. Without a snapshot it waits for the query.
       */
      statsFast: async (request: DlqStatsRequest = {}, { waitMs = 50 }: { waitMs?: number } = {}): Promise<(DlqStats & { source: 'query' }) | (DlqStatsSnapshot & { source: 'snapshot' })> => {
        const snapshot = this.dlqSnapshot(handle);
        snapshot.catch(() => undefined); // awaited below unless the query answers in time
        // a deadline, so that a busy DLQ's late answer does not linger in the client, and a timer: a busy DLQ answers
        // RESOURCE_EXHAUSTED at once, and the client's retry backs off a second or two before it looks at the deadline
        const query = this.client.withDeadline(Date.now() + waitMs, () => handle.query(dlqStatsQuery, request));
        const answer = await Promise.race([
          query.then((stats) => ({ stats }), (err: unknown) => ({ err })),
          new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), waitMs)),
        ]);
        if (answer === undefined) query.catch(() => undefined); // too late: it ends at its deadline, unread
        else if ('stats' in answer) return { ...answer.stats, source: 'query' };
        else if (!timedOut(answer.err)) return asDlq(handle, () => Promise.reject(answer.err)); // named as stats() names it
        const published = await snapshot.catch(() => null);
        if (!published) return { ...(await asDlq(handle, () => handle.query(dlqStatsQuery, request))), source: 'query' };
        const top = request.top ?? 10;
        return { ...published, bySitekey: published.bySitekey.slice(0, top), source: 'snapshot' };
      },
      /** one page, from the workflow that holds `request.cursor` (the front, or a shard for `"<shard>:<seq>"`) */
      list: (request: DlqListRequest = {}): Promise<DlqListPage> => {
        const h = this.client.workflow.getHandle(dlqWorkflowOfCursor(workflowId, request.cursor));
        return asDlq(h, () => h.query(dlqListQuery, request));
      },
      /** every page of a filter, in order, across shards (from `cursor`, a `nextCursor` of an earlier page) */
      pages: (filter: DlqFilter = {}, pageSize = 500, cursor?: string): AsyncGenerator<DlqListPage> => this.dlqPages(filter, pageSize, cursor),
      audit: (request: DlqAuditRequest = {}): Promise<DlqAuditRecord[]> => asDlq(handle, () => handle.query(dlqAuditQuery, request)),
      /**
       * A retry order, priced by the configured provider's prices (the result says what it costs, by class: expected at
       * one submit per entry and at worst, every resubmit paid); `budget` (USD) makes the DLQ's validator refuse it when
       * its worst case is over, so that it cannot spend more. A bad budget throws BudgetError, unsent.
       */
      retry: async (request: DlqRetryRequest, options: { budget?: string | number } = {}): Promise<DlqOperationResult> => {
        const budgetMicros = options.budget === undefined ? undefined : budgetMicrosOf(options.budget);
        const priced: DlqRetryRequest = {
          ...request,
          prices: request.prices ?? this.routePrices(request.route),
          ...(budgetMicros !== undefined && { budgetMicros }),
        };
        return await ordered(() => executeUpdateAcrossRuns(handle, dlqRetryUpdate, order(priced)));
      },
      discard: (request: DlqDiscardRequest): Promise<DlqOperationResult> => ordered(() => executeUpdateAcrossRuns(handle, dlqDiscardUpdate, order(request))),
      purge: (request: DlqDiscardRequest): Promise<DlqOperationResult> => ordered(() => executeUpdateAcrossRuns(handle, dlqPurgeUpdate, order(request))),
      /** forgets what shard `request.shard` last reported (a wrong or forged snapshot): its next snapshot counts again */
      resetShard: (request: DlqResetShardRequest): Promise<DlqResetShardResult> =>
        ordered(() => executeUpdateAcrossRuns(handle, dlqResetShardUpdate, { args: [checkDlqRequest(request)] })),
    };
  }

  /**
   * The DLQ's published stats: from visibility (a list by workflow id, which does not queue behind the signals that
   * hold the execution's lock; ~2× faster than describe() while reports pour in), else from describe() (visibility
   * lags a moment after a continue-as-new; describe() also names a missing DLQ or another type under its id).
   */
  private async dlqSnapshot(handle: WorkflowHandle): Promise<DlqStatsSnapshot | null> {
    const query = `WorkflowId = ${JSON.stringify(handle.workflowId)} AND ExecutionStatus = "Running"`;
    for await (const wf of this.client.workflow.list({ query, pageSize: 1 })) {
      const published = wf.type === WORKFLOW_TYPES.dlq ? publishedStats(wf.memo) : null;
      if (published) return published;
      break;
    }
    return publishedStats((await describeDlq(handle)).memo);
  }

  private async *dlqPages(filter: DlqFilter, pageSize: number, start?: string): AsyncGenerator<DlqListPage> {
    const front = this.config.dlqWorkflowId;
    let cursor = start;
    let from = dlqWorkflowOfCursor(front, cursor);
    let lastShard: number | undefined; // the highest shard that exists, asked once a shard turns out not to
    for (;;) {
      let page: DlqListPage;
      try {
        const h = this.client.workflow.getHandle(from);
        page = await typeChecked(h, WORKFLOW_TYPES.dlq, 'the DLQ', () => h.query(dlqListQuery, { ...filter, limit: pageSize, ...(cursor && { cursor }) }));
      } catch (err) {
        // a shard that never received an entry does not exist and holds nothing: go on with the next one, if any
        const shard = cursorShard(cursor);
        if (!(err instanceof WorkflowNotFoundError) || !shard) throw err;
        lastShard ??= Math.max(0, ...((await this.dlq().stats()).shards ?? []).map((s) => s.shard));
        if (shard >= lastShard) return;
        cursor = `${shard + 1}:0`;
        from = dlqShardWorkflowId(front, shard + 1);
        continue;
      }
      yield page;
      if (!page.nextCursor) return;
      cursor = page.nextCursor;
      if (page.nextWorkflowId) from = page.nextWorkflowId;
    }
  }

  /** Every entry of a filter, page by page (for exports). */
  async *dlqEntries(filter: DlqFilter = {}, pageSize = 500): AsyncGenerator<DlqEntry> {
    for await (const page of this.dlqPages(filter, pageSize)) yield* page.entries;
  }

  /**
   * A Temporal Schedule that periodically retries the retryable classes of the DLQ (overlap: skip). Throws
   * `ScheduleAlreadyRunning` when the id is taken.
   */
  async createDrainSchedule(options: DrainScheduleOptions): Promise<ScheduleHandle> {
    const scheduleId = options.scheduleId ?? DRAIN_SCHEDULE_ID;
    const every = formatInterval(options.everyMs);
    const budgetMicros = options.budget === undefined ? undefined : budgetMicrosOf(options.budget);
    const input: DrainInput = {
      dlqWorkflowId: this.config.dlqWorkflowId,
      classes: [...(options.classes ?? DRAIN_DEFAULT_CLASSES)],
      ...(options.errorCodes?.length && { errorCodes: options.errorCodes }),
      reason: options.reason ?? `scheduled drain (${scheduleId}, every ${every})`,
      by: `schedule:${scheduleId} (created by ${options.by})`,
      ...(budgetMicros !== undefined && { budgetMicros, prices: this.routePrices() }),
    };
    return this.client.schedule.create<typeof dlqDrainWorkflow>({
      scheduleId,
      spec: { intervals: [{ every: options.everyMs }] },
      action: {
        type: 'startWorkflow',
        workflowType: WORKFLOW_TYPES.drain,
        workflowId: scheduleId,
        taskQueue: this.config.temporal.taskQueue,
        args: [input],
        staticSummary:
          `drain ${this.config.dlqWorkflowId}: retry ${input.classes!.join(', ')}${input.errorCodes ? ` (${input.errorCodes.join(', ')})` : ''}` +
          (budgetMicros !== undefined ? `, at most ${formatUsd(budgetMicros)} a run` : ''),
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      state: { note: `retries the retryable DLQ entries every ${every}; created by ${options.by}` },
      memo: { drain: input, every, createdBy: options.by },
    });
  }

  /** Drain schedules known to the server (visibility: a schedule just created may take a moment to appear). */
  async listDrainSchedules(): Promise<DrainScheduleSummary[]> {
    const out: DrainScheduleSummary[] = [];
    for await (const s of this.client.schedule.list()) {
      if (s.action?.type !== 'startWorkflow' || s.action.workflowType !== WORKFLOW_TYPES.drain) continue;
      const memo = (s.memo ?? {}) as { drain?: DrainInput; every?: string; createdBy?: string };
      out.push({
        scheduleId: s.scheduleId,
        every: memo.every ?? s.spec?.intervals?.map((i) => formatInterval(Number(i.every))).join(',') ?? '?',
        classes: memo.drain?.classes ?? [],
        errorCodes: memo.drain?.errorCodes ?? [],
        createdBy: memo.createdBy ?? '',
        ...(memo.drain?.budgetMicros !== undefined && { budgetMicros: memo.drain.budgetMicros }),
        paused: s.state.paused,
        lastRunAt: s.info.recentActions.at(-1)?.takenAt ?? null,
        nextRunAt: s.info.nextActionTimes[0] ?? null,
      });
    }
    return out;
  }

  drainSchedule(scheduleId: string = DRAIN_SCHEDULE_ID): ScheduleHandle {
    return this.client.schedule.getHandle(scheduleId);
  }

  /** Throws `InvalidRouteError` (one sentence) unless every name is configured and the route solves every task's type. */
  checkRoute(route: unknown, tasks: readonly CaptchaTask[]): void {
    const configured = new Map(this.config.providers.map((p) => [p.name, p.provider]));
    const problem = routeProblem(route, tasks.map((t) => t.type), configured);
    if (problem) throw new InvalidRouteError(problem);
  }

  /**
   * Micro-USD per submit by type for work that may go to any provider of `route` (default: every configured one): the
   * dearest of them, so that a budget reserved by these prices is never passed whichever provider takes a task.
   */
  routePrices(route?: readonly string[]): Partial<Record<CaptchaType, number>> {
    const names = route ?? this.config.providers.map((p) => p.name);
    const kinds = new Set(this.config.providers.filter((p) => names.includes(p.name)).map((p) => p.provider));
    if (kinds.size === 0) kinds.add(this.config.provider.name);
    const prices: Partial<Record<CaptchaType, number>> = {};
    for (const kind of kinds) {
      for (const [type, micros] of Object.entries(this.config.prices[kind] ?? {}) as [CaptchaType, number][]) prices[type] = Math.max(prices[type] ?? 0, micros);
    }
    return prices;
  }

  /**
   * Refuses early what no provider will solve: a named route is checked against the configured providers; with several
   * providers, so is the default route (every one of them); a single provider by its capability table
   * (CAPTCHA_PROVIDER, which a deployment shares between clients and workers).
   */
  private checkSupports(route: unknown, tasks: readonly CaptchaTask[], options: { lines?: readonly (number | undefined)[]; where?: string } = {}): void {
    if (route !== undefined) this.checkRoute(route, tasks);
    else if (this.config.providers.length > 1) this.checkRoute(this.config.providers.map((p) => p.name), tasks);
    else checkProviderSupports(this.config.provider.name, tasks, options);
  }

  private async batchSource(options: StartBatchOptions): Promise<{ source: TaskSource; tasks: CaptchaTask[] }> {
    if (!!options.tasks === !!options.file) throw new Error('give either tasks or a file');
    if (options.file) {
      // workers read the file: its absolute path, and its hash so that a changed file is noticed
      const file = await readTaskFile(resolve(options.file), options.format);
      this.checkSupports(options.route, file.tasks, { lines: file.lines, where: 'task file' });
      return { source: { kind: 'file', path: file.path, format: file.format, sha256: file.sha256, total: file.tasks.length }, tasks: file.tasks };
    }
    const tasks = parseTasks(options.tasks!);
    if (tasks.length === 0) throw new Error('a batch needs at least one task');
    this.checkSupports(options.route, tasks);
    if (tasks.length > INLINE_BATCH_LIMIT) {
      throw new Error(`${tasks.length} tasks are too many to pass inline (limit ${INLINE_BATCH_LIMIT}): give them as a file`);
    }
    return { source: { kind: 'inline', tasks }, tasks };
  }
}


export type { CaptchaTask };

export * from './errors';
export * from './options';
export { checkDlqRequest } from './errors';
export { dlqWorkflowOfCursor, executeUpdateAcrossRuns, expectType, isNotFound } from './handles';
