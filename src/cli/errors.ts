// The CLI's exit codes, stable for scripts, and the error that carries one. Errors from modules that load lazily are
// told apart by name.

export const EXIT = {
  OK: 0,
  /** the operation ran and failed: a solve failed, a batch was cancelled or (with --fail-on-dead-letters) lost tasks */
  FAILED: 1,
  /** bad flags, bad input file, bad configuration, an order the DLQ rejected */
  USAGE: 2,
  /** Temporal cannot be reached */
  UNREACHABLE: 3,
  /** no such batch, no DLQ yet, no such schedule */
  NOT_FOUND: 4,
} as const;

export const EXIT_HELP = `
Exit codes:
  0  ok
  1  the operation failed (a solve failed; a watched batch was cancelled, or lost tasks with --fail-on-dead-letters)
  2  bad usage or bad input (flags, task file, configuration, an order the DLQ rejected)
  3  cannot reach Temporal (TEMPORAL_ADDRESS, TLS settings)
  4  not found (no such batch, the DLQ has not started yet, no such schedule)

Configuration comes from the environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, DLQ_WORKFLOW_ID,
CAPTCHA_PROVIDER, CAPTCHA_API_KEY (worker only), … (see the README); --address, --namespace, --profile and
--config-file win over the connection's variables and temporal.toml profile.`;

/** An error that knows its exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Errors are told apart by name: the modules that define them load lazily. */
export function isError(err: unknown, name: string): err is Error & { cause?: Error } {
  return err instanceof Error && err.name === name;
}
