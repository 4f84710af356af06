// Every retry policy of the product, in one place. Defaults follow the seed script: 3 submit retries with 2^n s
// backoff, a poll every 5 s for up to 120 s. Every policy sets its caps explicitly: Temporal retries forever otherwise.
// Pure data and arithmetic: imported by workflow code and by configuration.
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/common';
import type { CaptchaType, FailureClass, SolvePolicy, SolvePolicyOverrides } from './types';

export const DEFAULT_SOLVE_POLICY: SolvePolicy = Object.freeze({
  submit: Object.freeze({
    maxAttempts: 4,
    initialIntervalMs: 1_000,
    backoffCoefficient: 2,
    maxIntervalMs: 8_000,
    // a sent submit waits 60 s for its answer (CAPTCHA_SUBMIT_TIMEOUT_MS), plus room for the client's rate limit
    timeoutMs: 90_000,
  }),
  poll: Object.freeze({
    firstDelayMs: 5_000,
    intervalMs: 5_000,
    deadlineMs: 120_000,
    maxAttempts: 5,
    retryIntervalMs: 2_000,
  }),
  maxResubmits: 2,
}) as SolvePolicy;

/**
 * The wait before a task's first poll, per captcha type, as a multiple of `poll.firstDelayMs` (5 s by default; a
 * scaled policy scales these too). 2captcha: "After uploading a captcha wait at least 5 seconds (10-20 for recaptcha)"
 * (https://2captcha.com/api-docs/limits); its former API guide: "Make a timeout: 20 seconds for ReCaptcha, 5 seconds
 * for other types" (https://2captcha.com/2captcha-api). hCaptcha solves as slowly as reCAPTCHA v2 (15–60 s), Turnstile
 * in 5–20 s, reCAPTCHA v3 in 3–10 s (typical times, /work/shared/provider-api.md). The worker moves these towards
 * the solve times it observes (src/providers/solve-times.ts).
 */
export const FIRST_POLL_DELAY_FACTORS: Readonly<Record<CaptchaType, number>> = Object.freeze({
  image: 1,
  'recaptcha-v3': 1,
  turnstile: 2,
  'recaptcha-v2': 3,
  hcaptcha: 3,
});

/** The advised wait before the first poll of a task of `type` (without a type: `poll.firstDelayMs`). */
export function advisedFirstPollDelayMs(poll: SolvePolicy['poll'], type?: CaptchaType): number {
  return poll.firstDelayMs * (type === undefined ? 1 : (FIRST_POLL_DELAY_FACTORS[type] ?? 1));
}

/** Failure classes a same-request retry cannot fix. */
export const NON_RETRYABLE_CLASSES: readonly FailureClass[] = ['resubmit', 'permanent', 'account', 'timeout'];

export function resolveSolvePolicy(...layers: (SolvePolicyOverrides | undefined)[]): SolvePolicy {
  let policy: SolvePolicy = { ...DEFAULT_SOLVE_POLICY, submit: { ...DEFAULT_SOLVE_POLICY.submit }, poll: { ...DEFAULT_SOLVE_POLICY.poll } };
  for (const layer of layers) {
    if (!layer) continue;
    policy = {
      submit: { ...policy.submit, ...layer.submit },
      poll: { ...policy.poll, ...layer.poll },
      maxResubmits: layer.maxResubmits ?? policy.maxResubmits,
      ...((policy.callback || layer.callback) && { callback: { ...DEFAULT_CALLBACK_POLICY, ...policy.callback, ...layer.callback } }),
    };
  }
  return policy;
}

/**
 * Callback mode: how long a type usually takes at the provider (provider-api.md's typical solve times, upper end).
 * A solve that has not heard from the provider by then + the grace polls: a lost push costs latency, never the task.
 */
export const CALLBACK_EXPECTED_SOLVE_MS: Readonly<Record<CaptchaType, number>> = Object.freeze({
  image: 15_000,
  'recaptcha-v2': 60_000,
  'recaptcha-v3': 10_000,
  hcaptcha: 30_000,
  turnstile: 20_000,
});

export const DEFAULT_CALLBACK_POLICY: NonNullable<SolvePolicy['callback']> = Object.freeze({ graceMs: 10_000, expectedSolveScale: 1 });

/** How long a solve waits for the provider's push before polling its task. */
export function callbackWaitMs(policy: SolvePolicy, type: CaptchaType): number {
  const { graceMs, expectedSolveScale } = { ...DEFAULT_CALLBACK_POLICY, ...policy.callback };
  return Math.max(1, Math.round((CALLBACK_EXPECTED_SOLVE_MS[type] ?? CALLBACK_EXPECTED_SOLVE_MS['recaptcha-v2']) * expectedSolveScale + graceMs));
}

/** Room in the submit activity beyond the submit's own wait: the client's rate-limit wait and the connect. */
export const SUBMIT_ACTIVITY_MARGIN_MS = 30_000;

/** The submit activity's per-attempt timeout that fits a submit waiting `submitTimeoutMs` for its answer. */
export function submitActivityTimeoutMs(submitTimeoutMs: number): number {
  return submitTimeoutMs + SUBMIT_ACTIVITY_MARGIN_MS;
}

/**
 * The submit activity heartbeats while its request is out, so a dead worker is noticed after this long rather than
 * after the whole per-attempt timeout. Its first heartbeat, just before the request, tells the next attempt that a
 * submit may have been paid (a possible duplicate).
 */
export const SUBMIT_HEARTBEAT_TIMEOUT_MS = 15_000;

/**
 * The submit as a local activity: the same timeout and retries, run by the worker that runs the workflow task, with no
 * heartbeat (a dead worker is noticed by the workflow task's timeout, and the attempt on the next worker is counted as
 * a possible duplicate: activities/solve.ts).
 */
export function localSubmitActivityOptions(policy: SolvePolicy): LocalActivityOptions {
  const options: LocalActivityOptions & { heartbeatTimeout?: unknown } = submitActivityOptions(policy);
  delete options.heartbeatTimeout;
  return { ...options, retry: { ...options.retry, nonRetryableErrorTypes: [...(options.retry?.nonRetryableErrorTypes ?? []), SUBMIT_DEFERRED] } };
}

/**
 * A local submit goes only when the client's submit rate limit lets it go at once: waiting there would hold its
 * workflow task open (no signal, no cancellation heard meanwhile). When it would wait, it fails with this type, nothing
 * sent, and the solve hands the submit to a regular activity, which waits.
 */
export const SUBMIT_DEFERRED = 'SubmitDeferred';

/**
 * A local submit attempt that starts this long after the workflow task that scheduled it began is taken for a repeat
 * on another worker after the first one died (a workflow task times out after 10 s): it counts one possible duplicate.
 * Local attempts start within milliseconds otherwise.
 */
export const LOCAL_SUBMIT_RESTART_MS = 5_000;

export function submitActivityOptions(policy: SolvePolicy): ActivityOptions {
  const s = policy.submit;
  return {
    startToCloseTimeout: s.timeoutMs,
    heartbeatTimeout: SUBMIT_HEARTBEAT_TIMEOUT_MS,
    retry: {
      maximumAttempts: s.maxAttempts,
      initialInterval: s.initialIntervalMs,
      backoffCoefficient: s.backoffCoefficient,
      maximumInterval: s.maxIntervalMs,
      nonRetryableErrorTypes: [...NON_RETRYABLE_CLASSES],
    },
  };
}

/** The poll activity loops inside one attempt, heartbeating; a retried attempt resumes the same provider task. */
export function pollActivityOptions(policy: SolvePolicy): ActivityOptions {
  const p = policy.poll;
  return {
    // one attempt may poll until the deadline; the deadline itself is enforced by the activity
    startToCloseTimeout: p.deadlineMs + p.firstDelayMs + 30_000,
    heartbeatTimeout: pollHeartbeatTimeoutMs(policy),
    retry: {
      maximumAttempts: p.maxAttempts,
      initialInterval: p.retryIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: Math.max(p.retryIntervalMs, p.intervalMs),
      nonRetryableErrorTypes: [...NON_RETRYABLE_CLASSES],
    },
  };
}

/** A worker that died mid-poll is noticed after this long; it must exceed the longest quiet gap between heartbeats. */
export function pollHeartbeatTimeoutMs(policy: SolvePolicy): number {
  return Math.max(5_000, 3 * Math.max(policy.poll.intervalMs, policy.poll.firstDelayMs));
}

/** Reporting to the DLQ must not be lost: retried for a long time, with a cap. */
export const REPORT_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: 30_000,
  retry: { maximumAttempts: 50, initialInterval: 500, backoffCoefficient: 2, maximumInterval: 30_000 },
};

/** Account activities (token reports, feedback signals, balance, alerts): short calls, retried a while. */
export const ACCOUNT_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: 30_000,
  retry: { maximumAttempts: 8, initialInterval: 500, backoffCoefficient: 2, maximumInterval: 10_000 },
};

/** DLQ front → shards: an operator order (idempotent by request id on the shard). The update waits for it. */
export const DLQ_FORWARD_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: 60_000,
  retry: { maximumAttempts: 20, initialInterval: 500, backoffCoefficient: 2, maximumInterval: 10_000 },
};

/** DLQ shard → front: a stats snapshot (latest wins; a lost one is replaced by the next). */
export const DLQ_SNAPSHOT_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: 15_000,
  retry: { maximumAttempts: 10, initialInterval: 500, backoffCoefficient: 2, maximumInterval: 10_000 },
};

/** DLQ: an alert's webhook POST (the activity also logs it); a receiver down for ~2 minutes still gets it. */
export const DLQ_ALERT_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: 15_000,
  retry: { maximumAttempts: 8, initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 30_000 },
};

/** DLQ: looking up retry children that never reported (terminated, timed out). */
export const DLQ_LOOKUP_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: 30_000,
  retry: { maximumAttempts: 5, initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 10_000 },
};

/** Batch: reading a page of a task file; a file that is unreadable or changed (`BatchSourceError`) is final. */
export const READ_TASK_PAGE_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: 120_000,
  retry: { maximumAttempts: 10, initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 30_000, nonRetryableErrorTypes: ['BatchSourceError'] },
};

/** Scheduled drain: the DLQ's retry update; a rejected order (`DrainRejected`) is final. */
export const DRAIN_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: 60_000,
  retry: { maximumAttempts: 5, initialInterval: 1_000, backoffCoefficient: 2, maximumInterval: 10_000, nonRetryableErrorTypes: ['DrainRejected'] },
};
