// Times in DLQ entries are ISO strings; "now" is the workflows' deterministic clock (../clock).
export { nowIso, workflowNow } from '../clock';

/** The earliest of some ISO times (they sort as strings); null when there is none. */
export function earliest(times: Iterable<string | null | undefined>): string | null {
  let at: string | null = null;
  for (const t of times) if (t && (at === null || t < at)) at = t;
  return at;
}
