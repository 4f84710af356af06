// Plain-JSON domain types shared by client, workflows and activities. Types only: safe for the workflow sandbox.

export const CAPTCHA_TYPES = ['recaptcha-v2', 'recaptcha-v3', 'hcaptcha', 'turnstile', 'image'] as const;
export type CaptchaType = (typeof CAPTCHA_TYPES)[number];
/** How people write them (Web UI summaries, CLI). */
export const CAPTCHA_TYPE_LABELS: Record<CaptchaType, string> = {
  'recaptcha-v2': 'reCAPTCHA v2',
  'recaptcha-v3': 'reCAPTCHA v3',
  hcaptcha: 'hCaptcha',
  turnstile: 'Turnstile',
  image: 'image',
};

/** Per-task options; which ones apply depends on the captcha type. */
export interface CaptchaOptions {
  invisible?: boolean;
  enterprise?: boolean;
  /** reCAPTCHA v3 / Turnstile action. */
  action?: string;
  /** reCAPTCHA v3 minimum score (0.3, 0.7 or 0.9). */
  minScore?: number;
  /** Turnstile cData / reCAPTCHA data-s. */
  data?: string;
  /** Turnstile pagedata. */
  pageData?: string;
  userAgent?: string;
  /** proxy as login:pass@host:port */
  proxy?: string;
  proxyType?: 'HTTP' | 'HTTPS' | 'SOCKS4' | 'SOCKS5';
}

/** One captcha to solve. `sitekey`/`pageUrl` for token captchas, `body` (base64) for image captchas. */
export interface CaptchaTask {
  type: CaptchaType;
  sitekey?: string;
  pageUrl?: string;
  /** base64 image, for type `image` */
  body?: string;
  /** Unique within a batch; becomes part of the child workflow id. Generated from the index when absent. */
  key?: string;
  options?: CaptchaOptions;
}

/**
 * How a provider answer is classified, once, at the provider boundary. `timeout` is ours: the task never became
 * ready within the poll deadline. These strings are also the `ApplicationFailure` types of activities and workflows.
 */
export const FAILURE_CLASSES = ['transient', 'resubmit', 'permanent', 'account', 'timeout', 'internal'] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** A failure class as read from a failure or a report: anything unknown counts as `internal`. */
export function knownClass(c: unknown): FailureClass {
  return (FAILURE_CLASSES as readonly unknown[]).includes(c) ? (c as FailureClass) : 'internal';
}

/** Retry and timing policy of one solve; every field is plain JSON so it can travel in workflow input. */
export interface SolvePolicy {
  submit: {
    /** 1 + retries. The seed: 3 retries. */
    maxAttempts: number;
    initialIntervalMs: number;
    backoffCoefficient: number;
    maxIntervalMs: number;
    /** per-attempt timeout of the submit activity */
    timeoutMs: number;
    /**
     * The submit runs as a local activity (in the workflow task that schedules it: one workflow task and one activity
     * task fewer per solve). False: an activity task the server schedules, which a task-queue rate limit
     * (`WORKER_TASK_QUEUE_ACTIVITIES_PER_SECOND`) covers. Absent: true.
     */
    local?: boolean;
  };
  poll: {
    /** wait before the first poll (providers: ≥ 5 s) */
    firstDelayMs: number;
    intervalMs: number;
    /** deadline for the whole polling of one provider task, from its submit (the seed: 24 × 5 s) */
    deadlineMs: number;
    /** attempts of the poll activity on transient errors (each resumes the same provider task) */
    maxAttempts: number;
    retryIntervalMs: number;
  };
  /** new provider tasks after a resubmit-class answer (unsolvable, bad duplicates, …) */
  maxResubmits: number;
  /**
   * Callback mode (a submit that asked the provider to push): how long the solve waits for the push before it polls,
   * `expectedSolveScale` × the type's expected solve time (CALLBACK_EXPECTED_SOLVE_MS) + `graceMs`. Absent: defaults.
   */
  callback?: { graceMs: number; expectedSolveScale: number };
}

/** Deep-partial policy overrides, as given in workflow input or configuration. */
export interface SolvePolicyOverrides {
  submit?: Partial<SolvePolicy['submit']>;
  poll?: Partial<SolvePolicy['poll']>;
  maxResubmits?: number;
  callback?: Partial<NonNullable<SolvePolicy['callback']>>;
}

/** Attempts a final failure keeps in its `history` (the most recent ones): a solve's failure, a DLQ entry. */
export const ATTEMPT_HISTORY_LIMIT = 10;

export interface AttemptRecord {
  /** 1-based round: a round is one paid submit (or a failed try to get one) and its polling */
  round: number;
  providerTaskId?: string;
  /** the provider of the round (several providers configured) */
  provider?: string;
  failureClass: FailureClass;
  code: string;
  message: string;
  at: string;
}

/** A submit that went to another provider than the first choice: passed over, refusing, or after an unsolvable answer. */
export interface ProviderSwitch {
  round: number;
  from: string;
  to: string;
  /** `circuit open (ERROR_ZERO_BALANCE)`, `ERROR_NO_SLOT_AVAILABLE`, `ERROR_CAPTCHA_UNSOLVABLE` */
  reason: string;
  at: string;
}
/** Switches a solve keeps (the first ones). */
export const SWITCH_LIMIT = 10;

export interface SolveInput {
  task: CaptchaTask;
  /** unique key of the task (in its batch) */
  taskKey: string;
  batchId?: string;
  policy?: SolvePolicyOverrides;
  /** where final failures go; `null` when the caller records them itself (DLQ retries) */
  dlqWorkflowId?: string | null;
  /** the batch workflow to notify with the outcome (it tracks children by signal, across its continue-as-new) */
  parentWorkflowId?: string;
  /**
   * The parent reads this child's completion event, so no outcome signal is sent until the parent asks for one
   * (reportBySignalSignal, before it continues-as-new). Unset: always signal.
   */
  parentAwaitsCompletion?: boolean;
  /** set when the DLQ re-solves an entry */
  retry?: { entryId: string; generation: number };
  /** provider names in order of preference (validated by the client); absent: the worker's default route */
  route?: string[];
  /** a resubmit after an unsolvable answer goes to another provider of the route first (default true) */
  resubmitElsewhere?: boolean;
}

export interface SolveResult {
  taskKey: string;
  token: string;
  providerTaskId: string;
  /** submit attempts, paid or not, across all rounds */
  attempts: number;
  paidSubmits: number;
  /**
   * submits that may have been paid besides `paidSubmits`: sent by an attempt that died or lost its answer before a
   * later attempt was paid (absent: none seen)
   */
  possibleDuplicateSubmits?: number;
  /** micro-USD paid for this task, every paid submit of every round (absent: a worker before prices) */
  spentMicros?: number;
  elapsedMs: number;
  solvedAt: string;
  /** the provider that solved it (absent from workers before provider routes) */
  provider?: string;
  /** submits that went elsewhere than the first choice (bounded by SWITCH_LIMIT) */
  switches?: ProviderSwitch[];
}

/** What every final failure says about itself: in a solve's failure details, a DLQ report and a DLQ entry. */
export interface FailureSummary {
  failureClass: FailureClass;
  code: string;
  /** redacted */
  message: string;
  /** submit attempts, paid or not */
  attempts: number;
  paidSubmits: number;
  /** micro-USD paid for the task, all rounds (absent: not known, a worker before prices) */
  spentMicros?: number;
  /** the most recent attempts (bounded) */
  history: AttemptRecord[];
}

/** Details of a solve workflow's final `ApplicationFailure` (its type is the failure class). */
export interface SolveFailureDetails extends FailureSummary {
  taskKey: string;
  /** as in SolveResult */
  possibleDuplicateSubmits?: number;
  providerTaskIds: string[];
  /** the DLQ entry id when the failure was dead-lettered */
  dlqEntryId?: string;
  /** the provider of the last round */
  provider?: string;
}

/** What the submit and poll activities attach to the failures they throw. */
export interface ProviderFailureDetails {
  code: string;
  failureClass: FailureClass;
  /** activity attempt that failed (1-based) */
  attempt: number;
  providerTaskId?: string;
  /** a failed exchange: its request provably never left (`not-sent`), or may have reached the provider (`unknown`) */
  requestOutcome?: 'not-sent' | 'unknown';
}

/** A final failure on its way into the DLQ. */
export interface DeadLetterReport extends FailureSummary {
  /** idempotency key: the solve workflow id of the original task */
  entryId: string;
  task: CaptchaTask;
  taskKey: string;
  batchId?: string;
  provider: string;
  providerTaskIds: string[];
  failedAt: string;
}
