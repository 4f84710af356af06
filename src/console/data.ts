// What the console reads and orders, all through the client library (CaptchaSolver): the same queries and validated
// updates as the CLI, no second path to the DLQ.
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { CaptchaSolver } from '../client';
import { WORKFLOW_TYPES } from '../domain/names';
import type { BatchProgress, BatchSummary, DlqAuditRecord, DlqEntry, DlqFilter, DlqOperationResult, DlqStats } from '../../workflows/messages';
import type { OrderInput } from './input';
import { orderProgress, type OrderProgress } from '../client/order-progress';

/** Entries a preview reads at most to break a selection down by class. */
export const PREVIEW_SCAN_MAX = 5_000;
/** Batches the batches page lists (newest first). */
export const BATCHES_SHOWN = 25;
const QUERY_TIMEOUT_MS = 5_000;

/** Numbers and chart series of the overview, computed once for the page and for its JSON. */
export interface StatsView {
  running: boolean;
  asOf: string | null;
  numbers: Record<string, number>;
  charts: Record<'byCode' | 'byClass' | 'byBatch' | 'bySitekey' | 'outcomes', [string, number][]>;
  /** 24 counts, UTC hours 00 … 23 */
  hours: number[];
}

export const NUMBER_LABELS: Record<string, string> = {
  total: 'entries held',
  dead: 'dead (waiting)',
  retrying: 'retrying',
  parked: 'parked',
  retriesInFlight: 'retries in flight',
  retriesQueued: 'retries queued',
  recovered: 'recovered, ever',
  discarded: 'discarded, ever',
  purged: 'purged, ever',
  paidSubmitsOnDead: 'paid submits on held entries',
};

const sorted = (counts: Record<string, number>, top = 12): [string, number][] =>
  Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, top);

export function statsView(s: DlqStats | undefined): StatsView {
  if (!s) {
    return {
      running: false,
      asOf: null,
      numbers: Object.fromEntries(Object.keys(NUMBER_LABELS).map((k) => [k, 0])),
      charts: { byCode: [], byClass: [], byBatch: [], bySitekey: [], outcomes: [] },
      hours: Array.from({ length: 24 }, () => 0),
    };
  }
  const numbers: Record<string, number> = {
    total: s.total,
    dead: s.byStatus.dead ?? 0,
    retrying: s.byStatus.retrying ?? 0,
    parked: s.byStatus.parked ?? s.parked,
    retriesInFlight: s.retriesInFlight,
    retriesQueued: s.retriesQueued ?? 0,
    recovered: s.recovered,
    discarded: s.discarded,
    purged: s.purged ?? 0,
    paidSubmitsOnDead: s.paidSubmitsOnDead,
  };
  return {
    running: true,
    asOf: s.asOf,
    numbers,
    charts: {
      byCode: sorted(s.byCode),
      byClass: sorted(s.byClass),
      byBatch: sorted(s.byBatch),
      bySitekey: s.bySitekey.slice(0, 12).map((k) => [k.sitekey, k.count]),
      outcomes: [
        ['recovered', numbers.recovered!],
        ['discarded', numbers.discarded!],
        ['purged', numbers.purged!],
        ['parked', numbers.parked!],
        ['dead', numbers.dead!],
        ['retrying', numbers.retrying!],
      ],
    },
    hours: Array.from({ length: 24 }, (_, h) => s.byHour[String(h).padStart(2, '0')] ?? 0),
  };
}

/** The DLQ's stats, or undefined while it does not exist (no failure recorded yet). */
export async function readStats(solver: CaptchaSolver): Promise<DlqStats | undefined> {
  try {
    return await solver.dlq().stats({ top: 12 });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** One entry by id, wherever it is held (front or shard); undefined when no longer held. */
export async function readEntry(solver: CaptchaSolver, id: string): Promise<DlqEntry | undefined> {
  for await (const page of solver.dlq().pages({ ids: [id] }, 1)) {
    if (page.entries[0]) return page.entries[0];
  }
  return undefined;
}

export interface Preview {
  order: OrderInput;
  dryRun: DlqOperationResult;
  /** the selection by class and status (entries read; `complete` false when over PREVIEW_SCAN_MAX) */
  byClass: Record<string, number>;
  byStatus: Record<string, number>;
  permanentCodes: string[];
  scanned: number;
  complete: boolean;
  requestId: string;
}

function request(order: OrderInput, by: string, reason: string, extra: { dryRun: boolean; requestId?: string }) {
  return { ...order.filter, ...(order.all && { all: true }), reason, by, ...extra };
}

/** The DLQ's own dry-run count, and the selection broken down by class (permanent-class entries called out). */
export async function preview(solver: CaptchaSolver, order: OrderInput, by: string): Promise<Preview> {
  const dlq = solver.dlq();
  const requestId = `console-${randomUUID()}`;
  const dryRun = await dlq[order.operation](request(order, by, 'dry run from the console', { dryRun: true }));
  const byClass: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  const permanent = new Set<string>();
  let scanned = 0;
  let complete = true;
  const filter: DlqFilter = order.filter;
  outer: for await (const page of dlq.pages(filter, 500)) {
    for (const e of page.entries) {
      if (scanned >= PREVIEW_SCAN_MAX) {
        complete = false;
        break outer;
      }
      scanned++;
      byClass[e.failureClass] = (byClass[e.failureClass] ?? 0) + 1;
      byStatus[e.status] = (byStatus[e.status] ?? 0) + 1;
      if (e.failureClass === 'permanent') permanent.add(e.code);
    }
  }
  return { order, dryRun, byClass, byStatus, permanentCodes: [...permanent].sort(), scanned, complete, requestId };
}

export interface OrderOutcome {
  result: DlqOperationResult;
  audit: DlqAuditRecord | undefined;
}

export async function runOrder(solver: CaptchaSolver, order: OrderInput & { reason: string; requestId: string }, by: string): Promise<OrderOutcome> {
  const dlq = solver.dlq();
  const result = await dlq[order.operation](request(order, by, order.reason, { dryRun: false, requestId: order.requestId }));
  const audit = (await dlq.audit({ limit: 100 })).find((r) => r.requestId === result.requestId);
  return { result, audit };
}

/** A retry order's progress from its audit record (the DLQ's own per-order figures), or undefined. */
export async function readOrderProgress(solver: CaptchaSolver, requestId: string): Promise<OrderProgress | undefined> {
  const record = (await solver.dlq().audit({ limit: 500 })).find((r) => r.requestId === requestId);
  return (record && orderProgress(record)) ?? undefined;
}

export interface BatchRow {
  batchId: string;
  status: string;
  startTime: string;
  closeTime: string | null;
  progress?: BatchProgress;
  summary?: BatchSummary;
  /** why progress is missing (a query that timed out: no worker) */
  note?: string;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s (is a worker running?)`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Running and recent batches (newest first), with live progress for the running ones. */
export async function listBatches(solver: CaptchaSolver): Promise<BatchRow[]> {
  const rows: BatchRow[] = [];
  for await (const wf of solver.client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPES.batch}'`, pageSize: BATCHES_SHOWN })) {
    rows.push({ batchId: wf.workflowId, status: wf.status.name, startTime: wf.startTime.toISOString(), closeTime: wf.closeTime?.toISOString() ?? null });
    if (rows.length >= BATCHES_SHOWN) break;
  }
  await Promise.all(
    rows.map(async (row) => {
      const b = solver.batch(row.batchId);
      try {
        if (row.status === 'RUNNING') row.progress = await withTimeout(b.progress(), QUERY_TIMEOUT_MS);
        else if (row.status === 'COMPLETED') row.summary = await withTimeout(b.result(), QUERY_TIMEOUT_MS);
      } catch (err) {
        row.note = err instanceof Error ? err.message.slice(0, 200) : 'no progress';
      }
    }),
  );
  return rows;
}
