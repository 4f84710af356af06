// One captcha, solved durably: submit → poll, a new submit after a resubmit-class answer (bounded), and a typed final
// failure that is recorded in the DLQ before the workflow fails.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { reportBySignalSignal, solveOutcomeSignal, type SolveOutcome } from './messages';
import { errorCodeAttribute, failureClassAttribute, outcomeAttribute } from '../src/domain/names';
import { REPORT_ACTIVITY_OPTIONS, SUBMIT_DEFERRED, callbackWaitMs, localSubmitActivityOptions, pollActivityOptions, resolveSolvePolicy, submitActivityOptions } from '../src/domain/policies';
import { ATTEMPT_HISTORY_LIMIT, SWITCH_LIMIT, knownClass } from '../src/domain/types';
import type {
  AttemptRecord,
  DeadLetterReport,
  FailureClass,
  ProviderFailureDetails,
  ProviderSwitch,
  SolveFailureDetails,
  SolveInput,
  SolveResult,
} from '../src/domain/types';
import { nowIso, workflowNow } from './clock';

/** `patched` id of the first submit as a local activity (policy.submit.local, on by default). */
const LOCAL_SUBMIT_PATCH = 'solve-local-submit';
/** History events before a solve's first workflow task runs (started, task scheduled, task started): more, and a try of it failed. */
const FIRST_TASK_HISTORY_LENGTH = 3;

export async function solveCaptchaWorkflow(input: SolveInput): Promise<SolveResult> {
  const policy = resolveSolvePolicy(input.policy);
  const where = input.task.type === 'image' ? 'image' : `${input.task.sitekey} on ${input.task.pageUrl}`;
  // No patch gates the submit's heartbeat, the poll's task type or the provider routes (route, avoid, the poll's
  // provider, provider and switches in results): replay matches an activity's type and id, not its options or input
  // (test/replay.test.ts replays solves recorded before them), none adds a command, and a patch marker would cost every
  // solve one more history event.
  // The first submit as a local activity: the worker running this workflow task runs it at once and its result comes
  // back in the same task, so a solve takes two workflow tasks and one activity task (with a regular submit, three and
  // two). When the client's submit rate limit would make it wait, it sends nothing and a regular activity submits. A resubmit (rare: after an unsolvable answer) is a regular activity, whose heartbeat tells a retry whether the
  // attempt before it may have paid; a first submit learns that from its workflow task (activities/solve.ts). Solves
  // begun before this (no marker) replay their regular submits.
  const localSubmit = policy.submit.local !== false && patched(LOCAL_SUBMIT_PATCH);
  const { submitCaptcha: submitLocally } = proxyLocalActivities<Activities>({ ...localSubmitActivityOptions(policy), summary: `submit ${where}` });
  const { submitCaptcha } = proxyActivities<Activities>({ ...submitActivityOptions(policy), summary: `submit ${where}` });
  /** A local first submit says when its workflow task began, and whether an earlier try of that task failed. */
  const localContext = () => ({ scheduledAt: workflowNow(), ...(workflowInfo().historyLength > FIRST_TASK_HISTORY_LENGTH && { taskRepeated: true as const }) });
  const { pollCaptcha } = proxyActivities<Activities>({ ...pollActivityOptions(policy), summary: `poll ${where}` });
  // several providers: the submit names the route, the poll goes to the provider that took the task, a resubmit after
  // an unsolvable answer tries another provider first, and the result names the provider and every switch
  let provider: string | undefined;
  const switches: ProviderSwitch[] = [];
  const noteSwitch = (s: ProviderSwitch): void => {
    if (switches.length < SWITCH_LIMIT) switches.push(s);
    log.info('provider switch', { taskKey: input.taskKey, ...s });
  };

  // a parent that reads our completion event needs no signal, until it hands us over to its next run
  let signalParent = !input.parentAwaitsCompletion;
  setHandler(reportBySignalSignal, () => {
    signalParent = true;
  });
  /** Whether the parent waits for a signal from us: callers skip the call otherwise (a promise costs a stack trace). */
  const parentListens = (): boolean => input.parentWorkflowId !== undefined && signalParent;
  const notifyParent = async (outcome: SolveOutcome): Promise<void> => {
    if (!input.parentWorkflowId || !signalParent) return;
    try {
      await getExternalWorkflowHandle(input.parentWorkflowId).signal(solveOutcomeSignal, outcome);
    } catch (err) {
      // a parent that is gone is no reason to fail the solve
      log.warn('could not notify the parent workflow', { parent: input.parentWorkflowId, error: String(err) });
    }
  };

  const startedAt = workflowNow();
  let attempts = 0;
  let paidSubmits = 0;
  let possibleDuplicateSubmits = 0;
  // what the paid submits cost, as their activities priced them; absent from results when no submit said (old workers)
  let spentMicros: number | undefined;
  const spent = () => (spentMicros !== undefined ? { spentMicros } : {});
  const duplicates = () => (possibleDuplicateSubmits > 0 ? { possibleDuplicateSubmits } : {});
  const providerTaskIds: string[] = [];
  const history: AttemptRecord[] = [];
  let last: { failureClass: FailureClass; code: string; message: string } | undefined;

  try {
    for (let round = 1; round <= 1 + policy.maxResubmits; round++) {
      let providerTaskId: string | undefined;
      try {
        const avoid = provider !== undefined && input.resubmitElsewhere !== false ? [provider] : undefined;
        const submitInput = { task: input.task, taskKey: input.taskKey, ...(input.route && { route: input.route }), ...(avoid && { avoid }) };
        // a local submit only when the client's rate limit lets it go at once; else a regular activity, which waits
        let submittedLocally: Awaited<ReturnType<typeof submitCaptcha>> | undefined;
        if (localSubmit && round === 1) {
          try {
            submittedLocally = await submitLocally({ ...submitInput, ...localContext(), immediate: true });
          } catch (err) {
            unlessDeferred(err);
          }
        }
        const submitted = submittedLocally ?? (await submitCaptcha(submitInput));
        if (submitted.provider !== undefined) {
          const at = nowIso();
          const first = submitted.skipped?.[0];
          if (first) noteSwitch({ round, from: first.provider, to: submitted.provider, reason: first.reason, at });
          else if (provider !== undefined && provider !== submitted.provider) noteSwitch({ round, from: provider, to: submitted.provider, reason: last?.code ?? 'resubmit', at });
          provider = submitted.provider;
        }
        attempts += submitted.attempt;
        paidSubmits++;
        if (submitted.costMicros !== undefined) spentMicros = (spentMicros ?? 0) + submitted.costMicros;
        possibleDuplicateSubmits += submitted.possibleDuplicates ?? 0;
        providerTaskId = submitted.providerTaskId;
        providerTaskIds.push(providerTaskId);
        // callback mode: the poll activity waits for the provider's push (the receiver completes it) up to the type's
        // expected solve time + grace, then polls
        const callbackWait = submitted.callback ? { callbackWaitMs: Math.min(callbackWaitMs(policy, input.task.type), policy.poll.deadlineMs) } : {};
        const polled = await pollCaptcha({
          providerTaskId,
          // the provider that took the task (absent from a submit by a worker before routes: its first provider)
          ...(submitted.provider !== undefined && { provider: submitted.provider }),
          submittedAt: submitted.submittedAt,
          policy: policy.poll,
          // the poll times its first poll to the captcha type (and the solve times its worker observed)
          taskType: input.task.type,
          ...callbackWait,
        });
        const result: SolveResult = {
          taskKey: input.taskKey,
          token: polled.token,
          providerTaskId,
          attempts,
          paidSubmits,
          ...duplicates(),
          ...spent(),
          elapsedMs: workflowNow() - startedAt,
          solvedAt: polled.solvedAt,
          ...(provider !== undefined && { provider }),
          ...(switches.length > 0 && { switches }),
        };
        upsertSearchAttributes([{ key: outcomeAttribute, value: 'solved' }]);
        if (parentListens()) await notifyParent({ taskKey: input.taskKey, outcome: 'solved', result, ...retryRef(input) });
        return result;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const failure = describeFailure(err, policy.submit.maxAttempts);
        if (providerTaskId === undefined) attempts += failure.attempt; // a failed submit's tries; polls add none
        last = failure;
        history.push({
          round,
          ...(providerTaskId !== undefined && { providerTaskId }),
          ...(providerTaskId !== undefined && provider !== undefined && { provider }),
          failureClass: failure.failureClass,
          code: failure.code,
          message: failure.message,
          at: nowIso(),
        });
        if (failure.failureClass !== 'resubmit') break;
        log.info('resubmitting', { taskKey: input.taskKey, round, code: failure.code });
      }
    }
  } catch (err) {
    if (isCancellation(err)) {
      upsertSearchAttributes([{ key: outcomeAttribute, value: 'cancelled' }]);
      await CancellationScope.nonCancellable(() =>
        notifyParent({ taskKey: input.taskKey, outcome: 'cancelled', ...retryRef(input) }),
      );
    }
    throw err;
  }

  // every round failed: record it, tell the parent, fail with the class as the type
  const final = last ?? { failureClass: 'internal' as const, code: 'UNKNOWN', message: 'no attempt was made' };
  const details: SolveFailureDetails = {
    taskKey: input.taskKey,
    ...duplicates(),
    ...final,
    attempts,
    paidSubmits,
    ...spent(),
    providerTaskIds,
    history: history.slice(-ATTEMPT_HISTORY_LIMIT),
    ...(provider !== undefined && { provider }),
  };
  const dlqWorkflowId = input.dlqWorkflowId;
  if (dlqWorkflowId) {
    const report: Omit<DeadLetterReport, 'provider'> & { provider?: string } = {
      entryId: workflowInfo().workflowId,
      task: input.task,
      taskKey: input.taskKey,
      ...(input.batchId !== undefined && { batchId: input.batchId }),
      failureClass: final.failureClass,
      code: final.code,
      message: final.message,
      attempts,
      paidSubmits,
      ...spent(),
      providerTaskIds,
      history: details.history,
      failedAt: nowIso(),
      ...(provider !== undefined && { provider }),
    };
    const { reportDeadLetter } = proxyActivities<Activities>({ ...REPORT_ACTIVITY_OPTIONS, summary: 'record in the DLQ' });
    await reportDeadLetter({ dlqWorkflowId, report });
    details.dlqEntryId = report.entryId;
  }
  upsertSearchAttributes([
    { key: outcomeAttribute, value: dlqWorkflowId ? 'dead-lettered' : 'failed' },
    { key: errorCodeAttribute, value: final.code },
    { key: failureClassAttribute, value: final.failureClass },
  ]);
  if (parentListens()) await notifyParent({
    taskKey: input.taskKey,
    outcome: 'failed',
    failure: details,
    deadLettered: !!dlqWorkflowId,
    ...retryRef(input),
  });
  throw ApplicationFailure.create({
    type: final.failureClass,
    message: `${final.code}: ${final.message} (attempts: ${attempts}, paid submits: ${paidSubmits})`,
    details: [details],
    nonRetryable: true,
  });
}

/** A local submit that would have waited for the client's rate limit (nothing sent): undefined; anything else throws. */
function unlessDeferred(err: unknown): undefined {
  // as for any activity failure, the application failure may come wrapped or not (describeFailure)
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type === SUBMIT_DEFERRED) return undefined;
  throw err;
}

function retryRef(input: SolveInput) {
  return input.retry ? { retry: input.retry } : {};
}

/** Reads the class, code and attempt out of an activity failure. */
function describeFailure(
  err: unknown,
  maxAttempts: number,
): { failureClass: FailureClass; code: string; message: string; attempt: number } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const d = cause.details?.[0] as Partial<ProviderFailureDetails> | undefined;
    const failureClass = (d?.failureClass ?? (cause.type as FailureClass | undefined) ?? 'internal') as FailureClass;
    const code = d?.code ?? cause.type ?? 'UNKNOWN';
    // a retryable failure reaching the workflow means the retry policy's attempts ran out
    const attempt = d?.attempt ?? maxAttempts;
    return { failureClass: knownClass(failureClass), code, message: cause.message, attempt };
  }
  if (cause instanceof TimeoutFailure) {
    return { failureClass: 'transient', code: `ACTIVITY_${cause.timeoutType ?? 'TIMEOUT'}`, message: cause.message, attempt: maxAttempts };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { failureClass: 'internal', code: 'UNKNOWN', message, attempt: 1 };
}
