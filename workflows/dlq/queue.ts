// The entity: one DLQ workflow's entries and everything it does with them, one layer per concern (each file's class
// extends the one before, the way BullMQ layers its Queue):
//   ./entries  DlqEntries  role, state, entries and their counts, alerts
//   ./retries  DlqRetries  retry children: paced starts, outcomes, silent children looked up
//   ./orders   DlqOrders   retry / discard / purge: watermark, request id, forwarding to the shards
//   ./shards   DlqShards   snapshots pushed by shards, taken by the front; reset of a shard
//   ./views    DlqViews    stats, list, audit, the Web UI summary
// The pure rules they apply live apart (filters, counts, requests, reports, snapshots, settings, state, pack, routing)
// and are tested without a server (test/dlq-units.test.ts). ./workflow wires the handlers and runs the loops.
import { DlqViews } from './views';

export class DeadLetterQueue extends DlqViews {
  /** The loops of one run, by role; each returns once `stopping` is set. */
  loops(): Promise<void>[] {
    const loops = [this.dispatchLoop(), this.sweepLoop(), this.detailsLoop()];
    if (this.role === 'front') loops.push(this.ageLoop());
    if (this.role === 'front' && this.guards.statsMemo) loops.push(this.statsMemoLoop());
    if (this.role === 'shard') loops.push(this.snapshotLoop());
    return loops;
  }
}
