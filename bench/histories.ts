// What a run costs in Temporal: history events, the Temporal Cloud actions it would bill, the runs of a workflow id,
// and the heartbeats that reached the server (read from the dev server's Prometheus endpoint).
import type { Client, WorkflowHandle } from '@temporalio/client';

export type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

/**
 * Billable actions in one history, per docs.temporal.io/cloud/actions:
 * - workflow started (client start, signal-with-start, continue-as-new): 1; a child's own start: 0 here, because the
 *   parent's StartChildWorkflowExecutionInitiated counts 2 (the start and the execution);
 * - every activity attempt: the `attempt` of its ActivityTaskStarted (attempts 1…n are all billed);
 * - timer started, search-attribute upsert, signal sent by the workflow, accepted update: 1 each; an upsert of
 *   `TemporalChangeVersion` alone (the SDK's, with each `patched()`) is exempt;
 * - local activities: 1 for all those one workflow task ran (their markers name the task that recorded them);
 *   `patched()` markers: none (side effects are billed in the Go and Java SDKs only);
 * - a signal received from a client (no external sender recorded): 1; one sent by a workflow is billed at the sender.
 * Not in a history, so counted elsewhere: heartbeats that reach the server (see `heartbeatRequests`) and queries.
 */
export interface ActionCount {
  total: number;
  byKind: Record<string, number>;
}

export function countActions(history: History): ActionCount {
  const byKind: Record<string, number> = {};
  const add = (kind: string, n = 1) => {
    if (n > 0) byKind[kind] = (byKind[kind] ?? 0) + n;
  };
  const localActivityTasks = new Set<string>();
  for (const e of history.events ?? []) {
    const started = e.workflowExecutionStartedEventAttributes;
    if (started && !started.parentWorkflowExecution) add(started.continuedExecutionRunId ? 'continue-as-new' : 'workflow started');
    if (e.startChildWorkflowExecutionInitiatedEventAttributes) add('child workflow', 2);
    if (e.activityTaskStartedEventAttributes) add('activity attempt', e.activityTaskStartedEventAttributes.attempt ?? 1);
    if (e.timerStartedEventAttributes) add('timer');
    const upserted = Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {});
    if (e.upsertWorkflowSearchAttributesEventAttributes && upserted.some((key) => key !== 'TemporalChangeVersion')) add('search-attribute upsert');
    if (e.signalExternalWorkflowExecutionInitiatedEventAttributes) add('signal sent');
    if (e.workflowExecutionSignaledEventAttributes && !e.workflowExecutionSignaledEventAttributes.externalWorkflowExecution) add('client signal');
    if (e.workflowExecutionUpdateAcceptedEventAttributes) add('update');
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') localActivityTasks.add(String(marker.workflowTaskCompletedEventId ?? e.eventId));
    else if (marker && marker.markerName !== 'core_patch') add('marker');
  }
  add('local activities', localActivityTasks.size);
  return { total: Object.values(byKind).reduce((a, b) => a + b, 0), byKind };
}

export function sumActions(counts: ActionCount[]): ActionCount {
  const byKind: Record<string, number> = {};
  for (const c of counts) for (const [k, v] of Object.entries(c.byKind)) byKind[k] = (byKind[k] ?? 0) + v;
  return { total: counts.reduce((n, c) => n + c.total, 0), byKind };
}

export function divideActions(count: ActionCount, by: number): ActionCount {
  return {
    total: round(count.total / by, 2),
    byKind: Object.fromEntries(Object.entries(count.byKind).map(([k, v]) => [k, round(v / by, 2)])),
  };
}

export async function fetchHistory(client: Client, workflowId: string, runId?: string): Promise<History> {
  return client.workflow.getHandle(workflowId, runId).fetchHistory();
}

/** Histories of many workflows, `parallel` at a time. */
export async function fetchHistories(client: Client, workflowIds: string[], parallel = 16): Promise<History[]> {
  const out: History[] = new Array(workflowIds.length);
  let next = 0;
  const lane = async () => {
    while (next < workflowIds.length) {
      const i = next++;
      out[i] = await fetchHistory(client, workflowIds[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, workflowIds.length) }, lane));
  return out;
}

export interface RunLength {
  workflowId: string;
  runId: string;
  historyLength: number;
  status: string;
}

/**
 * Every run (continue-as-new chain included) of the workflows a visibility query finds, with its history length as
 * the server describes it now. Visibility lags a little: call it once the workflows have settled.
 */
export async function runLengths(client: Client, query: string): Promise<RunLength[]> {
  const runs: { workflowId: string; runId: string }[] = [];
  for await (const w of client.workflow.list({ query })) runs.push({ workflowId: w.workflowId, runId: w.runId });
  const out: RunLength[] = [];
  let next = 0;
  const lane = async () => {
    while (next < runs.length) {
      const r = runs[next++]!;
      const d = await client.workflow.getHandle(r.workflowId, r.runId).describe();
      out.push({ ...r, historyLength: d.historyLength, status: d.status.name });
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, runs.length) }, lane));
  return out.sort((a, b) => b.historyLength - a.historyLength);
}

/** Every history of a workflow id (all runs), once visibility shows `runs` of them. */
export async function historiesOfRuns(client: Client, workflowId: string, minRuns = 1): Promise<History[]> {
  for (let i = 0; ; i++) {
    const runs = await runLengths(client, `WorkflowId = '${workflowId}'`);
    if (runs.length >= minRuns || i >= 50) {
      return Promise.all(runs.map((r) => client.workflow.getHandle(r.workflowId, r.runId).fetchHistory()));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** RecordActivityTaskHeartbeat(ById) requests the server's frontend has answered so far. */
export async function heartbeatRequests(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('service_requests{') || !/operation="RecordActivityTaskHeartbeat(ById)?"/.test(line)) continue;
    if (!line.includes('service_name="frontend"')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return total;
}

export function eventCount(history: History): number {
  return history.events?.length ?? 0;
}

export function isCompleted(history: History): boolean {
  const last: HistoryEvent | undefined = history.events?.at(-1);
  return !!last?.workflowExecutionCompletedEventAttributes;
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** `percentile` with the rank as a fraction (0.5 = the median). */
export function quantile(values: number[], q: number): number {
  return percentile(values, q * 100);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** "min …, median …, max …" of `values` / `scale`, rounded to `digits`. */
export function spread(values: number[], scale = 1, digits = 2): string {
  const s = (x: number) => round(x / scale, digits);
  return `min ${s(Math.min(...values))}, median ${s(median(values))}, max ${s(Math.max(...values))}`;
}
