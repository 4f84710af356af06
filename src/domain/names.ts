// The product's names, each defined once: workflow types, ids, search attributes, entry statuses. Shared by the client,
// the CLI, activities, workflows and the local stack. Pure data: safe in the workflow sandbox.
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes';
import type { FailureClass } from './types';

/** Workflow type names, for callers that start or check workflows by name without importing workflow code. */
export const WORKFLOW_TYPES = {
  solve: 'solveCaptchaWorkflow',
  batch: 'captchaBatchWorkflow',
  dlq: 'deadLetterQueueWorkflow',
  drain: 'dlqDrainWorkflow',
  tokenReport: 'tokenReportWorkflow',
  account: 'captchaAccountWorkflow',
} as const;

/** A token report's workflow id: one per provider task, so that a second report is answered from the first. */
export function tokenReportWorkflowId(provider: string, providerTaskId: string): string {
  return `report/${provider}/${providerTaskId}`;
}

/** The DLQ's workflow id unless `DLQ_WORKFLOW_ID` says otherwise. */
export const DEFAULT_DLQ_WORKFLOW_ID = 'captcha-dlq';

/** The drain schedule's id unless another is given. */
export const DRAIN_SCHEDULE_ID = 'captcha-dlq-drain';

/** What a drain retries unless told otherwise: the classes a later attempt can fix. */
export const DRAIN_DEFAULT_CLASSES: readonly FailureClass[] = ['transient', 'resubmit', 'timeout'];

/** A DLQ entry is dead (waiting), retrying (a retry child is running) or parked (an operator set it aside). */
export const DLQ_ENTRY_STATUSES = ['dead', 'retrying', 'parked'] as const;
export type DlqEntryStatus = (typeof DLQ_ENTRY_STATUSES)[number];

// Typed search attributes: the Web UI's list filters on them ("all failed solves of batch X"). Registered by the local
// dev server and, on a real cluster, by `temporal operator search-attribute create` (docs/deployment.md).
export type SearchAttributeTypeName = 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';
export const SEARCH_ATTRIBUTES = Object.freeze({
  CaptchaBatchId: 'Keyword',
  CaptchaSitekey: 'Keyword',
  /** solved | dead-lettered | cancelled */
  CaptchaOutcome: 'Keyword',
  CaptchaErrorCode: 'Keyword',
  CaptchaFailureClass: 'Keyword',
} as const satisfies Record<string, SearchAttributeTypeName>);
type OurAttribute = keyof typeof SEARCH_ATTRIBUTES;

const keyword = (name: OurAttribute): SearchAttributeKey<'KEYWORD'> => ({ name, type: 'KEYWORD' });
export const batchIdAttribute = keyword('CaptchaBatchId');
export const sitekeyAttribute = keyword('CaptchaSitekey');
export const outcomeAttribute = keyword('CaptchaOutcome');
export const errorCodeAttribute = keyword('CaptchaErrorCode');
export const failureClassAttribute = keyword('CaptchaFailureClass');
