// The workflows' clock. Inside the sandbox the SDK replaces Date with the time of the current workflow task: frozen
// while an activation runs and recorded, so a replay reads the same value. That deterministic time is what every
// workflow means by "now" (timestamps, ages, windows, alert slots); these two names say so where it is read.

/** The current workflow task's time, in ms (deterministic: the SDK's sandboxed Date, not the machine's clock). */
export function workflowNow(): number {
  return Date.now();
}

/** `workflowNow()` as an ISO string. */
export function nowIso(): string {
  return new Date(workflowNow()).toISOString();
}
