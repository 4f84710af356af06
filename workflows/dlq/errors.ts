// The one failure the DLQ's handlers throw: a request that is not valid, with the sentence that says why.
import { ApplicationFailure } from '@temporalio/workflow';

export function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'InvalidDlqRequest', message, nonRetryable: true });
}
