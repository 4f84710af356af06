// The DLQ's pure rules, without a Temporal server: filters, counts, packed state, request validation, routing, report
// sanitising, snapshot checks, settings. Each module is imported directly (none needs the workflow sandbox); what only
// a server shows stays in test/dlq.test.ts and test/dlq-guard.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DLQ_STATS_MEMO_CHARS_MAX, type DlqAuditRecord, type DlqEntry, type DlqForwardedOrder, type DlqRunState, type DlqShardSnapshot, type DlqStats } from '../workflows/messages';
import { addToAgg, capKeys, countsOf, dict, emptyAgg, mergeCounts, topN } from '../workflows/dlq/counts';
import { firstAfter, selectEntries } from '../workflows/dlq/filters';
import { PROBLEMS_MAX, SNAPSHOT_KEYS_MAX } from '../workflows/dlq/limits';
import { checkForwarded, parseIntRequest, parseList, parseOrder, parseResetShard } from '../workflows/dlq/requests';
import { knownClass } from '../src/domain/types';
import { checkReport, nonNegative, sanitizeHistory, scrubReportText } from '../workflows/dlq/reports';
import { dlqShardOf, dlqShardWorkflowId, dlqWorkflowIdFor, fnv1a32 } from '../src/domain/dlq-routing';
import { DLQ_DEFAULTS, resolveSettings, shardSettings } from '../workflows/dlq/settings';
import { checkSnapshot, untilSnapshotSlot } from '../workflows/dlq/snapshots';
import { addShardTallies, checkOrderTallies, countOutcome, emptyOutcomes, ORDER_TALLIES_IN_SNAPSHOT, orderTallies, withProgress } from '../workflows/dlq/outcomes';
import { orderProgress } from '../src/client/order-progress';
import { auditTable, previewPage } from '../src/console/views';
import { PUBLISHED_TOP, publishedStats } from '../workflows/dlq/published';
import { carriedState, freshState, removedKey, revive } from '../workflows/dlq/state';
import { addCost, addEntryCost, cutToBudget, describeBudgetUse, emptyRetryCost, mergeBudgetUse, mergeRetryCost, overBudgetMessage, submitsPerRetry, worstCaseMicros } from '../src/domain/dlq-cost';

const NOW = '2026-01-02T03:04:05.000Z';

function entry(id: string, over: Partial<DlqEntry> = {}): DlqEntry {
  return {
    id,
    task: { type: 'recaptcha-v2', sitekey: 'sk-a', pageUrl: 'https://example.test/', key: id },
    taskKey: id,
    provider: 'sim',
    failureClass: 'permanent',
    code: 'ERROR_CAPTCHA_UNSOLVABLE',
    message: 'unsolvable',
    attempts: 1,
    paidSubmits: 1,
    firstFailedAt: '2026-01-01T10:00:00.000Z',
    lastFailedAt: '2026-01-01T10:00:00.000Z',
    history: [],
    dlqRetries: 0,
    status: 'dead',
    seq: 1,
    receivedAt: '2026-01-01T10:00:01.000Z',
    ...over,
  };
}

function byId(...entries: DlqEntry[]): Record<string, DlqEntry> {
  return Object.fromEntries(entries.map((e) => [e.id, e]));
}

function errorOf(p: { ok: true } | { ok: false; error: string }): string {
  assert.equal(p.ok, false, 'expected a rejection');
  return (p as { error: string }).error;
}

describe('filters', () => {
  const a = entry('a', { seq: 1, code: 'X', status: 'dead', batchId: 'b1', lastFailedAt: '2026-01-01T10:00:00.000Z' });
  const b = entry('b', { seq: 2, code: 'X', status: 'parked', lastFailedAt: '2026-01-01T11:00:00.000Z', receivedAt: '2026-01-01T11:00:01.000Z' });
  const c = entry('c', { seq: 3, code: 'Y', status: 'dead', task: { type: 'image', body: 'aGk=' }, lastFailedAt: '2026-01-01T12:00:00.000Z', receivedAt: '2026-01-01T12:00:01.000Z' });
  const entries = byId(a, b, c);
  const ids = (es: DlqEntry[]) => es.map((e) => e.id);

  void test('fields AND together, values within a field OR', () => {
    assert.deepEqual(ids(selectEntries(entries, { errorCodes: ['X'], statuses: ['dead'] }, {})), ['a']);
    assert.deepEqual(ids(selectEntries(entries, { errorCodes: ['X', 'Y'] }, {})), ['a', 'b', 'c']);
    assert.deepEqual(ids(selectEntries(entries, { batchIds: ['b1'] }, {})), ['a'], 'entries without a batch never match a batch filter');
    assert.deepEqual(ids(selectEntries(entries, { sitekeys: ['(image)'] }, {})), ['c'], 'an image task is counted and filtered as "(image)"');
  });

  void test('since is inclusive, until exclusive, on lastFailedAt', () => {
    assert.deepEqual(ids(selectEntries(entries, { since: '2026-01-01T11:00:00.000Z', until: '2026-01-01T12:00:00.000Z' }, {})), ['b']);
  });

  void test('ids keep their order, repeat once, and skip unknown ids and prototype keys', () => {
    assert.deepEqual(ids(selectEntries(entries, { ids: ['c', 'a', 'c', 'nope', '__proto__', 'constructor'] }, {})), ['c', 'a']);
  });

  void test('a watermark leaves out what arrived after the order', () => {
    assert.deepEqual(ids(selectEntries(entries, {}, { seq: 3 })), ['a', 'b'], 'own orders: seq below the watermark');
    assert.deepEqual(ids(selectEntries(entries, {}, { at: '2026-01-01T11:00:01.000Z' })), ['a', 'b'], 'forwarded orders: received at or before');
  });

  void test('firstAfter finds the first seq after a cursor', () => {
    const sorted = [entry('x', { seq: 2 }), entry('y', { seq: 5 }), entry('z', { seq: 9 })];
    assert.deepEqual([0, 1, 2, 5, 8, 9, 10].map((s) => firstAfter(sorted, s)), [0, 0, 1, 2, 2, 3, 3]);
  });
});

describe('counts', () => {
  void test('an entry counted in and out leaves no key behind', () => {
    const agg = emptyAgg();
    const e = entry('a', { batchId: 'b1', lastFailedAt: '2026-01-01T07:30:00.000Z', paidSubmits: 3, spentMicros: 8970 });
    addToAgg(agg, e, 1);
    assert.equal(agg.spentMicros, 8970);
    assert.equal(agg.total, 1);
    assert.equal(agg.byHour['07'], 1);
    assert.equal(agg.byBatch.b1, 1);
    assert.equal(agg.paidSubmits, 3);
    addToAgg(agg, e, -1);
    assert.deepEqual({ ...agg, byCode: { ...agg.byCode }, byClass: { ...agg.byClass }, bySitekey: { ...agg.bySitekey }, byHour: { ...agg.byHour }, byBatch: { ...agg.byBatch }, spentByCode: { ...agg.spentByCode } }, {
      total: 0,
      byStatus: { dead: 0, retrying: 0, parked: 0 },
      byCode: {},
      byClass: {},
      bySitekey: {},
      byHour: {},
      byBatch: {},
      paidSubmits: 0,
      spentMicros: 0,
      spentByCode: {},
    });
  });

  void test('any string is a safe count key', () => {
    const agg = emptyAgg();
    addToAgg(agg, entry('a', { code: '__proto__', task: { type: 'recaptcha-v2', sitekey: 'constructor' } }), 1);
    assert.equal(agg.byCode['__proto__'], 1);
    assert.equal(agg.bySitekey.constructor, 1);
    assert.equal(Object.getPrototypeOf(dict()), null);
  });

  void test('own counts cap sitekeys at the largest and say so', () => {
    const agg = emptyAgg();
    for (let i = 0; i <= SNAPSHOT_KEYS_MAX; i++) addToAgg(agg, entry(`e${i}`, { task: { type: 'recaptcha-v2', sitekey: `sk-${String(i).padStart(3, '0')}` } }), 1);
    addToAgg(agg, entry('extra', { task: { type: 'recaptcha-v2', sitekey: 'sk-050' } }), 1);
    const counts = countsOf(agg, freshState(), '2026-01-01T10:00:00.000Z');
    assert.equal(counts.truncated, true);
    assert.equal(Object.keys(counts.bySitekey).length, SNAPSHOT_KEYS_MAX);
    assert.equal(counts.bySitekey['sk-050'], 2, 'the largest key is kept');
    assert.equal(capKeys({ a: 1 }).truncated, false);
  });

  void test('merged counts add up and keep the earliest oldest entry', () => {
    const agg = emptyAgg();
    addToAgg(agg, entry('a'), 1);
    const into = countsOf(agg, freshState(), '2026-01-01T10:00:00.000Z');
    const shard = countsOf(agg, freshState(), '2025-12-31T00:00:00.000Z');
    shard.recovered = 4;
    mergeCounts(into, shard);
    assert.equal(into.total, 2);
    assert.equal(into.byStatus.dead, 2);
    assert.equal(into.byCode.ERROR_CAPTCHA_UNSOLVABLE, 2);
    assert.equal(into.recovered, 4);
    assert.equal(into.oldestFailedAt, '2025-12-31T00:00:00.000Z');
  });

  void test('topN orders by count, ties by key', () => {
    assert.deepEqual(topN({ b: 2, a: 2, c: 5, d: 1 }, 3), [['c', 5], ['a', 2], ['b', 2]]);
  });
});

describe('carried state', () => {
  void test('entries travel packed and come back whole', () => {
    const state = freshState();
    state.entries = byId(entry('a', { seq: 1 }), entry('b', { seq: 2, status: 'parked', dlqRetries: 3, batchId: 'b1' }));
    const carried = JSON.parse(JSON.stringify(carriedState(state))) as DlqRunState;
    assert.deepEqual(carried.entries, {});
    assert.ok(carried.packed, 'entries are carried as packed rows');
    assert.deepEqual(revive(carried).entries, state.entries);
  });

  void test('a state from an older run gains the fields it lacks', () => {
    const old = { version: 1, run: 4, nextSeq: 9, entries: {}, queue: [], inFlight: {}, counters: { received: 7 }, audit: [], removed: [], alerts: [], depthAlertArmed: true, shards: {} };
    const revived = revive(old as unknown as DlqRunState);
    assert.equal(revived.run, 4);
    assert.deepEqual(revived.counters, { received: 7, duplicateReports: 0, recovered: 0, discarded: 0, purged: 0 });
    assert.deepEqual(revived.requests, { ids: [], results: [] });
    assert.deepEqual(revived.snapshot, { seq: 0, dirty: false });
  });

  void test('a removed key tells apart two failures of the same id', () => {
    assert.notEqual(removedKey('a', '2026-01-01T00:00:00.000Z'), removedKey('a', '2026-01-02T00:00:00.000Z'));
  });
});

describe('requests', () => {
  void test('an order is normalized: times to ISO, repeated values once, defaults filled', () => {
    const p = parseOrder('discard', { errorCodes: ['X', 'X', 'Y'], since: '2026-01-01T00:00:00+02:00', reason: '  bad pages ' });
    assert.ok(p.ok);
    assert.deepEqual(p.order, { filter: { errorCodes: ['X', 'Y'], since: '2025-12-31T22:00:00.000Z' }, all: false, reason: 'bad pages', by: 'unknown', dryRun: false });
  });

  void test('an order without a filter needs "all": true; discard and purge need a reason', () => {
    assert.match(errorOf(parseOrder('retry', {})), /empty filter: name the entries .* or pass "all": true/);
    assert.ok(parseOrder('retry', { all: true }).ok);
    assert.match(errorOf(parseOrder('purge', { all: true })), /reason is required: say why these entries are purged/);
  });

  void test('mistakes are named: unknown fields with a hint, a nested filter, an unknown class, a reversed range', () => {
    assert.match(errorOf(parseOrder('retry', { codes: ['X'] })), /unknown field "codes" \(did you mean "errorCodes"\?\)/);
    assert.match(errorOf(parseOrder('retry', { filter: { errorCodes: ['X'] } })), /put the filter fields at the top level/);
    assert.match(errorOf(parseOrder('retry', { classes: ['nope'] })), /classes: "nope" is not one of transient, /);
    assert.match(errorOf(parseOrder('retry', { since: '2026-02-01T00:00:00Z', until: '2026-01-01T00:00:00Z' })), /must be before until/);
    assert.match(errorOf(parseOrder('retry', { since: '2026-02-01 noon' })), /since must be an ISO time with a zone/);
    assert.match(errorOf(parseOrder('retry', null)), /expected a JSON object .* \(got null\)/);
  });

  void test('oversized orders are refused in one short sentence naming the largest field', () => {
    const error = errorOf(parseOrder('discard', { all: true, reason: 'r'.repeat(3_000_000) }));
    assert.match(error, /the discard order is 3,000,\d+ characters of JSON, at most [\d,]+: "reason" holds/);
    assert.ok(error.length <= PROBLEMS_MAX);
    const many = Array.from({ length: 1_001 }, (_, i) => `id-${i}`);
    assert.match(errorOf(parseOrder('retry', { ids: many })), /ids has 1001 values; at most 1000/);
    assert.ok(parseOrder('retry', { ids: many }, false).ok, 'runs from before the bound take up to 10,000');
    const noisy = errorOf(parseOrder('retry', Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`field${i}`, 1]))));
    assert.ok(noisy.length <= PROBLEMS_MAX && noisy.endsWith('…'), 'a long list of problems is cut');
  });

  void test('a list request takes a cursor of either form and a bounded limit', () => {
    const plain = parseList(undefined);
    assert.ok(plain.ok);
    assert.equal(plain.limit, 100);
    const p = parseList({ cursor: '3:17', limit: 50 });
    assert.ok(p.ok);
    assert.deepEqual(p.cursor, { shard: 3, seq: 17, text: '3:17' });
    const bare = parseList({ cursor: 17 });
    assert.ok(bare.ok);
    assert.deepEqual(bare.cursor, { seq: 17, text: '17' });
    assert.match(errorOf(parseList({ cursor: 'abc' })), /cursor must be the nextCursor of a previous page/);
    assert.match(errorOf(parseList({ limit: 501 })), /limit must be an integer from 1 to 500/);
  });

  void test('stats and audit requests take one bounded integer', () => {
    assert.deepEqual(parseIntRequest(undefined, 'top', 1, 1_000, 10, 'stats'), { ok: true, value: 10 });
    assert.deepEqual(parseIntRequest({ top: 3 }, 'top', 1, 1_000, 10, 'stats'), { ok: true, value: 3 });
    assert.match(errorOf(parseIntRequest({ top: 0, x: 1 }, 'top', 1, 1_000, 10, 'stats')), /invalid stats request: unknown field "x"; top must be an integer from 1 to 1000 \(got 0\)/);
  });

  void test('a forwarded order needs an operation, a watermark, a request id and a valid request', () => {
    const ok: DlqForwardedOrder = { operation: 'retry', request: { all: true, requestId: 'r1' }, watermarkAt: NOW, from: 'captcha-dlq', settings: {} };
    assert.equal(checkForwarded(ok, true), undefined);
    assert.match(checkForwarded({ ...ok, operation: 'drop' as 'retry' }, true)!, /unknown operation "drop"/);
    assert.equal(checkForwarded({ ...ok, watermarkAt: 'soon' }, true), 'watermarkAt must be an ISO time');
    assert.match(checkForwarded({ ...ok, request: { requestId: 'r1' } }, true)!, /empty filter/);
  });

  void test('a shard reset names a shard of this front and a reason', () => {
    const none = () => false;
    const p = parseResetShard({ shard: 2, reason: 'forged' }, 'captcha-dlq', 4, none);
    assert.ok(p.ok);
    assert.deepEqual(p.request, { workflowId: 'captcha-dlq/shard-2', shard: 2, reason: 'forged', by: 'unknown' });
    assert.match(errorOf(parseResetShard({ shard: 4, reason: 'x' }, 'captcha-dlq', 4, none)), /shard 4 is not a shard of captcha-dlq: give an index from 1 to 3/);
    assert.match(errorOf(parseResetShard({ shard: 1 }, 'captcha-dlq', 1, none)), /reason is required.*\(it has no shards\)/);
    assert.ok(parseResetShard({ shard: 7, reason: 'x' }, 'captcha-dlq', 4, (id) => id === 'captcha-dlq/shard-7').ok, 'a shard that sent a snapshot can be reset');
  });
});

describe('routing', () => {
  void test('FNV-1a matches its reference values', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  });

  void test('one shard keeps everything at the front; more spread evenly and stably', () => {
    assert.equal(dlqShardOf(1, 'anything'), 0);
    assert.equal(dlqWorkflowIdFor('captcha-dlq', 1, 'anything'), 'captcha-dlq');
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) counts[dlqShardOf(10, `batch-1/task-${i}`)]!++;
    assert.ok(counts.every((n) => n > 800 && n < 1_200), `uneven: ${counts.join(', ')}`);
    assert.equal(dlqShardOf(10, 'batch-1/task-7'), dlqShardOf(10, 'batch-1/task-7'));
    assert.equal(dlqShardWorkflowId('captcha-dlq', 0), 'captcha-dlq');
    assert.equal(dlqShardWorkflowId('captcha-dlq', 3), 'captcha-dlq/shard-3');
  });
});

describe('reports', () => {
  void test('secrets in provider messages are masked and long messages cut', () => {
    assert.equal(scrubReportText('bad request apikey=abc123 and "clientKey": "xyz"'), 'bad request apikey=[REDACTED] and "clientKey": "[REDACTED]"');
    const cut = scrubReportText('x'.repeat(600));
    assert.equal(cut.length, 500);
    assert.ok(cut.endsWith('…'));
  });

  void test('a report is lenient about details and strict about identity', () => {
    assert.equal(errorOf(checkReport({ entryId: '__proto__', task: { type: 'image' } }, NOW, true)), 'entryId must be a non-empty string (the solve workflow id)');
    assert.equal(errorOf(checkReport({ entryId: 'e1', task: 'x' }, NOW, true)), 'task of e1 must be a captcha task object');
    const r = checkReport({ entryId: 'e1', task: { type: 'image', key: 'k1' }, failureClass: 'weird', attempts: -3, paidSubmits: 2.7, failedAt: 'later', message: 'key=s3cret' }, NOW, true);
    assert.ok(r.ok);
    assert.equal(r.report.taskKey, 'k1', 'taskKey falls back to the task key');
    assert.equal(r.report.failureClass, 'internal');
    assert.equal(r.report.attempts, 0);
    assert.equal(r.report.paidSubmits, 2);
    assert.equal(r.report.failedAt, NOW);
    assert.equal(r.report.message, 'key=[REDACTED]');
    assert.equal(r.report.code, 'UNKNOWN');
    assert.equal(r.report.provider, 'unknown');
  });

  void test('bounded reports: oversized ones refused, task ids kept to the latest fifty', () => {
    assert.match(errorOf(checkReport({ entryId: 'e1', task: { type: 'image' }, message: 'm'.repeat(70_000) }, NOW, true)), /the report of "e1" is [\d,]+ characters of JSON, at most 64,000: "message" holds/);
    const ids = Array.from({ length: 80 }, (_, i) => `t${i}`);
    const r = checkReport({ entryId: 'e1', task: { type: 'image' }, providerTaskIds: ids }, NOW, true);
    assert.ok(r.ok);
    assert.deepEqual(r.report.providerTaskIds, ids.slice(-50));
  });

  void test('a history keeps its last ten attempts, each rebuilt and scrubbed', () => {
    const raw = [...Array.from({ length: 12 }, (_, i) => ({ round: i, code: 'C', failureClass: 'transient', message: `apikey=k${i}`, at: NOW })), 'junk'];
    const h = sanitizeHistory(raw, NOW);
    assert.equal(h.length, 10);
    assert.deepEqual(h[9], { round: 11, failureClass: 'transient', code: 'C', message: 'apikey=[REDACTED]', at: NOW });
    assert.deepEqual(sanitizeHistory('nope', NOW), []);
    assert.equal(knownClass('account'), 'account');
    assert.equal(nonNegative(Number.NaN), 0);
  });
});

describe('snapshots', () => {
  const snapshot = (over: Partial<DlqShardSnapshot> = {}): DlqShardSnapshot => ({
    workflowId: 'captcha-dlq/shard-2',
    shard: 2,
    seq: 5,
    asOf: NOW,
    total: 3,
    byStatus: { dead: 2, retrying: 0, parked: 1 },
    byCode: { X: 3 },
    byClass: { permanent: 3 },
    bySitekey: { 'sk-a': 3 },
    byHour: { '10': 3 },
    byBatch: {},
    oldestFailedAt: '2026-01-01T10:00:00.000Z',
    recovered: 0,
    discarded: 0,
    purged: 0,
    paidSubmitsOnDead: 3,
    retriesInFlight: 0,
    retriesQueued: 0,
    received: 3,
    duplicateReports: 0,
    ...over,
  });

  void test('a snapshot from an own shard is taken, rebuilt field by field', () => {
    const r = checkSnapshot({ ...snapshot(), extra: 'dropped' }, 'captcha-dlq', 4);
    assert.ok(r.ok);
    assert.deepEqual({ ...r.snapshot, byCode: { ...r.snapshot.byCode }, byClass: { ...r.snapshot.byClass }, bySitekey: { ...r.snapshot.bySitekey }, byHour: { ...r.snapshot.byHour }, byBatch: { ...r.snapshot.byBatch } }, snapshot());
  });

  void test('foreign, inconsistent and malformed snapshots are refused', () => {
    assert.match(errorOf(checkSnapshot(snapshot({ workflowId: 'other/shard-2' }), 'captcha-dlq', 4)), /"other\/shard-2" \(shard 2\) is not a shard of captcha-dlq, which has 3 shard\(s\)/);
    assert.match(errorOf(checkSnapshot(snapshot(), 'captcha-dlq', 2)), /is not a shard of captcha-dlq/);
    assert.match(errorOf(checkSnapshot(snapshot({ total: 4 }), 'captcha-dlq', 4)), /byStatus adds up to 3, not total 4/);
    assert.match(errorOf(checkSnapshot(snapshot({ seq: 0 }), 'captcha-dlq', 4)), /seq must be a positive integer/);
    assert.match(errorOf(checkSnapshot(snapshot({ recovered: -1 }), 'captcha-dlq', 4)), /recovered must be a non-negative integer/);
    assert.match(errorOf(checkSnapshot({ ...snapshot(), orders: [['a', 1]] }, 'captcha-dlq', 4)), /captcha-dlq\/shard-2: orders must hold \[requestId, recovered, failed, cancelled\]/);
  });

  void test("a snapshot's order tallies are kept, rebuilt", () => {
    const r = checkSnapshot({ ...snapshot(), orders: [['req-1', 2, 1, 0]] }, 'captcha-dlq', 4);
    assert.ok(r.ok);
    assert.deepEqual(r.snapshot.orders, [['req-1', 2, 1, 0]]);
  });

  void test('shards push in slots of their own, spread over one cycle', () => {
    // 10 shards, at most 5 snapshots/s at the front: a cycle of 2 s, one slot every 200 ms
    const now = 1_000_000;
    const slots = Array.from({ length: 10 }, (_, shard) => (now + untilSnapshotSlot(shard, 10, 1_000, now)) % 2_000);
    assert.deepEqual([...slots].sort((x, y) => x - y), [0, 200, 400, 600, 800, 1_000, 1_200, 1_400, 1_600, 1_800]);
    for (let shard = 0; shard < 10; shard++) {
      const wait = untilSnapshotSlot(shard, 10, 1_000, now);
      assert.ok(wait >= 1 && wait <= 2_000, `shard ${shard} waits ${wait} ms`);
    }
    assert.equal(untilSnapshotSlot(1, 2, 1_000, 0), 200, 'few shards: the snapshot interval is the cycle');
  });
});

describe('settings', () => {
  void test('invalid values fall back to their defaults and are reported; the front’s settings win', () => {
    const invalid: string[] = [];
    const s = resolveSettings({ retryCap: -1, shardCount: 4, retryConcurrency: 8 }, { retryConcurrency: 2 }, 'q-own', (name) => invalid.push(name));
    assert.deepEqual(invalid, ['retryCap']);
    assert.equal(s.retryCap, DLQ_DEFAULTS.retryCap);
    assert.equal(s.retryConcurrency, 2);
    assert.equal(s.shardCount, 4);
    assert.equal(s.taskQueue, 'q-own');
    assert.equal(s.indexSitekeys, true);
  });

  void test('shards get the front’s limits split between them', () => {
    const s = resolveSettings({ shardCount: 4, retryConcurrency: 10, retryRatePerSecond: 8, taskQueue: 'q' }, undefined, 'q-own');
    const split = shardSettings(s);
    assert.equal(split.retryConcurrency, 3);
    assert.equal(split.retryRatePerSecond, 2);
    assert.equal(split.taskQueue, 'q');
    assert.equal(split.shardCount, 4);
  });
});

describe('published stats', () => {
  const stats = (keys: number, keyChars: number): DlqStats => {
    const key = (i: number) => `${String(i).padStart(4, '0')}${'x'.repeat(keyChars)}`;
    const record = Object.fromEntries(Array.from({ length: keys }, (_, i) => [key(i), keys - i]));
    return {
      total: 10, byStatus: { dead: 10, retrying: 0, parked: 0 }, byCode: record, byClass: { permanent: 10 },
      bySitekey: Array.from({ length: keys }, (_, i) => ({ sitekey: key(i), count: keys - i })), byHour: {}, byBatch: record,
      oldestFailedAt: NOW, oldestEntryAgeMs: 0, recovered: 0, discarded: 0, purged: 0, parked: 0, paidSubmitsOnDead: 10,
      retriesInFlight: 0, retriesQueued: 0, received: 10, duplicateReports: 0, unknownSignals: { count: 0, lastName: null },
      alerts: [], asOf: NOW, shards: [{ workflowId: 'dlq/shard-1', shard: 1, seq: 1, asOf: NOW, total: 0 }],
    };
  };
  const meta = { publishedAt: NOW, run: 1, seq: 1 };

  test('small stats are published whole, without the shard list', () => {
    const p = publishedStats(stats(3, 5), meta);
    assert.equal(Object.keys(p.byCode).length, 3);
    assert.equal(p.bySitekey.length, 3);
    assert.equal(p.shardsReporting, 1);
    assert.equal('shards' in p, false);
    assert.equal(p.truncated, undefined);
  });

  test('many keys: the largest ones are kept and marked truncated', () => {
    const p = publishedStats(stats(200, 5), meta);
    assert.equal(p.bySitekey.length, PUBLISHED_TOP.sitekeys);
    assert.equal(Object.keys(p.byCode).length, PUBLISHED_TOP.codes);
    assert.equal(Object.keys(p.byBatch).length, PUBLISHED_TOP.batches);
    assert.equal(p.bySitekey[0]!.count, 200);
    assert.equal(p.truncated, true);
  });

  test('long keys: halved until the snapshot fits the memo bound', () => {
    const p = publishedStats(stats(200, 900), meta);
    assert.ok(JSON.stringify(p).length <= DLQ_STATS_MEMO_CHARS_MAX, `${JSON.stringify(p).length} chars`);
    assert.equal(p.truncated, true);
    assert.ok(p.bySitekey.length > 0 && p.bySitekey.length < PUBLISHED_TOP.sitekeys);
  });
});

describe('a retry order priced at worst', () => {
  test('each entry counts its one-submit price and its worst case (every resubmit paid), by class; a budget is checked against the worst', () => {
    assert.equal(submitsPerRetry(undefined), 3, 'one submit and two resubmits by default');
    assert.equal(submitsPerRetry({ maxResubmits: 0 }), 1);
    assert.equal(worstCaseMicros(2990, 3), 8970);
    const cost = emptyRetryCost(3);
    addEntryCost(cost, 'resubmit', 'recaptcha-v2', { 'recaptcha-v2': 2990 });
    addEntryCost(cost, 'resubmit', 'recaptcha-v2', { 'recaptcha-v2': 2990 });
    addEntryCost(cost, 'permanent', 'hcaptcha', { 'recaptcha-v2': 2990 }); // no price for the type: free
    assert.deepEqual({ ...cost }, { totalMicros: 5980, byClass: { resubmit: 5980, permanent: 0 }, submitsPerEntry: 3, worstMicros: 17_940, worstByClass: { resubmit: 17_940, permanent: 0 }, warning: cost.warning });
    assert.match(cost.warning ?? '', /money thrown away/);
    // a shard's cost merges in; an older shard's, without a worst case, counts at the front's submits per entry
    mergeRetryCost(cost, { totalMicros: 100, byClass: { timeout: 100 } });
    assert.deepEqual([cost.totalMicros, cost.worstMicros, cost.worstByClass?.timeout], [6080, 18_240, 300]);
    addCost(cost, 'shards (at most)', 1000, 2);
    assert.deepEqual([cost.totalMicros, cost.worstMicros, cost.byClass['shards (at most)'], cost.worstByClass?.['shards (at most)']], [8080, 24_240, 2000, 6000]);
    // the same rule as a budgeted drain's: an entry fits when its worst case does
    assert.equal(cutToBudget([2990], worstCaseMicros(2990, 3) - 1, 3).take, 0);
    const only = emptyRetryCost(3);
    addEntryCost(only, 'resubmit', 'recaptcha-v2', { 'recaptcha-v2': 2990 });
    assert.equal(
      overBudgetMessage(1, only, 5000, false),
      'retry order refused: retrying 1 entries could cost up to $0.008970 at worst (3 paid submits each when every retry comes back unsolvable: resubmit $0.008970), over its budget of $0.005000; $0.002990 at one submit each',
    );
  });

  test('the console\'s dry run shows the expected cost and the worst case, by class', () => {
    const cost = emptyRetryCost(3);
    addEntryCost(cost, 'resubmit', 'recaptcha-v2', { 'recaptcha-v2': 2990 });
    addEntryCost(cost, 'permanent', 'recaptcha-v2', { 'recaptcha-v2': 2990 });
    const page = previewPage(
      { canAct: true, csrf: 'c', tokenMode: false },
      {
        order: { operation: 'retry', scope: 'filter', filter: { classes: ['resubmit', 'permanent'] }, all: false },
        dryRun: { operation: 'retry', requestId: 'r', dryRun: true, matched: 2, sample: [], skipped: 0, cost },
        byClass: { resubmit: 1, permanent: 1 },
        byStatus: { dead: 2 },
        permanentCodes: ['ERROR_WRONG_GOOGLEKEY'],
        scanned: 2,
        complete: true,
        requestId: 'console-r',
      },
    ).text;
    assert.match(page, /<table class="cost" data-expected="5980" data-worst="17940">/);
    assert.match(page, /<th>at worst \(3 paid submits each\)<\/th>/);
    assert.match(page, /<tr class="class-resubmit"><td>resubmit<\/td><td>\$0\.002990<\/td><td>\$0\.008970<\/td><\/tr>/);
    assert.match(page, /<td><strong>total<\/strong><\/td><td><strong>\$0\.005980<\/strong><\/td><td><strong>\$0\.017940<\/strong><\/td>/);
    assert.match(page, /data-money-warning>retrying permanent-class entries is money thrown away/);
  });
});

describe('a budgeted drain run', () => {
  test('takes the oldest entries while their worst case fits, stops at the first that does not, and prices the rest', () => {
    // three paid submits at worst each (1 + maxResubmits 2): 100 reserves 300; the third (150) passes 700, and the
    // cheap last one waits behind it rather than jumping the queue
    const cut = cutToBudget([100, 100, 50, 100, 10], 700, 3);
    assert.deepEqual(cut, { take: 2, budgetMicros: 700, submitsPerEntry: 3, reservedMicros: 600, left: 3, leftCostMicros: 160 });
    assert.equal(cutToBudget([100], 299, 3).take, 0);
    assert.equal(cutToBudget([100], 300, 3).take, 1);
    assert.deepEqual(cutToBudget([], 0, 3), { take: 0, budgetMicros: 0, submitsPerEntry: 3, reservedMicros: 0, left: 0, leftCostMicros: 0 });
    const into = { ...cut };
    mergeBudgetUse(into, { budgetMicros: 50, submitsPerEntry: 3, reservedMicros: 30, left: 1, leftCostMicros: 20 });
    assert.deepEqual([into.budgetMicros, into.reservedMicros, into.left, into.leftCostMicros], [700, 630, 4, 180]);
    assert.equal(
      describeBudgetUse(2, cut),
      'retried 2 entries reserving $0.000600 of the $0.000700 budget (3 paid submits each at worst); 3 left for a later run ($0.000160 at one submit each)',
    );
  });

  test('a fitBudget order needs a budget, and only a retry takes one', () => {
    const ok = parseOrder('retry', { all: true, prices: { 'recaptcha-v2': 2990 }, budgetMicros: 10_000, fitBudget: true });
    assert.ok(ok.ok && ok.order.fitBudget === true && ok.order.budgetMicros === 10_000);
    assert.match(errorOf(parseOrder('retry', { all: true, fitBudget: true })), /fitBudget needs budgetMicros: the budget to fit the retries in/);
    assert.match(errorOf(parseOrder('retry', { all: true, prices: {}, budgetMicros: 1, fitBudget: 'yes' })), /fitBudget must be true or false \(got "yes"\)/);
    assert.match(errorOf(parseOrder('discard', { all: true, reason: 'x', fitBudget: true })), /only a retry order has a cost/);
  });
});

describe('order outcomes', () => {
  const retry = (requestId: string, matched: number, over: Partial<DlqAuditRecord> = {}): DlqAuditRecord => ({
    operation: 'retry',
    requestId,
    by: 'ops',
    reason: 'r',
    at: NOW,
    matched,
    filter: { all: true },
    outcomes: emptyOutcomes(),
    ...over,
  });

  void test('a retry counts into its own order; orders before tracking and other operations are passed over', () => {
    const audit = [retry('a', 3), retry('old', 2, { outcomes: undefined }), { ...retry('d', 1), operation: 'discard' as const, outcomes: undefined }];
    assert.ok(countOutcome(audit, 'a', 'recovered', NOW));
    assert.ok(countOutcome(audit, 'a', 'failed', NOW));
    assert.equal(countOutcome(audit, 'old', 'recovered', NOW), false);
    assert.equal(countOutcome(audit, 'd', 'recovered', NOW), false);
    assert.equal(countOutcome(audit, 'gone', 'recovered', NOW), false);
    assert.deepEqual(withProgress(audit[0]!).outcomes, { recovered: 1, failed: 1, cancelled: 0, at: NOW });
    assert.equal(withProgress(audit[0]!).inFlight, 1);
    assert.equal(withProgress(audit[1]!).inFlight, undefined, 'not tracked: no in-flight figure');
    assert.equal(orderProgress(withProgress(audit[1]!)), null);
    assert.deepEqual(orderProgress(withProgress(audit[0]!)), { matched: 3, inFlight: 1, recovered: 1, failed: 1, cancelled: 0 });
  });

  void test("the front adds what a shard's snapshot changed, once; a reset takes it back out", () => {
    const audit = [retry('a', 10), retry('b', 4)];
    addShardTallies(audit, [['a', 2, 1, 0]], undefined, NOW);
    addShardTallies(audit, [['a', 3, 1, 0], ['b', 0, 2, 0], ['unknown', 5, 5, 5]], [['a', 2, 1, 0]], NOW);
    addShardTallies(audit, [['a', 3, 1, 0], ['b', 0, 2, 0]], [['a', 3, 1, 0], ['b', 0, 2, 0]], NOW); // the same again: no change
    assert.deepEqual([audit[0]!.outcomes!.recovered, audit[0]!.outcomes!.failed, audit[1]!.outcomes!.failed], [3, 1, 2]);
    addShardTallies(audit, [['a', 3, 1, 0], ['b', 0, 2, 0]], undefined, NOW, -1);
    assert.deepEqual([audit[0]!.outcomes!.recovered, audit[0]!.outcomes!.failed, audit[1]!.outcomes!.failed], [0, 0, 0]);
  });

  void test("a shard's snapshot carries its latest retry orders that matched here, bounded, and the front checks them", () => {
    const audit = Array.from({ length: 30 }, (_, i) => retry(`r${i}`, i % 5 === 0 ? 0 : 1));
    const tallies = orderTallies(audit);
    assert.equal(tallies.length, ORDER_TALLIES_IN_SNAPSHOT);
    assert.equal(tallies[0]![0], 'r29', 'newest first');
    assert.ok(tallies.every((t) => t[0] !== 'r25'), 'orders that matched nothing here are left out');
    assert.deepEqual(checkOrderTallies([['a', 1, 2, 3]], 20), { ok: true, tallies: [['a', 1, 2, 3]] });
    assert.match(errorOf(checkOrderTallies([['a', -1, 0, 0]], 20)), /non-negative integer counts/);
    assert.match(errorOf(checkOrderTallies(Array.from({ length: 21 }, () => ['a', 0, 0, 0]), 20)), /at most 20 order tallies/);
    assert.match(errorOf(checkOrderTallies('x', 20)), /list/);
  });

  void test('the console shows a tracked order\'s figures and says when an older retry order\'s are not tracked', () => {
    const tracked = withProgress(retry('new', 5, { outcomes: { recovered: 3, failed: 1, cancelled: 0 } }));
    const old = retry('old', 2, { outcomes: undefined });
    const page = auditTable([tracked, old]).text;
    assert.match(page, /<tr data-request="new">.*<td data-order-field="inFlight">1<\/td><td data-order-field="recovered">3<\/td><td data-order-field="failed">1<\/td>/);
    assert.match(page, /<tr data-request="old">.*<td colspan="3" class="muted" title="not tracked for retry orders given before[^"]*">not tracked<\/td>/);
    assert.match(page, /<p class="muted">not tracked for retry orders given before the DLQ counted outcomes per order/);
  });
});
