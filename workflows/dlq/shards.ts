// The entity's shard layer. A shard pushes a snapshot of its counts to its front when they changed, in its own slot; the
// front keeps the latest snapshot of each of its own shards (an operator may reset one).
import { condition, log, patched } from '@temporalio/workflow';
import type { DlqResetShardResult, DlqShardSnapshot } from '../messages';
import { nowIso, workflowNow } from './clock';
import { invalid } from './errors';
import { quote } from './input';
import { DlqOrders } from './orders';
import { addShardTallies, orderTallies } from './outcomes';
import { SNAPSHOT_SLOTS_PATCH } from './patches';
import { parseResetShard, type ResetShardRequest } from './requests';
import { checkSnapshot, untilSnapshotSlot } from './snapshots';

export class DlqShards extends DlqOrders {
  /** The front takes a shard's snapshot when it is newer than the one it holds. */
  onSnapshot(raw: DlqShardSnapshot): void {
    if (this.role !== 'front') {
      log.warn('a DLQ shard received a shard snapshot: ignored', { from: quote((raw as Partial<DlqShardSnapshot>)?.workflowId) });
      return;
    }
    const s = raw as Partial<DlqShardSnapshot> | undefined;
    if (!s || typeof s !== 'object' || typeof s.workflowId !== 'string' || typeof s.seq !== 'number' || typeof s.total !== 'number' || !Number.isFinite(s.total) || s.workflowId === '__proto__') {
      log.warn('ignored a malformed DLQ shard snapshot');
      return;
    }
    if (this.guards.ownShards) {
      const checked = checkSnapshot(raw, this.frontId, this.settings.shardCount);
      if (!checked.ok) {
        log.warn('ignored a DLQ shard snapshot', { error: checked.error });
        return;
      }
      raw = checked.snapshot;
    }
    const known = Object.hasOwn(this.state.shards, s.workflowId) ? this.state.shards[s.workflowId] : undefined;
    if (known && known.seq >= s.seq) return; // stale or repeated
    if (!this.guards.orderOutcomes || !this.guards.ownShards) delete raw.orders;
    // the orders' outcomes in this shard since its previous snapshot, into the front's records of those orders
    else addShardTallies(this.state.audit, raw.orders, known?.orders, nowIso());
    this.state.shards[s.workflowId] = raw;
    this.shardsTotal += raw.total - (known?.total ?? 0);
    const at = raw.oldestFailedAt;
    if (this.shardsOldest) {
      if (known?.oldestFailedAt && known.oldestFailedAt === this.shardsOldest.at && at !== known.oldestFailedAt) this.shardsOldest = undefined;
      else if (at && (this.shardsOldest.at === null || at < this.shardsOldest.at)) this.shardsOldest.at = at;
    }
    this.changed();
  }

  /** Validates a `resetShard` request: the front only, a shard index it has (by shardCount or by a snapshot), a reason. */
  parseResetShard(raw: unknown): ResetShardRequest {
    if (this.role !== 'front') throw invalid(`${this.selfId} is a DLQ shard: send resetShard to its front ${this.frontId}`);
    const parsed = parseResetShard(raw, this.frontId, this.settings.shardCount, (id) => Object.hasOwn(this.state.shards, id));
    if (!parsed.ok) throw invalid(parsed.error);
    return parsed.request;
  }

  /** Forgets a shard's last snapshot, so that the shard's next one counts whatever its seq. */
  resetShard({ workflowId, shard, reason, by }: ResetShardRequest): DlqResetShardResult {
    const known = Object.hasOwn(this.state.shards, workflowId) ? this.state.shards[workflowId] : undefined;
    if (known) {
      // its orders' outcomes leave with it: its next snapshot counts them again in full
      if (this.guards.orderOutcomes) addShardTallies(this.state.audit, known.orders, undefined, nowIso(), -1);
      delete this.state.shards[workflowId];
      this.shardsTotal -= known.total;
      this.shardsOldest = undefined;
      this.changed();
    }
    log.warn('DLQ shard snapshot reset by an operator', { workflowId, shard, by, reason, removedTotal: known?.total ?? 0 });
    return { workflowId, shard, removedTotal: known?.total ?? 0, hadSnapshot: !!known };
  }

  /**
   * Shards: push a snapshot of the counts to the front when they changed, at most one in flight, in this shard's own
   * slot (see FRONT_SNAPSHOTS_PER_SECOND); changes that arrive meanwhile ride on the next push.
   */
  async snapshotLoop(): Promise<void> {
    const slotted = patched(SNAPSHOT_SLOTS_PATCH);
    for (;;) {
      await condition(() => this.stopping || this.state.snapshot.dirty);
      if (this.stopping) return;
      if (slotted) {
        const { shardCount, snapshotIntervalMs } = this.settings;
        await condition(() => this.stopping, untilSnapshotSlot(this.shard, shardCount, snapshotIntervalMs, workflowNow()));
        if (this.stopping) return; // still dirty: the next run pushes it
      }
      this.state.snapshot.dirty = false;
      this.state.snapshot.seq++;
      try {
        await this.acts.snapshot.pushDlqSnapshot({
          frontWorkflowId: this.frontId,
          snapshot: this.snapshotOf(),
          frontArgs: { shardCount: this.settings.shardCount },
        });
      } catch (err) {
        log.warn('could not push the DLQ snapshot to the front', { front: this.frontId, error: String(err) });
        this.state.snapshot.dirty = true;
      }
      if (!slotted) await condition(() => this.stopping, this.settings.snapshotIntervalMs);
    }
  }

  private snapshotOf(): DlqShardSnapshot {
    const orders = this.guards.orderOutcomes ? orderTallies(this.state.audit) : [];
    return { workflowId: this.selfId, shard: this.shard, seq: this.state.snapshot.seq, asOf: nowIso(), ...this.counts(), ...(orders.length > 0 && { orders }) };
  }
}
