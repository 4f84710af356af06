// Every error the client library throws of its own, each a class a caller can test for, with one sentence.
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { parseBudgetUsd } from '../domain/prices';
import type { FailureClass, SolveFailureDetails } from '../domain/types';
import { DLQ_REQUEST_CHARS_MAX } from '../../workflows/messages';

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

/** A route naming an unknown provider, or none that solves the tasks' type: refused before anything starts. */
export class InvalidRouteError extends Error {
  override readonly name = 'InvalidRouteError';
}

/** A budget that is not a non-negative amount of USD: thrown before anything starts. */
export class BudgetError extends Error {
  override name = 'BudgetError';
}

/** USD as given → micro-USD, or a BudgetError with one sentence. */
export function budgetMicrosOf(budget: string | number): number {
  const parsed = parseBudgetUsd(budget);
  if ('error' in parsed) throw new BudgetError(parsed.error);
  return parsed.micros;
}

/** A token report that cannot be sent: the report window has closed, the solve has no token, the reference is unknown. */
export class TokenReportError extends Error {
  override readonly name = 'TokenReportError';
}

/** Thrown before anything is sent: a DLQ request over DLQ_REQUEST_CHARS_MAX (the DLQ would refuse it anyway). */
export class DlqRequestTooLargeError extends Error {
  override readonly name = 'DlqRequestTooLargeError';
}

/** The request itself, when it is small enough to send to the DLQ. */
export function checkDlqRequest<T extends object>(request: T): T {
  const fields = Object.entries(request).map(([k, v]) => [k, JSON.stringify(v)?.length ?? 0] as const);
  const total = JSON.stringify(request).length;
  if (total <= DLQ_REQUEST_CHARS_MAX) return request;
  const [largest, size] = fields.reduce((a, b) => (b[1] > a[1] ? b : a));
  throw new DlqRequestTooLargeError(
    `the DLQ request is ${total.toLocaleString('en-US')} characters of JSON, at most ${DLQ_REQUEST_CHARS_MAX.toLocaleString('en-US')}: ` +
      `"${largest.slice(0, 40)}" holds ${size.toLocaleString('en-US')}; shorten it or split the order`,
  );
}

export function asSolveError(err: unknown): unknown {
  if (!(err instanceof WorkflowFailedError) || !(err.cause instanceof ApplicationFailure)) return err;
  const details = err.cause.details?.[0] as SolveFailureDetails | undefined;
  return new CaptchaSolveError((err.cause.type ?? 'internal') as FailureClass, details, err.cause.message, { cause: err });
}

export { InvalidIdError, WorkflowIdTakenError } from '../domain/ids';
