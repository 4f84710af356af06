// Shard snapshots: what the front accepts from a shard, and when a shard may push its next one. Pure.
import { type DlqAlert, type DlqShardSnapshot } from '../messages';
import { DLQ_ENTRY_STATUSES } from '../../src/domain/names';
import { dict } from './counts';
import { isObject, ISO_TIME, oversized, quote } from './input';
import { FRONT_SNAPSHOTS_PER_SECOND, SNAPSHOT_CHARS_MAX, SNAPSHOT_MAP_KEYS_MAX } from './limits';
import { checkOrderTallies, ORDER_TALLIES_IN_SNAPSHOT } from './outcomes';
import { dlqShardWorkflowId } from '../../src/domain/dlq-routing';

/**
 * A shard snapshot the front accepts: from one of its own shards (the id `<front>/shard-<i>` with i from 1 to
 * shardCount − 1, matching `shard`), with a positive integer seq, counts that are non-negative integers and add up
 * (byStatus sums to total), bounded maps. Rebuilt field by field: nothing else is kept.
 */
export function checkSnapshot(raw: unknown, frontId: string, shardCount: number): { ok: true; snapshot: DlqShardSnapshot } | { ok: false; error: string } {
  if (!isObject(raw)) return { ok: false, error: 'a snapshot is a JSON object' };
  const tooBig = oversized(`the snapshot of ${quote(raw.workflowId)}`, raw, SNAPSHOT_CHARS_MAX);
  if (tooBig) return { ok: false, error: tooBig };
  const { shard, workflowId } = raw;
  if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 1 || shard >= shardCount || workflowId !== dlqShardWorkflowId(frontId, shard)) {
    return { ok: false, error: `${quote(workflowId)} (shard ${quote(shard)}) is not a shard of ${frontId}, which has ${shardCount - 1} shard(s)` };
  }
  const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const numbers = ['total', 'recovered', 'discarded', 'purged', 'paidSubmitsOnDead', 'retriesInFlight', 'retriesQueued', 'received', 'duplicateReports'] as const;
  const bad = numbers.find((k) => !count(raw[k]));
  if (bad) return { ok: false, error: `${workflowId}: ${bad} must be a non-negative integer` };
  if (!count(raw.seq) || raw.seq === 0) return { ok: false, error: `${workflowId}: seq must be a positive integer` };
  const byStatus = raw.byStatus;
  if (!isObject(byStatus) || !DLQ_ENTRY_STATUSES.every((k) => count(byStatus[k]))) return { ok: false, error: `${workflowId}: byStatus must count ${DLQ_ENTRY_STATUSES.join(', ')}` };
  const statusSum = DLQ_ENTRY_STATUSES.reduce((n, k) => n + (byStatus[k] as number), 0);
  if (statusSum !== raw.total) return { ok: false, error: `${workflowId}: byStatus adds up to ${statusSum}, not total ${raw.total as number}` };
  const maps = ['byCode', 'byClass', 'bySitekey', 'byHour', 'byBatch'] as const;
  const out: Record<(typeof maps)[number], Record<string, number>> = { byCode: dict(), byClass: dict(), bySitekey: dict(), byHour: dict(), byBatch: dict() };
  for (const name of maps) {
    const m = raw[name];
    if (!isObject(m) || Object.keys(m).length > SNAPSHOT_MAP_KEYS_MAX) return { ok: false, error: `${workflowId}: ${name} must be an object of at most ${SNAPSHOT_MAP_KEYS_MAX} counts` };
    for (const [k, v] of Object.entries(m)) {
      if (!count(v) || k.length > 1_000) return { ok: false, error: `${workflowId}: ${name}[${quote(k)}] must be a non-negative integer` };
      out[name][k] = v;
    }
  }
  // money (optional: shards before it send none)
  const spent = raw.spentMicrosOnDead;
  if (spent !== undefined && !count(spent)) return { ok: false, error: `${workflowId}: spentMicrosOnDead must be a non-negative integer` };
  const spentByCode = dict();
  if (raw.spentMicrosOnDeadByCode !== undefined) {
    const m = raw.spentMicrosOnDeadByCode;
    if (!isObject(m) || Object.keys(m).length > SNAPSHOT_MAP_KEYS_MAX) return { ok: false, error: `${workflowId}: spentMicrosOnDeadByCode must be an object of at most ${SNAPSHOT_MAP_KEYS_MAX} amounts` };
    for (const [k, v] of Object.entries(m)) {
      if (!count(v) || k.length > 1_000) return { ok: false, error: `${workflowId}: spentMicrosOnDeadByCode[${quote(k)}] must be a non-negative integer` };
      spentByCode[k] = v;
    }
  }
  const asOf = typeof raw.asOf === 'string' && ISO_TIME.test(raw.asOf) ? raw.asOf : null;
  const oldest = raw.oldestFailedAt;
  if (!asOf || (oldest !== null && (typeof oldest !== 'string' || !ISO_TIME.test(oldest)))) return { ok: false, error: `${workflowId}: asOf and oldestFailedAt must be ISO times` };
  const alerts = Array.isArray(raw.alerts)
    ? raw.alerts
        .filter(isObject)
        .slice(-5)
        .filter((a) => ['depth', 'oldest-age', 'state-size'].includes(a.kind as string) && count(a.threshold) && count(a.value) && typeof a.raisedAt === 'string' && ISO_TIME.test(a.raisedAt))
        .map((a) => ({ kind: a.kind, threshold: a.threshold, value: a.value, raisedAt: a.raisedAt }) as DlqAlert)
    : [];
  // retry orders' outcomes (optional: shards before them send none)
  let orders: ReturnType<typeof checkOrderTallies> | undefined;
  if (raw.orders !== undefined) {
    orders = checkOrderTallies(raw.orders, ORDER_TALLIES_IN_SNAPSHOT);
    if (!orders.ok) return { ok: false, error: `${workflowId}: ${orders.error}` };
  }
  const n = (k: (typeof numbers)[number]): number => raw[k] as number;
  return {
    ok: true,
    snapshot: {
      workflowId,
      shard,
      seq: raw.seq,
      asOf,
      total: n('total'),
      byStatus: { dead: byStatus.dead as number, retrying: byStatus.retrying as number, parked: byStatus.parked as number },
      ...out,
      ...(raw.truncated === true && { truncated: true }),
      oldestFailedAt: oldest as string | null,
      recovered: n('recovered'),
      discarded: n('discarded'),
      purged: n('purged'),
      paidSubmitsOnDead: n('paidSubmitsOnDead'),
      ...(spent !== undefined && { spentMicrosOnDead: spent, spentMicrosOnDeadByCode: spentByCode }),
      retriesInFlight: n('retriesInFlight'),
      retriesQueued: n('retriesQueued'),
      received: n('received'),
      duplicateReports: n('duplicateReports'),
      ...(alerts.length > 0 && { alerts }),
      ...(orders?.ok && { orders: orders.tallies }),
    },
  };
}

/**
 * Milliseconds from `now` until shard `shard`'s next slot: the slots of all shards are spread evenly over one cycle of
 * max(snapshotIntervalMs, shardCount / FRONT_SNAPSHOTS_PER_SECOND s).
 */
export function untilSnapshotSlot(shard: number, shardCount: number, snapshotIntervalMs: number, now: number): number {
  const spacing = 1000 / FRONT_SNAPSHOTS_PER_SECOND;
  const cycle = Math.max(snapshotIntervalMs, shardCount * spacing);
  const offset = (shard * spacing) % cycle;
  const next = Math.floor((now - offset) / cycle) * cycle + offset + cycle; // the first slot after now
  return Math.max(1, Math.ceil(next - now));
}
