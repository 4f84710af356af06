// Compact rows for the DLQ's continue-as-new state. Pure and workflow-safe (types only).
//
// A DLQ entry as a JSON object repeats its field names and its low-cardinality strings (sitekey, code, message, class,
// provider, batch) in every entry and every attempt: ~1.3 KB fresh, ~2.8 KB with ten attempts. Packed, each entry is
// a positional row, those strings are stored once in a table and referenced by number, and times are milliseconds
// relative to the first failure: about a fifth of the size (measured in test/dlq.test.ts). Rows keep any field this
// version does not know in a trailing object, so a newer entry shape survives an older packer unchanged.
import type { DlqEntry, DlqPackedEntries } from '../messages';
import { DLQ_ENTRY_STATUSES, type DlqEntryStatus } from '../../src/domain/names';
import type { AttemptRecord, CaptchaTask, FailureClass } from '../../src/domain/types';

/** packed as their index in this list: its order is part of the carried state */
const STATUSES: readonly DlqEntryStatus[] = DLQ_ENTRY_STATUSES;
const ENTRY_FIELDS = new Set([
  'id', 'task', 'taskKey', 'batchId', 'provider', 'failureClass', 'code', 'message', 'attempts', 'paidSubmits',
  'firstFailedAt', 'lastFailedAt', 'history', 'dlqRetries', 'status', 'seq', 'receivedAt', 'lastGeneration',
]);
const TASK_FIELDS = new Set(['type', 'sitekey', 'pageUrl', 'key']);
const ATTEMPT_FIELDS = new Set(['round', 'providerTaskId', 'failureClass', 'code', 'message', 'at']);

/** 0 = absent; n = strings[n - 1] */
type Ref = number;
type Time = number | string;
type PackedAttempt = [number, string | 0, Ref, Ref, Ref, Time, Record<string, unknown>?];
type Row = [
  id: string,
  type: Ref,
  sitekey: Ref,
  pageUrl: string | 0,
  key: string | 0,
  taskRest: Record<string, unknown> | 0,
  /** 0: same as task.key */
  taskKey: string | 0,
  batchId: Ref,
  provider: Ref,
  failureClass: Ref,
  code: Ref,
  message: Ref,
  attempts: number,
  paidSubmits: number,
  firstFailedAt: Time,
  lastFailedAt: Time,
  receivedAt: Time,
  history: PackedAttempt[],
  dlqRetries: number,
  status: number,
  seq: number,
  lastGeneration: number,
  rest: Record<string, unknown> | 0,
];

export function packEntries(entries: Iterable<DlqEntry>): DlqPackedEntries {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const ref = (s: string | undefined): Ref => {
    if (s === undefined) return 0;
    let i = index.get(s);
    if (i === undefined) {
      strings.push(s);
      i = strings.length;
      index.set(s, i);
    }
    return i;
  };
  const rows: Row[] = [];
  for (const e of entries) {
    const first = time(e.firstFailedAt, 0);
    const base = typeof first === 'number' ? first : 0;
    const task = e.task;
    rows.push([
      e.id,
      ref(task.type),
      ref(task.sitekey),
      task.pageUrl ?? 0,
      task.key ?? 0,
      rest(task as unknown as Record<string, unknown>, TASK_FIELDS),
      e.taskKey === task.key ? 0 : e.taskKey,
      ref(e.batchId),
      ref(e.provider),
      ref(e.failureClass),
      ref(e.code),
      ref(e.message),
      e.attempts,
      e.paidSubmits,
      first,
      time(e.lastFailedAt, base),
      time(e.receivedAt, base),
      e.history.map((h) => {
        const row: PackedAttempt = [h.round, h.providerTaskId ?? 0, ref(h.failureClass), ref(h.code), ref(h.message), time(h.at, base)];
        const more = rest(h as unknown as Record<string, unknown>, ATTEMPT_FIELDS);
        if (more) row.push(more);
        return row;
      }),
      e.dlqRetries,
      Math.max(0, STATUSES.indexOf(e.status)),
      e.seq,
      e.lastGeneration ?? 0,
      rest(e as unknown as Record<string, unknown>, ENTRY_FIELDS),
    ]);
  }
  return { v: 1, strings, rows };
}

export function unpackEntries(packed: DlqPackedEntries): DlqEntry[] {
  const { strings } = packed;
  const str = (r: Ref): string | undefined => (r === 0 ? undefined : strings[r - 1]);
  return (packed.rows as Row[]).map((row) => {
    const [id, type, sitekey, pageUrl, key, taskRest, taskKey, batchId, provider, failureClass, code, message, attempts, paidSubmits, first, last, received, history, dlqRetries, status, seq, lastGeneration, more] = row;
    const base = typeof first === 'number' ? first : 0;
    const task = {
      type: str(type),
      ...(sitekey !== 0 && { sitekey: str(sitekey) }),
      ...(pageUrl !== 0 && { pageUrl }),
      ...(key !== 0 && { key }),
      ...(taskRest || {}),
    } as CaptchaTask;
    const b = str(batchId);
    return {
      id,
      task,
      taskKey: taskKey === 0 ? (key === 0 ? '' : key) : taskKey,
      ...(b !== undefined && { batchId: b }),
      provider: str(provider) ?? '',
      failureClass: str(failureClass) as FailureClass,
      code: str(code) ?? '',
      message: str(message) ?? '',
      attempts,
      paidSubmits,
      firstFailedAt: untime(first, 0),
      lastFailedAt: untime(last, base),
      history: history.map(([round, providerTaskId, cls, hcode, hmessage, at, extra]): AttemptRecord => ({
        round,
        ...(providerTaskId !== 0 && { providerTaskId }),
        failureClass: str(cls) as FailureClass,
        code: str(hcode) ?? '',
        message: str(hmessage) ?? '',
        at: untime(at, base),
        ...(extra ?? {}),
      })),
      dlqRetries,
      status: STATUSES[status] ?? 'dead',
      seq,
      receivedAt: untime(received, base),
      ...(lastGeneration !== 0 && { lastGeneration }),
      ...(more || {}),
    };
  });
}

/** A normalized ISO time as milliseconds after `base`; anything else as it is (it round-trips either way). */
function time(iso: string, base: number): Time {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) && new Date(ms).toISOString() === iso ? ms - base : iso;
}

function untime(t: Time, base: number): string {
  return typeof t === 'number' ? new Date(base + t).toISOString() : t;
}

function rest(o: Record<string, unknown>, known: Set<string>): Record<string, unknown> | 0 {
  let out: Record<string, unknown> | 0 = 0;
  for (const [k, v] of Object.entries(o)) {
    if (known.has(k) || v === undefined) continue;
    out ||= {};
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
