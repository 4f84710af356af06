// The Temporal ceiling: the same shape as a batch (a sliding window of children, two activities per child) with
// nothing else: no provider, no signals, no search attributes. Bundled on its own (bench/stack.ts).
import { proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { TrivialActivities } from './trivial-activities';

const { noopSubmit, noopPoll } = proxyActivities<TrivialActivities>({ startToCloseTimeout: '30 seconds' });

export interface TrivialBatchInput {
  children: number;
  concurrency: number;
}

/** Starts `children` children, at most `concurrency` at a time, and waits for every one. */
export async function trivialBatchWorkflow({ children, concurrency }: TrivialBatchInput): Promise<number> {
  const parent = workflowInfo().workflowId;
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < children) {
      const child = await startChild(trivialSolveWorkflow, { workflowId: `${parent}/${next++}` });
      await child.result();
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, children) }, lane));
  return done;
}

/** One "solve": two activities that do nothing. */
export async function trivialSolveWorkflow(): Promise<void> {
  await noopSubmit();
  await noopPoll();
}
