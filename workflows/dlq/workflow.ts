// The dead-letter queue: a long-lived workflow that holds every final failure durably, answers `stats`, `list` and
// `audit`, and takes `retry` / `discard` / `purge` orders, by signal (fire and forget; malformed ones are logged and
// ignored) or by validated update (returns what it did). It never completes on its own: it continues as new.
// This file wires the handlers and runs the loop; the entity is ./queue.
//
// Capacity. State is plain JSON (`DlqRunState`) carried by continue-as-new, so one run holds what fits in one payload
// (2 MB hard limit; we aim at ≤ 1 MB). Entries travel as packed rows (./pack): ~240 B for a fresh token-captcha
// entry, ~400 B with ten attempts of history (plain JSON: ~1.3 KB and ~2.8 KB) — measured by test/dlq.test.ts. Budget:
// 2,000 entries per workflow. Beyond that the entries are spread over `shardCount` workflows of this same type by a
// stable hash of the entry id (./routing): shard 0 is the front (`captcha-dlq`), shard i is
// `captcha-dlq/shard-<i>`, started on demand by the report activity; 100,000 entries → shardCount 50. Each shard keeps
// its own entries and pushes a compact snapshot of its counts (monotonic `seq`, latest wins) to the front, debounced
// and paced so that the front takes at most 5 snapshots/s from all shards together (one slot per shard in a cycle of
// shardCount / 5 s; FRONT_SNAPSHOTS_PER_SECOND); the front's `stats` merges them (exact once the snapshots land;
// `asOf` says when). No signal costs the front a pass over its entries or shards. Operator orders go to the front,
// which applies them to its own entries and forwards them (same request id, same time watermark) to every shard, and
// sums what they did. `list` pages through the front, then shard 1, 2, …: a page's `nextWorkflowId` says which
// workflow the `nextCursor` belongs to. A state over 1 MB raises a `state-size` alert; over 1.8 MB the run does not
// continue as new (it would fail) but goes on and alerts.
// With one shard (the default) none of that machinery runs.
// Stats during ingest: the `stats` query waits behind the activations of a busy run (p95 ~0.9 s while 2,000 reports
// arrive), so the front also publishes them in its memo (./views statsMemoLoop), which `describe()` reads from the
// server alone: when they changed, at most once per statsPublishIntervalMs (1 s), and first thing in every run.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  setDefaultSignalHandler,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  deadLetterSignal,
  dlqAuditQuery,
  dlqDiscardSignal,
  dlqDiscardUpdate,
  dlqForwardedOrderUpdate,
  dlqListQuery,
  dlqPurgeUpdate,
  dlqResetShardUpdate,
  dlqRetrySignal,
  dlqRetryUpdate,
  dlqShardSnapshotSignal,
  dlqStatsQuery,
  solveOutcomeSignal,
  type DlqInput,
  type DlqRunState,
} from '../messages';
import { invalid } from './errors';
import { STATE_SIZE_MAX } from './limits';
import { AWAIT_ALERTS_PATCH, BOUNDED_PATCH, ORDER_OUTCOMES_PATCH, OWN_SHARDS_PATCH, STATS_MEMO_PATCH, UNKNOWN_SIGNALS_PATCH, WORST_CASE_BUDGET_PATCH } from './patches';
import { DeadLetterQueue } from './queue';
import { checkForwarded, parseOrder } from './requests';
import { carriedState } from './state';

export async function deadLetterQueueWorkflow(input: DlqInput = {}): Promise<void> {
  const dlq = new DeadLetterQueue(input ?? {});
  installHandlers(dlq);
  await run(dlq);
}

// ---------------------------------------------------------------------------------------------------------------------
// Handlers: thin; each counts the message and hands it to the entity.

function installHandlers(dlq: DeadLetterQueue): void {
  dlq.guards.ownShards = patched(OWN_SHARDS_PATCH);
  dlq.guards.bounded = patched(BOUNDED_PATCH);
  dlq.guards.awaitAlerts = patched(AWAIT_ALERTS_PATCH);
  dlq.guards.statsMemo = dlq.role === 'front' && patched(STATS_MEMO_PATCH);
  dlq.guards.orderOutcomes = patched(ORDER_OUTCOMES_PATCH);
  setHandler(deadLetterSignal, (report) => {
    dlq.messages++;
    dlq.ingest(report);
  });
  setHandler(solveOutcomeSignal, (outcome) => {
    dlq.messages++;
    dlq.onOutcome(outcome);
  });
  setHandler(dlqShardSnapshotSignal, (snapshot) => {
    dlq.messages++;
    dlq.onSnapshot(snapshot);
  });

  for (const [def, operation] of [
    [dlqRetrySignal, 'retry'],
    [dlqDiscardSignal, 'discard'],
  ] as const) {
    setHandler(def, async (raw: unknown) => {
      dlq.messages++;
      const parsed = parseOrder(operation, raw, dlq.guards.bounded);
      if (!parsed.ok) {
        log.warn('ignored a malformed DLQ order', { signal: def.name, error: parsed.error });
        return;
      }
      if (operation === 'retry' && parsed.order.budgetMicros !== undefined) {
        try {
          // a signal's check acts in the history (an order ignored or applied): worst case only from the patch on
          dlq.checkRetryBudget(parsed.order, patched(WORST_CASE_BUDGET_PATCH));
        } catch (err) {
          log.warn('ignored a DLQ order over its budget', { signal: def.name, error: err instanceof Error ? err.message : String(err) });
          return;
        }
      }
      try {
        const result = await dlq.execute(operation, parsed.order, 'signal');
        log.info('DLQ order applied', { ...result, sample: undefined });
      } catch (err) {
        log.error('DLQ order failed', { signal: def.name, error: String(err) });
      }
    });
  }

  for (const [def, operation] of [
    [dlqRetryUpdate, 'retry'],
    [dlqDiscardUpdate, 'discard'],
    [dlqPurgeUpdate, 'purge'],
  ] as const) {
    setHandler(
      def,
      async (raw: unknown) => {
        dlq.messages++;
        const parsed = parseOrder(operation, raw, dlq.guards.bounded);
        if (!parsed.ok) throw invalid(parsed.error); // unreachable: the validator rejected it
        return dlq.execute(operation, parsed.order, 'update');
      },
      {
        validator: (raw: unknown) => {
          const parsed = parseOrder(operation, raw, dlq.guards.bounded);
          if (!parsed.ok) throw invalid(parsed.error);
          if (operation === 'retry') dlq.checkRetryBudget(parsed.order);
        },
      },
    );
  }

  setHandler(
    dlqForwardedOrderUpdate,
    async (order) => {
      dlq.messages++;
      return dlq.applyForwarded(order);
    },
    {
      validator: (order) => {
        if (dlq.role !== 'shard') throw invalid(`${dlq.selfId} is not a DLQ shard: send orders to it directly`);
        const problem = checkForwarded(order, dlq.guards.bounded);
        if (problem) throw invalid(problem);
      },
    },
  );

  setHandler(
    dlqResetShardUpdate,
    (raw) => {
      dlq.messages++;
      return dlq.resetShard(dlq.parseResetShard(raw));
    },
    { validator: (raw) => void dlq.parseResetShard(raw) },
  );

  // Last of the signal handlers, on purpose: the signals buffered before the first activation are delivered to the
  // handlers registered so far, so a default handler set earlier would take (and drop) known signals waiting then.
  // Registered after the others, it only gets the names nobody handles.
  if (patched(UNKNOWN_SIGNALS_PATCH)) {
    setDefaultSignalHandler((name: string) => {
      dlq.messages++;
      dlq.countUnknownSignal(name, [deadLetterSignal.name, dlqRetrySignal.name, dlqDiscardSignal.name]);
    });
  }
  setHandler(dlqStatsQuery, (req) => dlq.stats(req));
  setHandler(dlqListQuery, (req) => dlq.list(req));
  setHandler(dlqAuditQuery, (req) => dlq.audit(req));
}

// ---------------------------------------------------------------------------------------------------------------------
// Main loop: run the loops until the run has taken maxMessagesPerRun messages (or the server suggests it), then
// continue as new with the state packed.

async function run(dlq: DeadLetterQueue): Promise<void> {
  const { state } = dlq;
  log.info('DLQ run started', {
    role: dlq.role,
    shard: dlq.shard,
    run: state.run,
    entries: dlq.agg.total,
    retriesInFlight: Object.keys(state.inFlight).length,
    retriesQueued: state.queue.length,
  });
  if (dlq.role === 'shard') state.snapshot.dirty ||= state.run === 1;
  let threshold = dlq.settings.maxMessagesPerRun;
  let suggestedAfter = 0;
  for (;;) {
    dlq.stopping = false;
    const loops = dlq.loops();
    await condition(() => dlq.messages >= threshold || (workflowInfo().continueAsNewSuggested && dlq.messages >= suggestedAfter));
    dlq.stopping = true;
    await Promise.all(loops);
    await condition(allHandlersFinished);
    let carried: DlqRunState;
    let size: number;
    for (;;) {
      carried = carriedState(state);
      size = JSON.stringify(carried).length;
      dlq.checkStateSize(size);
      // alerts raised and not delivered yet (the state-size one just now) are delivered before this run closes; what
      // arrived meanwhile is in the state taken again
      if (!dlq.guards.awaitAlerts || dlq.deliveries.size === 0) break;
      await Promise.all([...dlq.deliveries]);
      await condition(allHandlersFinished);
    }
    const next = { ...carried, alerts: state.alerts, sizeAlertArmed: state.sizeAlertArmed };
    if (size <= STATE_SIZE_MAX) {
      log.info('DLQ continuing as new', { run: state.run, messages: dlq.messages, entries: dlq.agg.total, stateChars: size });
      const { state: _state, ...input } = dlq.input;
      await continueAsNew<typeof deadLetterQueueWorkflow>({ ...input, state: next });
    }
    log.error('DLQ state too large to continue as new: this run goes on; raise shardCount or discard entries', {
      stateChars: size,
      entries: dlq.agg.total,
    });
    threshold = dlq.messages + dlq.settings.maxMessagesPerRun;
    suggestedAfter = dlq.messages + Math.ceil(dlq.settings.maxMessagesPerRun / 10);
  }
}
