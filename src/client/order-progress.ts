// What became of a retry order's entries, as the CLI and the console show it: matched, in flight, recovered, failed
// (like a redrive's progress). One reading of the audit record for both, so they never disagree.
import type { DlqAuditRecord } from '../../workflows/messages';

export interface OrderProgress {
  matched: number;
  inFlight: number;
  recovered: number;
  failed: number;
  /** back in the DLQ without a verdict (the retry was cancelled or could not start) */
  cancelled: number;
}

/** Said of retry orders whose audit record carries no outcomes: given before the DLQ counted them per order. */
export const OUTCOMES_NOT_TRACKED = 'not tracked for retry orders given before the DLQ counted outcomes per order (by a DLQ run from before the dlq-order-outcomes patch)';

/** A retry order's progress; null for other operations and for retry orders given before outcomes were tracked. */
export function orderProgress(r: DlqAuditRecord): OrderProgress | null {
  if (r.operation !== 'retry' || !r.outcomes) return null;
  const { recovered, failed, cancelled } = r.outcomes;
  const inFlight = r.inFlight ?? Math.max(0, r.matched - recovered - failed - cancelled);
  return { matched: r.matched, inFlight, recovered, failed, cancelled };
}
