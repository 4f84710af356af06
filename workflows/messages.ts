// Every signal, query and update of the product, defined once. Client, CLI, activities and workflows import these very
// objects, so a name can never drift between sender and receiver. Workflow-safe: only @temporalio/workflow and types.
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CaptchaTask, DeadLetterReport, FailureClass, SolveFailureDetails, SolvePolicyOverrides, SolveResult } from './types';

// ---------------------------------------------------------------------------------------------------------------------
// Typed search attributes: the Web UI's list filters on them ("all failed solves of batch X"). Registered by the local
// dev server (src/temporal-server.ts) and, on a real cluster, by `temporal operator search-attribute create`.
const keyword = (name: string): SearchAttributeKey<'KEYWORD'> => ({ name, type: 'KEYWORD' });
export const batchIdAttribute = keyword('CaptchaBatchId');
export const sitekeyAttribute = keyword('CaptchaSitekey');
/** solved | dead-lettered | cancelled */
export const outcomeAttribute = keyword('CaptchaOutcome');
export const errorCodeAttribute = keyword('CaptchaErrorCode');
export const failureClassAttribute = keyword('CaptchaFailureClass');

// Workflow type names, for callers that start workflows by name (activities, CLI) without importing workflow code.
export const WORKFLOW_TYPES = {
  solve: 'solveCaptchaWorkflow',
  batch: 'captchaBatchWorkflow',
  dlq: 'deadLetterQueueWorkflow',
} as const;

// ---------------------------------------------------------------------------------------------------------------------
// Solve child → its parent (a batch, or the DLQ for retries). Sent by signal so that the parent may continue-as-new
// while children are in flight: the signal reaches whichever run is current.
export type SolveOutcome =
  | { taskKey: string; outcome: 'solved'; result: SolveResult; retry?: RetryRef }
  | { taskKey: string; outcome: 'failed'; failure: SolveFailureDetails; deadLettered: boolean; retry?: RetryRef }
  | { taskKey: string; outcome: 'cancelled'; retry?: RetryRef };
export interface RetryRef {
  entryId: string;
  generation: number;
}
export const solveOutcomeSignal = defineSignal<[SolveOutcome]>('solveOutcome');

// ---------------------------------------------------------------------------------------------------------------------
// Batch
/**
 * Where a batch's tasks come from. Small batches travel inline; large ones stay in a file that an activity reads page
 * by page, so no workflow input or continue-as-new state ever holds the whole list.
 */
export type TaskSource =
  | { kind: 'inline'; tasks: (CaptchaTask & { key: string })[] }
  | { kind: 'file'; path: string; format: 'json' | 'ndjson' | 'csv'; sha256: string; total: number };

export interface BatchInput {
  batchId: string;
  source: TaskSource;
  /** children in flight at most (the provider's thread plan); default 50 */
  concurrency?: number;
  policy?: SolvePolicyOverrides;
  /** default 'captcha-dlq' */
  dlqWorkflowId?: string;
  /** task queue of the children; default the batch's own */
  taskQueue?: string;
  /** tasks read from a file source per activity call; default 500 */
  pageSize?: number;
  /** continue-as-new after this many history events (or when the server suggests it); default 8,000 */
  maxHistoryEvents?: number;
  /** continue-as-new after starting this many children in one run; default 1,000 */
  maxChildrenPerRun?: number;
  /** solved results kept for the `results` query (tokens expire ~120 s after solving); default 200 and 180 s */
  resultsKept?: number;
  resultsMaxAgeMs?: number;
  /** carried across continue-as-new */
  state?: BatchState;
}

/** Plain JSON; bounded by the window, the page size and `resultsKept`. */
export interface BatchState {
  startedAt: string;
  run: number;
  /** next source position to read */
  cursor: number;
  sourceDone: boolean;
  /** read from the source but not started yet */
  pending: (CaptchaTask & { key: string })[];
  inFlight: Record<string, true>;
  started: number;
  solved: number;
  deadLettered: number;
  cancelled: number;
  errors: Record<string, number>;
  results: (SolveResult & { seq: number })[];
  nextSeq: number;
}

export interface BatchSummary {
  batchId: string;
  status: 'completed' | 'cancelled';
  total: number;
  solved: number;
  deadLettered: number;
  cancelled: number;
  /** of the cancelled: tasks that never started */
  notStarted: number;
  elapsedMs: number;
  runs: number;
  topErrors: { code: string; count: number }[];
}

export interface BatchProgress {
  batchId: string;
  status: 'running' | 'cancelling' | 'completed' | 'cancelled';
  /** null until the whole source has been read */
  total: number | null;
  started: number;
  solved: number;
  deadLettered: number;
  cancelled: number;
  inFlight: number;
  startedAt: string;
  elapsedMs: number;
  /** run number of this batch (1 + continue-as-new count) */
  run: number;
  topErrors: { code: string; count: number }[];
}
export interface BatchResultsRequest {
  /** sequence number of the last result already seen (0 or absent: from the oldest kept) */
  cursor?: number;
  limit?: number;
}
export interface BatchResultsPage {
  results: (SolveResult & { seq: number })[];
  /** pass back as `cursor` to get what was solved since */
  nextCursor: number;
  /** results older than this sequence were dropped from the batch (tokens expire after ~120 s) */
  oldestKept: number;
}
export const batchProgressQuery = defineQuery<BatchProgress>('progress');
export const batchResultsQuery = defineQuery<BatchResultsPage, [BatchResultsRequest?]>('results');

// ---------------------------------------------------------------------------------------------------------------------
// Dead-letter queue
export type DlqEntryStatus = 'dead' | 'retrying' | 'parked';

export interface DlqEntry {
  id: string;
  task: CaptchaTask;
  taskKey: string;
  batchId?: string;
  provider: string;
  failureClass: FailureClass;
  code: string;
  message: string;
  /** all submit attempts, across the original solve and every DLQ retry */
  attempts: number;
  paidSubmits: number;
  firstFailedAt: string;
  lastFailedAt: string;
  /** the most recent attempts only (bounded) */
  history: DeadLetterReport['history'];
  dlqRetries: number;
  status: DlqEntryStatus;
}

/** Selects entries. Every field narrows; an empty filter selects everything. */
export interface DlqFilter {
  ids?: string[];
  codes?: string[];
  classes?: FailureClass[];
  sitekeys?: string[];
  batchIds?: string[];
  statuses?: DlqEntryStatus[];
  /** ISO time; entries whose last failure is at or after */
  since?: string;
  /** ISO time; entries whose last failure is before */
  until?: string;
}
export interface DlqListRequest {
  filter?: DlqFilter;
  cursor?: string;
  /** ≤ 500, default 100 */
  limit?: number;
}
export interface DlqListPage {
  entries: DlqEntry[];
  /** absent on the last page */
  nextCursor?: string;
  total: number;
}

export interface DlqStats {
  total: number;
  byStatus: Record<DlqEntryStatus, number>;
  byCode: Record<string, number>;
  byClass: Record<string, number>;
  /** top sitekeys by entry count */
  bySitekey: { sitekey: string; count: number }[];
  /** '00'..'23': UTC hour of the last failure */
  byHour: Record<string, number>;
  byBatch: Record<string, number>;
  oldestFailedAt: string | null;
  oldestEntryAgeMs: number | null;
  recovered: number;
  discarded: number;
  /** entries parked after reaching the retry cap (currently held) */
  parked: number;
  paidSubmitsOnDead: number;
  retriesInFlight: number;
  alerts: DlqAlert[];
  asOf: string;
}
export interface DlqStatsRequest {
  /** how many sitekeys to list (default 10) */
  top?: number;
}

export interface DlqAlert {
  kind: 'depth' | 'oldest-age';
  threshold: number;
  value: number;
  raisedAt: string;
}

/** Operator orders. `by` and `reason` go into the audit log; `requestId` makes a repeated order a no-op. */
export interface DlqRetryRequest {
  filter?: DlqFilter;
  /** required to act on an empty filter: retry everything retryable */
  all?: boolean;
  reason?: string;
  by?: string;
  requestId?: string;
}
export interface DlqDiscardRequest {
  filter?: DlqFilter;
  all?: boolean;
  reason: string;
  by?: string;
  requestId?: string;
  dryRun?: boolean;
}
export interface DlqOperationResult {
  operation: 'retry' | 'discard' | 'purge';
  requestId: string;
  dryRun: boolean;
  /** entries the order applies to */
  matched: number;
  /** ids of up to 20 of them */
  sample: string[];
  /** matched but not eligible (parked or account-class on a bulk retry, or already retrying) */
  skipped: number;
}

export interface DlqAuditRecord {
  operation: 'retry' | 'discard' | 'purge';
  requestId: string;
  by: string;
  reason: string;
  at: string;
  matched: number;
  filter: DlqFilter;
}
export interface DlqAuditRequest {
  limit?: number;
}

export const deadLetterSignal = defineSignal<[DeadLetterReport]>('deadLetter');
export const dlqStatsQuery = defineQuery<DlqStats, [DlqStatsRequest?]>('stats');
export const dlqListQuery = defineQuery<DlqListPage, [DlqListRequest?]>('list');
export const dlqAuditQuery = defineQuery<DlqAuditRecord[], [DlqAuditRequest?]>('audit');
export const dlqRetrySignal = defineSignal<[DlqRetryRequest]>('retry');
export const dlqDiscardSignal = defineSignal<[DlqDiscardRequest]>('discard');
export const dlqRetryUpdate = defineUpdate<DlqOperationResult, [DlqRetryRequest]>('retryEntries');
export const dlqDiscardUpdate = defineUpdate<DlqOperationResult, [DlqDiscardRequest]>('discardEntries');
export const dlqPurgeUpdate = defineUpdate<DlqOperationResult, [DlqDiscardRequest]>('purgeEntries');
