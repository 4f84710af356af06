// Measurement 4: what one solve and one dead-lettered task cost in Temporal: history events of the solve child, and
// the Temporal Cloud actions of the child, its share of the batch parent, its share of the DLQ (failures only) and the
// heartbeats that reached the server (counting rules: bench/histories.ts `countActions`).
import type { Client } from '@temporalio/client';
import { CaptchaSolver } from '../src/client';
import { dlqStatsQuery } from '../workflows/messages';
import {
  countActions,
  divideActions,
  eventCount,
  fetchHistories,
  historiesOfRuns,
  heartbeatRequests,
  isCompleted,
  mean,
  percentile,
  round,
  sumActions,
  type ActionCount,
  type History,
} from './histories';
import { figure, type MeasurementResult } from './report';
import { NO_WAIT_POLICY, benchEnv, sleep, startBenchSimulator, withTimeout, withWorker, type BenchContext } from './stack';

export interface ChildCost {
  children: number;
  eventsMean: number;
  eventsMedian: number;
  eventsMax: number;
  actions: ActionCount;
}

export interface BatchCost {
  completed: ChildCost;
  failed: ChildCost;
  /** the batch workflow's own events and actions (all runs), per child */
  parentEventsPerChild: number;
  parentActionsPerChild: ActionCount;
  parentRuns: number;
}

function childCost(histories: History[]): ChildCost {
  const events = histories.map(eventCount);
  return {
    children: histories.length,
    eventsMean: round(mean(events), 1),
    eventsMedian: percentile(events, 50),
    eventsMax: events.length ? Math.max(...events) : NaN,
    actions: divideActions(sumActions(histories.map(countActions)), Math.max(1, histories.length)),
  };
}

export async function costOfBatch(client: Client, batchId: string, childIds: string[], runs: number): Promise<BatchCost> {
  const children = await fetchHistories(client, childIds);
  const parents = await historiesOfRuns(client, batchId, runs);
  const n = Math.max(1, childIds.length);
  return {
    completed: childCost(children.filter(isCompleted)),
    failed: childCost(children.filter((h) => !isCompleted(h))),
    parentEventsPerChild: round(parents.reduce((s, h) => s + eventCount(h), 0) / n, 2),
    parentActionsPerChild: divideActions(sumActions(parents.map(countActions)), n),
    parentRuns: parents.length,
  };
}

/** Figures of one solve, from a batch measured elsewhere (the seed comparison's batch: realistic scaled timings). */
export function solveCostFigures(cost: BatchCost, heartbeatsPerSolve: number): MeasurementResult {
  const perSolve = cost.completed.actions.total + cost.parentActionsPerChild.total + heartbeatsPerSolve;
  return {
    figures: [
      figure('4', 'history events per solved child (mean)', cost.completed.eventsMean, undefined, { op: '<=', value: 25 }),
      figure('4', 'history events per solved child (median)', cost.completed.eventsMedian, undefined, undefined,
        `max ${cost.completed.eventsMax}${cost.completed.eventsMax > cost.completed.eventsMedian ? ' (a task solved after a resubmit runs two rounds)' : ''}`),
      figure('4', 'batch parent events per child', cost.parentEventsPerChild),
      figure(
        '4',
        'Cloud actions per solve',
        round(perSolve, 2),
        undefined,
        undefined,
        `child ${cost.completed.actions.total} + batch parent ${cost.parentActionsPerChild.total} + heartbeats ${round(heartbeatsPerSolve, 2)}`,
      ),
    ],
    details: { solveCost: cost, heartbeatsPerSolve },
  };
}

/** A batch whose every task is unsolvable (three rounds, then the DLQ): the cost of one dead-lettered task. */
export async function measureDeadLetterCost(ctx: BenchContext): Promise<MeasurementResult> {
  const { stack, sizes } = ctx;
  const n = sizes.deadLetterTasks;
  const sim = await startBenchSimulator({ scenarios: { sitekeys: { '*': { outcome: { type: 'unsolvable', afterMs: 0 } } } } });
  const taskQueue = 'bench-dead-letter-cost';
  const env = benchEnv(stack, taskQueue, sim, NO_WAIT_POLICY);
  try {
    return await withWorker(stack, env, async (config) => {
      const solver = new CaptchaSolver(stack.client, config);
      const tasks = Array.from({ length: n }, (_, i) => ({ type: 'recaptcha-v2', sitekey: '6Le-SITEKEY', pageUrl: `https://example.com/page/${i}`, key: `d${i}` }));
      const heartbeatsBefore = await heartbeatRequests(stack.metricsUrl);
      const { batchId, handle } = await solver.startBatch({
        batchId: 'bench-dead-letter-cost',
        tasks,
        concurrency: n,
        policy: NO_WAIT_POLICY,
      });
      const summary = await withTimeout(handle.result(), 120_000, 'dead-letter batch');
      // the DLQ takes the reports by signal: wait until it holds them all before reading its history
      const dlqHandle = stack.client.workflow.getHandle(config.dlqWorkflowId);
      for (let i = 0; i < 100; i++) {
        const stats = await dlqHandle.query(dlqStatsQuery, {}).catch(() => undefined);
        if ((stats?.received ?? 0) >= summary.deadLettered) break;
        await sleep(100);
      }
      const heartbeats = (await heartbeatRequests(stack.metricsUrl)) - heartbeatsBefore;
      const cost = await costOfBatch(stack.client, batchId, tasks.map((t) => `${batchId}/${t.key}`), summary.runs);
      const dlqHistories = await historiesOfRuns(stack.client, config.dlqWorkflowId);
      const dead = Math.max(1, summary.deadLettered);
      const dlqActions = divideActions(sumActions(dlqHistories.map(countActions)), dead);
      const dlqEvents = round(dlqHistories.reduce((s, h) => s + eventCount(h), 0) / dead, 2);
      const total = cost.failed.actions.total + cost.parentActionsPerChild.total + dlqActions.total + heartbeats / dead;
      const stats = sim.stats();
      return {
        figures: [
          figure('4', 'history events per dead-lettered child (mean)', cost.failed.eventsMean, undefined, undefined, 'three rounds of submit + poll, then the DLQ report'),
          figure('4', 'DLQ workflow events per dead-lettered task', dlqEvents),
          figure(
            '4',
            'Cloud actions per dead-lettered task',
            round(total, 2),
            undefined,
            undefined,
            `child ${cost.failed.actions.total} + batch parent ${cost.parentActionsPerChild.total} + DLQ ${dlqActions.total} + heartbeats ${round(heartbeats / dead, 2)}`,
          ),
        ],
        details: {
          deadLetterCost: { tasks: n, summary, cost, dlqActionsPerTask: dlqActions, dlqEventsPerTask: dlqEvents, heartbeats, simulator: { paidSubmits: stats.paidSubmits, requests: stats.requests } },
        },
      };
    });
  } finally {
    await sim.close();
  }
}
