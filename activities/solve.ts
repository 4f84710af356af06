// The solve's provider-facing activities: submit (pays for one provider task) and poll (waits for its answer). Built
// from the provider client alone: the worker holds the API key inside it; it is never an activity argument.
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { ProviderError, ProviderTransientError, SubmitWouldWaitError } from '../src/providers/errors';
import { LOCAL_SUBMIT_RESTART_MS, SUBMIT_DEFERRED, advisedFirstPollDelayMs } from '../src/domain/policies';
import { LocalSubmitRecords, type SubmitHeartbeat } from './local-submits';
import { SolveTimeEstimator, firstPollDelayMs } from '../src/providers/solve-times';
import type { CaptchaProvider } from '../src/providers/types';
import { ProviderRouter, type ProviderSkip } from '../src/providers/routes';
import type { CaptchaTask, CaptchaType, ProviderFailureDetails, SolvePolicy } from '../src/domain/types';
import type { CallbackInbox } from '../src/callbacks/inbox';
import { emitterOf, type ActivityEvents } from './events';
import { DEFAULT_PRICES, submitCostMicros, type PriceTable } from '../src/domain/prices';

export interface SolveActivityDeps {
  provider: CaptchaProvider;
  /** several providers with their health (CAPTCHA_PROVIDERS); default: `provider` as a one-provider route */
  router?: ProviderRouter;
  /** metrics hooks (src/metrics.ts) */
  events?: ActivityEvents;
  /** the worker's observed solve times, which time first polls (default: one of its own) */
  solveTimes?: SolveTimeEstimator;
  /** callback mode: the signed per-task URL the provider pushes to (src/callbacks); absent: polling only */
  callbackUrlFor?: (workflowId: string) => string | undefined;
  /** callback mode: where this worker's receiver hands pushes to the polls running here (src/callbacks/inbox.ts) */
  inbox?: CallbackInbox;
  /** what a paid submit costs (config.prices); default the public price lists */
  prices?: PriceTable;
}

export type { SubmitHeartbeat } from './local-submits';

export interface SubmitInput {
  task: CaptchaTask;
  taskKey: string;
  /** provider names in order of preference (never keys); absent: the worker's default route */
  route?: string[];
  /** providers to try last (a resubmit after an unsolvable answer prefers another solver pool) */
  avoid?: string[];
  /**
   * A local submit: when its workflow task began (workflow time, ms). An attempt that starts much later than this runs
   * on another worker after the first one died, and may repeat a paid submit.
   */
  scheduledAt?: number;
  /** A local submit: an earlier try of its workflow task failed (on a worker that died, say), and may have paid it. */
  taskRepeated?: true;
  /** A local submit: only if the client's rate limit lets it go at once; else a `SUBMIT_DEFERRED` failure, nothing sent. */
  immediate?: true;
}
export interface Submitted {
  providerTaskId: string;
  submittedAt: string;
  /** the activity attempt that succeeded (1 = first try) */
  attempt: number;
  /** earlier attempts that sent a submit whose outcome is unknown: each may have been paid (absent: none) */
  possibleDuplicates?: number;
  /** the provider that took the task (its route name); polls go there. Absent from workers before routes */
  provider?: string;
  /** providers passed over or refusing before it (circuit open, no slot, dry account) */
  skipped?: ProviderSkip[];
  /** the provider was asked to push the result to our callback receiver (absent: poll only) */
  callback?: true;
  /** what this paid submit cost, micro-USD, by the worker's price table (absent: a worker before prices) */
  costMicros?: number;
}

export interface PollInput {
  providerTaskId: string;
  /** the provider that took the task (Submitted.provider); absent: the worker's first provider */
  provider?: string;
  submittedAt: string;
  policy: SolvePolicy['poll'];
  /** times the first poll (absent in histories before the `poll-first-delay-by-type` patch: `policy.firstDelayMs`) */
  taskType?: CaptchaType;
  /**
   * Callback mode: the provider pushes the result, and our receiver completes this activity by its id
   * (src/callbacks/receiver.ts). The first poll waits this long after the submit; a lost push costs that, not the task.
   */
  callbackWaitMs?: number;
}
export interface Polled {
  token: string;
  polls: number;
  solvedAt: string;
}
/** What a poll attempt leaves behind so that the next attempt resumes the same provider task. */
export interface PollHeartbeat {
  providerTaskId: string;
  polls: number;
}

/** Deadline code of a provider task that never became ready. */
export const POLL_DEADLINE_CODE = 'POLL_DEADLINE';

export function createSolveActivities({
  provider,
  router = ProviderRouter.of(provider),
  events,
  solveTimes = new SolveTimeEstimator(),
  callbackUrlFor,
  inbox,
  prices = DEFAULT_PRICES,
}: SolveActivityDeps) {
  const emit = emitterOf(events);
  const localRecords = new LocalSubmitRecords();
  const failed = (stage: 'submit' | 'poll', failure: unknown, name = router.defaultRoute[0]!): void => {
    const details = failure instanceof ApplicationFailure ? (failure.details?.[0] as ProviderFailureDetails | undefined) : undefined;
    emit('failed', { provider: name, stage, failureClass: details?.failureClass ?? 'internal', code: details?.code ?? 'UNKNOWN' });
  };
  return {
    /**
     * Pays for one provider task. Failures are typed by class; the retry policy decides what a retry may fix. A
     * retried attempt counts a possible duplicate for every earlier attempt that may have been paid: one that left no
     * record (the worker died, or the exchange broke after sending) or whose last record says its request was out.
     * An attempt that ends answered (or provably unsent) records so as it fails. No heartbeat before the request: that
     * was one more server write per paid submit; the heartbeats while the request is out keep a dead worker noticed.
     */
    async submitCaptcha({ task, route, avoid, scheduledAt, taskRepeated, immediate }: SubmitInput): Promise<Submitted> {
      const ctx = Context.current();
      const { info, cancellationSignal } = ctx;
      const attempt = info.attempt;
      // a local submit keeps its record in this worker (written before the request: it costs nothing there), a
      // regular one on the server as heartbeat details (none before the request: each is a server write)
      const localKey = info.isLocal ? LocalSubmitRecords.keyOf(info) : undefined;
      const previous = localKey !== undefined ? localRecords.get(localKey) : (info.heartbeatDetails as Partial<SubmitHeartbeat> | undefined);
      const unsettled = localKey !== undefined ? unsettledLocalSubmits(previous, attempt, { scheduledAt, taskRepeated }) : unsettledSubmits(previous, attempt);
      const beat = (sending: boolean) => {
        const record = { attempt, sending, unsettled } satisfies SubmitHeartbeat;
        if (localKey !== undefined) localRecords.set(localKey, record);
        else ctx.heartbeat(record);
      };
      if (localKey !== undefined) beat(true);
      const beating = localKey === undefined ? setInterval(() => beat(true), heartbeatSliceMs(ctx)) : undefined;
      try {
        // the URL is made here, in the worker: its HMAC never reaches the workflow's history
        const workflowId = info.workflowExecution?.workflowId;
        const callbackUrl = workflowId ? callbackUrlFor?.(workflowId) : undefined;
        const routed = await router.submit(task, route, { ...(avoid && { avoid }), ...(callbackUrl && { callbackUrl }), ...(immediate && { immediate }), signal: cancellationSignal });
        const { providerTaskId } = routed;
        if (routed.skipped.length > 0) {
          log.info('submit routed past providers', { provider: routed.provider, skipped: routed.skipped });
          const first = routed.skipped[0]!;
          emit('providerSwitch', { from: first.provider, to: routed.provider, reason: first.reason.startsWith('circuit open') ? 'circuit_open' : first.reason });
        }
        if (unsettled > 0) {
          emit('possibleDuplicateSubmit', { provider: routed.provider, count: unsettled });
          log.warn('submit paid after attempts whose submit may have been paid', { attempt, possibleDuplicates: unsettled });
        }
        // priced by the provider that took the task (its kind: the price table's provider)
        const costMicros = submitCostMicros(prices, router.client(routed.provider).name, task.type);
        emit('spent', { provider: routed.provider, type: task.type, micros: costMicros });
        if (localKey !== undefined) localRecords.delete(localKey);
        return {
          providerTaskId,
          submittedAt: new Date().toISOString(),
          attempt,
          ...(unsettled > 0 && { possibleDuplicates: unsettled }),
          provider: routed.provider,
          ...(routed.skipped.length > 0 && { skipped: routed.skipped }),
          ...(callbackUrl && { callback: true as const }),
          costMicros,
        };
      } catch (err) {
        if (err instanceof SubmitWouldWaitError) {
          // nothing sent: the solve sends it as a regular activity, which waits for the rate limit
          if (localKey !== undefined) localRecords.delete(localKey);
          throw ApplicationFailure.create({ type: SUBMIT_DEFERRED, message: err.message, nonRetryable: true });
        }
        // answered, or provably never sent: this attempt paid nothing
        if (!(err instanceof ProviderTransientError && err.requestOutcome === 'unknown')) beat(false);
        const failure = toFailure(err, attempt);
        failed('submit', failure);
        throw failure;
      } finally {
        if (beating) clearInterval(beating);
      }
    },

    /**
     * Polls one provider task until it is ready, inside this one activity, heartbeating. The poll count rides in the
     * heartbeat details, and the deadline is counted from the submit: a retried attempt (after a transient error or a
     * dead worker) resumes the same provider task where the last one stopped, and never pays for a new one.
     */
    async pollCaptcha({ providerTaskId, provider: name = router.defaultRoute[0]!, submittedAt, policy, taskType, callbackWaitMs }: PollInput): Promise<Polled> {
      const ctx = Context.current();
      let client: CaptchaProvider;
      try {
        client = router.client(name);
      } catch (err) {
        throw toFailure(err, ctx.info.attempt, providerTaskId);
      }
      const resumed = ctx.info.heartbeatDetails as PollHeartbeat | undefined;
      let polls = resumed?.providerTaskId === providerTaskId ? resumed.polls : 0;
      const submitted = Date.parse(submittedAt);
      const deadline = submitted + policy.deadlineMs;
      // the first poll at the solve time observed for this provider and type (the advised one at first)
      const advised = advisedFirstPollDelayMs(policy, taskType);
      const planned = taskType === undefined ? advised : solveTimes.firstDelayMs(name, taskType, advised);
      const firstPoll = polls === 0;
      // callback mode: the first poll only after the push had its chance (a lost push costs that wait, not the task)
      let nextPollAt = firstPoll ? submitted + Math.max(firstPollDelayMs(planned, policy), callbackWaitMs ?? 0) : Date.now();
      // a client that coalesces polls may take the task along in a round it sends anyway (no request of its own):
      // from the policy's first delay (the providers' "wait at least 5 seconds"), or after an unready answer at once
      let earliestAt = firstPoll && callbackWaitMs === undefined ? Math.min(nextPollAt, submitted + policy.firstDelayMs) : nextPollAt;
      // a heartbeat after each slice of a wait (the first delay included), while a slow request is out and after each
      // unready answer, none after the token; the SDK throttles what reaches the server (each one there is a write,
      // billed on Temporal Cloud)
      const heartbeat = () => ctx.heartbeat({ providerTaskId, polls } satisfies PollHeartbeat);
      // none is due in the activity's first slice (the server counts the heartbeat timeout from its start): a task
      // answered within it (an instant solve, a first poll timed to the solve) costs no server write
      const started = Date.now();
      const slice = heartbeatSliceMs(ctx);
      const dueBeat = () => {
        if (Date.now() - started >= slice) heartbeat();
      };
      if (callbackWaitMs !== undefined && polls === 0) {
        // the receiver of another worker matches a push to this activity by the provider task id in its heartbeat
        // details; this worker's receiver hands it over through the inbox
        heartbeat();
        const workflowId = ctx.info.workflowExecution?.workflowId;
        const waiting = workflowId ? inbox?.wait(workflowId, providerTaskId) : undefined;
        try {
          const token = await sleepHeartbeating(ctx, nextPollAt - Date.now(), heartbeat, waiting?.token);
          if (token !== undefined) {
            emit('solved', { provider: name });
            return { token, polls, solvedAt: new Date().toISOString() };
          }
        } finally {
          waiting?.cancel();
        }
      }
      // one answer per task teaches the estimator: the first that says whether the task was ready by the planned time
      let observing = firstPoll && taskType !== undefined;
      for (;;) {
        let answer;
        try {
          if (client.pollScheduled) {
            // the wait for a round and its request: a heartbeat each slice, none in the activity's first
            const window = { earliestAt, dueAt: nextPollAt, intervalMs: policy.intervalMs };
            answer = await awaitHeartbeating(ctx, client.pollScheduled(providerTaskId, window, ctx.cancellationSignal), dueBeat);
          } else {
            await sleepHeartbeating(ctx, nextPollAt - Date.now(), dueBeat);
            // a slow answer keeps the heartbeats going (the wait before it may have sent none)
            answer = await awaitHeartbeating(ctx, client.poll(providerTaskId, ctx.cancellationSignal), heartbeat);
          }
        } catch (err) {
          polls++;
          heartbeat();
          const failure = toFailure(err, ctx.info.attempt, providerTaskId);
          failed('poll', failure, name);
          throw failure;
        }
        polls++;
        if (observing) observing = !solveTimes.observe(name, taskType!, advised, planned, Date.now() - submitted, answer.ready);
        if (answer.ready) {
          emit('solved', { provider: name });
          return { token: answer.token, polls, solvedAt: new Date().toISOString() };
        }
        heartbeat();
        if (Date.now() + policy.intervalMs > deadline) {
          emit('failed', { provider: name, stage: 'poll', failureClass: 'timeout', code: POLL_DEADLINE_CODE });
          throw ApplicationFailure.create({
            type: 'timeout',
            message: `captcha ${providerTaskId} not ready after ${Math.round((Date.now() - submitted) / 1000)} s (${polls} polls)`,
            details: [{ code: POLL_DEADLINE_CODE, failureClass: 'timeout', attempt: ctx.info.attempt, providerTaskId } satisfies ProviderFailureDetails],
          });
        }
        nextPollAt = Date.now() + policy.intervalMs;
        earliestAt = Date.now();
      }
    },
  };
}

export type SolveActivities = ReturnType<typeof createSolveActivities>;

/** A provider error becomes an ApplicationFailure typed by its class; anything else stays as it is (retryable). */
function toFailure(err: unknown, attempt: number, providerTaskId?: string): unknown {
  if (!(err instanceof ProviderError)) return err;
  if (err.failureClass === 'not-ready') return err; // never thrown by poll(); kept retryable if a client ever does
  const details: ProviderFailureDetails = {
    code: err.code,
    failureClass: err.failureClass,
    attempt,
    ...(err instanceof ProviderTransientError && err.requestOutcome !== 'answered' && { requestOutcome: err.requestOutcome }),
    ...((err.providerTaskId ?? providerTaskId) !== undefined && { providerTaskId: err.providerTaskId ?? providerTaskId }),
  };
  // the message is already redacted at the provider boundary; the cause (an undici error) is not carried along
  return ApplicationFailure.create({ type: err.failureClass, message: err.message, details: [details] });
}

/**
 * Earlier attempts of a submit that may have been paid, as attempt `attempt` sees them: the last record's own count,
 * that attempt if its request was out, and every attempt after it, which left no record (it died before it could, or
 * its outcome was unknown). An attempt that was answered records `sending: false` before it fails. A worker that dies
 * before its request left counts too: possible, not certain, duplicates.
 */
export function unsettledSubmits(previous: Partial<SubmitHeartbeat> | undefined, attempt: number): number {
  const recorded = Math.min(nonNegativeInt(previous?.attempt), attempt - 1);
  const silent = Math.max(0, attempt - 1 - recorded);
  return nonNegativeInt(previous?.unsettled) + (recorded > 0 && previous?.sending === true ? 1 : 0) + silent;
}

function nonNegativeInt(n: unknown): number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 0;
}

/**
 * Earlier attempts of a local submit that may have been paid. Its retries run in this worker, which keeps each attempt's
 * record (written before its request): `unsettledSubmits` reads it as it reads a regular submit's heartbeat. The other
 * cases come from a workflow task done again, and count one attempt whose request was out (an upper bound, like the rest):
 * - a record of this attempt number or a later one: the task was redone in this worker after the recorded attempt;
 * - no record and a first attempt, where the workflow says an earlier try of its task failed (`taskRepeated`: its
 *   worker died, say, and the task timed out), or where the attempt starts long after its task began (`scheduledAt`:
 *   the task had been completed as a heartbeat while a slow submit ran, then its worker died).
 */
export function unsettledLocalSubmits(
  previous: Partial<SubmitHeartbeat> | undefined,
  attempt: number,
  task: { scheduledAt?: number | undefined; taskRepeated?: true | undefined },
  now = Date.now(),
): number {
  if (previous === undefined) {
    const repeated = task.taskRepeated === true || (task.scheduledAt !== undefined && now - task.scheduledAt > LOCAL_SUBMIT_RESTART_MS);
    return unsettledSubmits(undefined, attempt) + (attempt === 1 && repeated ? 1 : 0);
  }
  if (nonNegativeInt(previous.attempt) >= attempt) return nonNegativeInt(previous.unsettled) + (previous.sending === true ? 1 : 0);
  return unsettledSubmits(previous, attempt);
}

/** A third of the activity's heartbeat timeout: the longest a wait or a request goes without a heartbeat. */
function heartbeatSliceMs(ctx: Context): number {
  return Math.max(100, Math.floor((ctx.info.heartbeatTimeoutMs ?? 30_000) / 3));
}

/** Waits for `pending`, calling `heartbeat` every slice of the heartbeat timeout until it settles. */
async function awaitHeartbeating<T>(ctx: Context, pending: Promise<T>, heartbeat: () => void): Promise<T> {
  const slice = heartbeatSliceMs(ctx);
  const done = { value: false };
  const settled = pending.finally(() => {
    done.value = true;
  });
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<void>((resolve) => (timer = setTimeout(resolve, slice)));
    try {
      await Promise.race([settled, tick]);
    } finally {
      clearTimeout(timer);
    }
    if (done.value) return settled;
    heartbeat();
  }
}

/**
 * Sleeps `ms` in slices of a third of the heartbeat timeout, heartbeating after each one; ends early with the token
 * when `pushed` (a callback push) resolves first.
 */
async function sleepHeartbeating(ctx: Context, ms: number, heartbeat: () => void, pushed?: Promise<string>): Promise<string | undefined> {
  const slice = heartbeatSliceMs(ctx);
  while (ms > 0) {
    const step = Math.min(ms, slice);
    const token = await (pushed ? Promise.race([pushed, ctx.sleep(step).then(() => undefined)]) : ctx.sleep(step).then(() => undefined));
    if (token !== undefined) return token;
    heartbeat();
    ms -= step;
  }
  return undefined;
}
