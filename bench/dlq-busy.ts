// Measurement 5b: the DLQ's stats while failures pour in (issue 15 point 4). Each round ingests N reports into a fresh
// DLQ as measurement 5 does (signal-with-start, routed to ~600 entries per shard) but paced at SEND_RATE, after the
// DLQ's first snapshot is published (it was there before the incident), and meanwhile three readers,
// one call at a time each, ask for the stats: the exact `stats` query (answered by the worker, behind the workflow's
// activations), `statsSnapshot()` (the memo the front publishes, read from visibility by the server alone) and
// `statsFast()` (the query if it answers within 100 ms, else the snapshot). Reports p50/p95 of each per round and their
// spread over rounds, the snapshot's age (now − asOf) while ingesting, how soon it is exact once the reports stop, and
// what publishing costs in history events.
import { loadavg } from 'node:os';
import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { routeDeadLetter } from '../activities/dlq';
import { CaptchaSolver } from '../src/client';
import { loadConfig } from '../src/config';
import { deadLetterSignal, type DlqStats, type DlqStatsSnapshot } from '../workflows/messages';
import { WORKFLOW_TYPES } from '../src/domain/names';
import { ownCpuMs, processCpuMs } from './cpu';
import { ENTRIES_PER_SHARD, report } from './dlq-scale';
import { percentile, round } from './histories';
import { figure, type MeasurementResult } from './report';
import { NO_WAIT_POLICY, benchEnv, sleep, spawnWorker, startBenchSimulator, withTimeout, type BenchContext, type ChildWorker, type Mode } from './stack';

const SIZES: Record<Mode, { reports: number; rounds: number }> = {
  smoke: { reports: 300, rounds: 1 },
  quick: { reports: 2_000, rounds: 3 },
  full: { reports: 10_000, rounds: 3 },
};
const SEND_PARALLELISM = 64;
/** reports are sent at this pace (the server is not driven to saturation; a loaded machine may fall short of it) */
const SEND_RATE = 450;
const READ_GAP_MS = 50;
const TARGET_RATE = 400;

interface Round {
  rate: number;
  exact: number[];
  snapshot: number[];
  fast: number[];
  fastFromSnapshot: number;
  fastFailed: number;
  fastErrors: Set<string>;
  exactFailed: number;
  snapshotAgeMs: number[];
  exactAfterStopMs: number;
  equal: boolean;
  publications: number;
  frontEvents: number;
  frontRuns: number;
  /** CPU per report while sending (ms): the dev server, the DLQ's worker process, this process (the sender, readers) */
  cpuPerReport: { server: number; worker: number; sender: number };
  /** 1-minute load average when the round ended (the other processes on the machine) */
  load: number;
}

export async function measureDlqBusy(ctx: BenchContext): Promise<MeasurementResult> {
  const { reports: n, rounds } = SIZES[ctx.mode];
  const results: Round[] = [];
  for (let r = 1; r <= rounds; r++) {
    ctx.log(`  round ${r} of ${rounds}: ${n} reports`);
    results.push(await oneRound(ctx, n, `bench-dlq-busy-${n}-${r}-${Date.now()}`));
  }
  const all = (pick: (x: Round) => number[]) => results.flatMap(pick);
  const p = (xs: number[], q: number) => round(percentile(xs, q), 1);
  const spread = (pick: (x: Round) => number[], q: number) => results.map((x) => p(pick(x), q)).join(' / ');
  const label = `${n.toLocaleString('en-US')} reports`;
  const minRate = Math.min(...results.map((x) => x.rate));
  // what one report costs the machine says what pace two idle cores could keep (the others' load takes its share)
  const cpu = (k: keyof Round['cpuPerReport']) => round(results.reduce((a, x) => a + x.cpuPerReport[k], 0) / rounds, 2);
  const perReport = cpu('server') + cpu('worker') + cpu('sender');
  const cpuNote = `CPU per report ${round(perReport, 2)} ms (server ${cpu('server')}, worker ${cpu('worker')}, sender and readers ${cpu('sender')}): two idle cores keep ≤ ${round(2000 / perReport, 0)} reports/s; load average at each round's end ${results.map((x) => x.load).join(' / ')}`;
  const note = (pick: (x: Round) => number[]) => `p50 ${p(all(pick), 50)} ms over ${all(pick).length} calls; p95 per round ${spread(pick, 95)} ms; ${rounds} rounds at ≥ ${minRate} reports/s`;
  return {
    figures: [
      figure('5b', `DLQ busy, ${label}: send rate (slowest round)`, minRate, 'reports/s', { op: '>=', value: TARGET_RATE }, `${results.map((x) => x.rate).join(' / ')}; ${cpuNote}`),
      figure('5b', `DLQ busy, ${label}: exact stats query p95 while ingesting`, p(all((x) => x.exact), 95), 'ms', undefined,
        `${note((x) => x.exact)}; ${results.reduce((s, x) => s + x.exactFailed, 0)} failed`),
      figure('5b', `DLQ busy, ${label}: stats snapshot (memo) p95 while ingesting`, p(all((x) => x.snapshot), 95), 'ms', { op: '<=', value: 250 }, note((x) => x.snapshot)),
      figure('5b', `DLQ busy, ${label}: statsFast p95 while ingesting`, p(all((x) => x.fast), 95), 'ms', { op: '<=', value: 250 },
        `${note((x) => x.fast)}; ${results.reduce((s, x) => s + x.fastFromSnapshot, 0)} of ${all((x) => x.fast).length} answered from the snapshot, ${results.reduce((s, x) => s + x.fastFailed, 0)} failed`),
      figure('5b', `DLQ busy, ${label}: snapshot age p95 while ingesting`, p(all((x) => x.snapshotAgeMs), 95), 'ms', undefined,
        `now − asOf at each read; max ${round(Math.max(...all((x) => x.snapshotAgeMs)), 0)} ms; the front publishes within 1 s of its own workflow time, the rest is its activations' backlog behind the signals`),
      figure('5b', `DLQ busy, ${label}: snapshot exact after the reports stop`, round(Math.max(...results.map((x) => x.exactAfterStopMs)) / 1000, 1), 's', undefined,
        `per round ${results.map((x) => round(x.exactAfterStopMs / 1000, 1)).join(' / ')} s (then equal to the exact query: ${results.every((x) => x.equal) ? 'yes' : 'NO'})`),
      figure('5b', `DLQ busy, ${label}: snapshot equals exact stats at rest`, results.every((x) => x.equal) ? 1 : 0, undefined, { op: '=', value: 1 }),
      figure('5b', `DLQ busy, ${label}: memo publications per round`, round(results.reduce((s, x) => s + x.publications, 0) / rounds, 1), 'events', undefined,
        `WorkflowPropertiesModified events of the front, ${results.map((x) => `${x.publications} of ${x.frontEvents} in ${x.frontRuns} runs`).join(' / ')}`),
    ],
    details: { [`dlqBusy${n}`]: results.map((x) => ({ ...x, exact: summarize(x.exact), snapshot: summarize(x.snapshot), fast: summarize(x.fast), fastErrors: [...x.fastErrors], snapshotAgeMs: summarize(x.snapshotAgeMs) })) },
  };
}

async function oneRound(ctx: BenchContext, n: number, front: string): Promise<Round> {
  const { stack } = ctx;
  const shardCount = Math.max(1, Math.ceil(n / ENTRIES_PER_SHARD));
  const sim = await startBenchSimulator(); // the worker needs a provider; the DLQ never calls it
  const taskQueue = front;
  let worker: ChildWorker | undefined;
  try {
    const env = benchEnv(stack, taskQueue, sim, NO_WAIT_POLICY, { DLQ_WORKFLOW_ID: front });
    const w = (worker = await spawnWorker(stack, env));
    const dlq = new CaptchaSolver(stack.client, loadConfig(env)).dlq();
    return await w.watch((async (): Promise<Round> => {
      const started = await stack.client.workflow.start(WORKFLOW_TYPES.dlq, { workflowId: front, taskQueue, args: [{ shardCount }] });
      const out: Round = { rate: 0, exact: [], snapshot: [], fast: [], fastFromSnapshot: 0, fastFailed: 0, fastErrors: new Set<string>(), exactFailed: 0, snapshotAgeMs: [], exactAfterStopMs: 0, equal: false, publications: 0, frontEvents: 0, frontRuns: 0, cpuPerReport: { server: 0, worker: 0, sender: 0 }, load: 0 };
      // the DLQ was there before the incident: its first snapshot is published before the reports pour in
      await withTimeout((async () => {
        while (!(await dlq.statsSnapshot())) await sleep(50);
      })(), 60_000, 'the first DLQ snapshot');
      let sending = true;
      const reader = async (read: () => Promise<void>) => {
        while (sending) {
          await read();
          await sleep(READ_GAP_MS);
        }
      };
      // a call counts when it was asked while the reports arrive, however long it takes
      const timed = async (into: number[], fn: () => Promise<unknown>): Promise<unknown> => {
        const t = performance.now();
        const asked = sending;
        try {
          return await fn();
        } finally {
          if (asked) into.push(performance.now() - t);
        }
      };
      const readers = Promise.all([
        reader(() => timed(out.exact, () => dlq.stats()).then(() => undefined, () => void out.exactFailed++)),
        reader(async () => {
          const s = (await timed(out.snapshot, () => dlq.statsSnapshot())) as DlqStatsSnapshot | null;
          if (s && sending) out.snapshotAgeMs.push(Date.now() - Date.parse(s.asOf));
        }),
        reader(async () => {
          try {
            const s = (await timed(out.fast, () => dlq.statsFast())) as { source: string };
            if (s.source === 'snapshot' && sending) out.fastFromSnapshot++;
          } catch (err) {
            out.fastFailed++;
            out.fastErrors.add(String((err as { cause?: unknown }).cause ?? err).slice(0, 200));
          }
        }),
      ]);

      const cpu0 = { server: processCpuMs(stack.server.pid), worker: processCpuMs(w.process.pid ?? 0), sender: ownCpuMs() };
      const t0 = performance.now();
      let next = 0;
      const lane = async () => {
        while (next < n) {
          const i = next++;
          const due = t0 + (i * 1000) / SEND_RATE - performance.now();
          if (due > 0) await sleep(due);
          const r = report(front, i);
          const target = routeDeadLetter(front, { shardCount }, r.entryId);
          await stack.client.workflow.signalWithStart(WORKFLOW_TYPES.dlq, {
            workflowId: target.workflowId,
            taskQueue,
            args: [target.args],
            signal: deadLetterSignal,
            signalArgs: [r],
            workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          });
        }
      };
      await Promise.all(Array.from({ length: SEND_PARALLELISM }, lane));
      const stopped = performance.now();
      out.rate = round(n / ((stopped - t0) / 1000), 0);
      out.cpuPerReport = {
        server: round((processCpuMs(stack.server.pid) - cpu0.server) / n, 2),
        worker: round((processCpuMs(w.process.pid ?? 0) - cpu0.worker) / n, 2),
        sender: round((ownCpuMs() - cpu0.sender) / n, 2),
      };
      out.load = round(loadavg()[0]!, 1);
      sending = false;
      await readers;

      // once the reports stop: the snapshot reaches n, then equals the exact stats
      const [snapshot, exact] = await withTimeout(
        (async (): Promise<[DlqStatsSnapshot, DlqStats]> => {
          for (;;) {
            const s = await dlq.statsSnapshot();
            if (s?.total === n && s.received === n) {
              out.exactAfterStopMs = performance.now() - stopped;
              const e = await dlq.stats();
              if (e.total === n) return [s, e];
            }
            await sleep(100);
          }
        })(),
        300_000,
        `DLQ snapshot reaching ${n}`,
      );
      out.equal = sameStats(snapshot, exact);
      await countPublications(stack.client, front, started.firstExecutionRunId, out);
      return out;
    })());
  } finally {
    await worker?.stop();
    await sim.close();
  }
}

/** The front's runs from the first: memo publications and events. */
async function countPublications(client: Client, workflowId: string, firstRunId: string, out: Round): Promise<void> {
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    out.frontRuns++;
    out.frontEvents += events.length;
    out.publications += events.filter((e) => e.workflowPropertiesModifiedEventAttributes).length;
    runId = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
}

function sameStats(s: DlqStatsSnapshot, e: DlqStats): boolean {
  const same = (a: Record<string, number>, b: Record<string, number>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
  return s.total === e.total && s.received === e.received && same(s.byCode, e.byCode) && same(s.byClass, e.byClass) && same(s.byStatus, e.byStatus) && JSON.stringify(s.bySitekey.slice(0, e.bySitekey.length)) === JSON.stringify(e.bySitekey);
}

function summarize(xs: number[]) {
  return { n: xs.length, p50: round(percentile(xs, 50), 1), p95: round(percentile(xs, 95), 1), max: round(Math.max(...xs), 1) };
}
