// The workflow's clock, and a helper on ISO times.

/**
 * The workflow's clock: inside the sandbox the SDK makes Date the time of the current workflow task (frozen while an
 * activation runs, the same on replay), which is what alerts, slots and stale checks must use to stay deterministic.
 */
export function workflowNow(): number {
  return Date.now();
}

export function nowIso(): string {
  return new Date(workflowNow()).toISOString();
}

/** The earliest of some ISO times (they sort as strings); null when there is none. */
export function earliest(times: Iterable<string | null | undefined>): string | null {
  let at: string | null = null;
  for (const t of times) if (t && (at === null || t < at)) at = t;
  return at;
}
