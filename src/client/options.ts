// What a caller of the client library can ask for: solves, batches, drain schedules.
import type { FailureClass, SolvePolicyOverrides } from '../domain/types';
import type { BatchInput } from '../../workflows/messages';

export interface SolveOptions {
  workflowId?: string;
  policy?: SolvePolicyOverrides;
  /** record a final failure in the DLQ (default true) */
  deadLetter?: boolean;
  /** provider names in order of preference (CAPTCHA_PROVIDERS' names); absent: the worker's default route */
  route?: string[];
  /** a resubmit after an unsolvable answer tries another provider of the route first (default true) */
  resubmitElsewhere?: boolean;
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
  /** circuit breaker: account-class failures before the batch stops submitting, and what it does with the rest */
  breakerThreshold?: number;
  onAccountFailure?: BatchInput['onAccountFailure'];
  /** provider names in order of preference for every task; absent: the worker's default route */
  route?: string[];
  /** a resubmit after an unsolvable answer tries another provider of the route first (default true) */
  resubmitElsewhere?: boolean;
  /** money limit in USD ("5.00"): the batch pauses before a submit would pass it; refused unless a non-negative amount */
  budget?: string | number;
}

export interface DrainScheduleOptions {
  /** the interval, in milliseconds (≥ 1 s) */
  everyMs: number;
  scheduleId?: string;
  /** default: the retryable classes (transient, resubmit, timeout) */
  classes?: FailureClass[];
  errorCodes?: string[];
  /** who created it: goes into the DLQ's audit as `schedule:<id> (created by <by>)` */
  by: string;
  reason?: string;
  /**
   * the most one run may spend on retries, in USD ("2.50"): a run retries the entries whose last failure is oldest
   * while their worst case (1 + maxResubmits submits each) fits, and leaves the rest for a later run. A bad amount
   * throws BudgetError before anything is created.
   */
  budget?: string | number;
}

export interface DrainScheduleSummary {
  scheduleId: string;
  every: string;
  classes: FailureClass[];
  errorCodes: string[];
  createdBy: string;
  /** micro-USD per run (absent: no budget) */
  budgetMicros?: number;
  paused: boolean;
  lastRunAt: Date | null;
  nextRunAt: Date | null;
}
