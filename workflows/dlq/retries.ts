// The entity's retry layer: orders queue entries (./orders); retry children start from the queue, paced; their outcomes
// come back by signal, or are looked up when a child never reports.
import { ParentClosePolicy, condition, log, startChild } from '@temporalio/workflow';
import type { RetryChildLookup } from '../../activities/dlq';
import { type DlqEntry, type RetryRef, type SolveOutcome } from '../messages';
import { WORKFLOW_TYPES, batchIdAttribute, sitekeyAttribute } from '../../src/domain/names';
import type { solveCaptchaWorkflow } from '../solve';
import type { SolveFailureDetails, SolveInput } from '../../src/domain/types';
import { nowIso, workflowNow } from './clock';
import { DlqEntries } from './entries';
import { quote } from './input';
import { ATTEMPT_HISTORY_LIMIT, knownClass } from '../../src/domain/types';
import { LOOKUP_BATCH } from './limits';
import { countOutcome, type OutcomeKind } from './outcomes';
import { nonNegative, sanitizeHistory, scrubReportText } from './reports';

type Outcome =
  | { kind: 'solved' }
  | { kind: 'failed'; failure: Partial<SolveFailureDetails> }
  | { kind: 'cancelled' }
  | { kind: 'lost'; status: string };

export class DlqRetries extends DlqEntries {
  /** Starts retry children from the queue: ≤ retryConcurrency in flight, ≤ retryRatePerSecond started. */
  async dispatchLoop(): Promise<void> {
    for (;;) {
      await condition(() => this.stopping || (this.state.queue.length > 0 && this.freeSlots() > 0));
      if (this.stopping) return;
      const { retryRatePerSecond: rate } = this.settings;
      const burst = Math.min(this.state.queue.length, this.freeSlots(), Math.max(1, Math.floor(rate)));
      const batch = this.state.queue.splice(0, burst);
      await Promise.all(batch.map((ref) => this.startRetry(ref)));
      this.changed();
      await condition(() => this.stopping, Math.ceil((burst * 1000) / rate));
    }
  }

  private freeSlots(): number {
    return this.settings.retryConcurrency - Object.keys(this.state.inFlight).length;
  }

  private async startRetry(ref: RetryRef): Promise<void> {
    const e = this.entry(ref.entryId);
    if (!e || e.status !== 'retrying' || Object.hasOwn(this.state.inFlight, ref.entryId)) {
      if (!e || e.status !== 'retrying') this.countOrderOutcome(ref.order, 'cancelled'); // it left the queue unretried
      return;
    }
    const childId = `${ref.entryId}/retry-${ref.generation}`;
    // recorded before the start: the child's outcome may arrive in the same activation as its start
    this.state.inFlight[ref.entryId] = { generation: ref.generation, childId, startedAt: nowIso(), ...(ref.order !== undefined && { order: ref.order }) };
    const solveInput: SolveInput = {
      task: e.task,
      taskKey: e.taskKey,
      ...(e.batchId !== undefined && { batchId: e.batchId }),
      ...(this.settings.solvePolicy && { policy: this.settings.solvePolicy }),
      dlqWorkflowId: null,
      parentWorkflowId: this.selfId,
      retry: { entryId: ref.entryId, generation: ref.generation },
      ...(ref.route && { route: ref.route }),
    };
    try {
      await startChild<typeof solveCaptchaWorkflow>(WORKFLOW_TYPES.solve, {
        workflowId: childId,
        taskQueue: this.settings.taskQueue,
        args: [solveInput],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `DLQ retry ${ref.generation} of ${ref.entryId}`,
        typedSearchAttributes: [
          ...(e.batchId ? [{ key: batchIdAttribute, value: e.batchId }] : []),
          ...(e.task.sitekey && this.settings.indexSitekeys ? [{ key: sitekeyAttribute, value: e.task.sitekey }] : []),
        ],
      });
    } catch (err) {
      if ((err as Error | undefined)?.name === 'WorkflowExecutionAlreadyStartedError') {
        log.info('retry child exists already: in flight', { entryId: ref.entryId, childId });
        return;
      }
      log.warn('could not start a retry child', { entryId: ref.entryId, childId, error: String(err) });
      delete this.state.inFlight[ref.entryId];
      this.update(e, () => {
        e.status = this.restingStatus(e);
      });
      this.countOrderOutcome(ref.order, 'cancelled');
    }
  }

  /** Counts a retry's outcome into the audit record of the order that queued it (ORDER_OUTCOMES_PATCH). */
  private countOrderOutcome(order: string | undefined, kind: OutcomeKind): void {
    if (!this.guards.orderOutcomes || order === undefined) return;
    if (countOutcome(this.state.audit, order, kind, nowIso()) && this.role === 'shard') this.state.snapshot.dirty = true;
  }

  /** Retry children that never reported (terminated, timed out, lost signal) are looked up after retryStaleAfterMs. */
  async sweepLoop(): Promise<void> {
    for (;;) {
      await condition(() => this.stopping || Object.keys(this.state.inFlight).length > 0);
      if (this.stopping) return;
      const stale = this.settings.retryStaleAfterMs;
      const now = workflowNow();
      let due = Infinity;
      const overdue: { entryId: string; childId: string; generation: number }[] = [];
      for (const [entryId, f] of Object.entries(this.state.inFlight)) {
        const at = Date.parse(f.checkedAt ?? f.startedAt) + stale;
        if (at <= now && overdue.length < LOOKUP_BATCH) overdue.push({ entryId, childId: f.childId, generation: f.generation });
        else due = Math.min(due, at);
      }
      if (overdue.length === 0) {
        await condition(() => this.stopping || Object.keys(this.state.inFlight).length === 0, Math.max(1, due - now));
        continue;
      }
      let found: RetryChildLookup[];
      try {
        found = await this.acts.lookup.lookupDlqRetryChildren({ workflowIds: overdue.map((o) => o.childId) });
      } catch (err) {
        log.warn('could not look up retry children', { error: String(err) });
        found = [];
      }
      const checkedAt = nowIso();
      for (const o of overdue) {
        const f = this.state.inFlight[o.entryId];
        if (!f || f.generation !== o.generation) continue; // it reported meanwhile
        const status = found.find((x) => x.workflowId === o.childId);
        if (!status || status.status === 'RUNNING' || status.status === 'UNKNOWN') {
          f.checkedAt = checkedAt;
          continue;
        }
        log.warn('retry child ended without reporting', { entryId: o.entryId, childId: o.childId, status: status.status });
        delete this.state.inFlight[o.entryId];
        const e = this.entry(o.entryId);
        if (!e) continue;
        if (status.status === 'COMPLETED') this.resolveRetry(e, { kind: 'solved' }, f.order);
        else if (status.status === 'FAILED' && status.failure) this.resolveRetry(e, { kind: 'failed', failure: status.failure }, f.order);
        else if (status.status === 'CANCELLED') this.resolveRetry(e, { kind: 'cancelled' }, f.order);
        else this.resolveRetry(e, { kind: 'lost', status: status.status }, f.order);
      }
      this.changed();
      if (this.stopping) return;
    }
  }

  /** A retry child's outcome, by signal: the entry recovered (removed) or failed again. */
  onOutcome(raw: SolveOutcome): void {
    const o = raw as Partial<SolveOutcome> | undefined;
    const ref = o?.retry;
    if (!o || typeof o !== 'object' || !ref || typeof ref.entryId !== 'string') {
      log.warn('ignored a solve outcome that is not a DLQ retry', { taskKey: quote(o?.taskKey) });
      return;
    }
    const f = Object.hasOwn(this.state.inFlight, ref.entryId) ? this.state.inFlight[ref.entryId] : undefined;
    if (!f || f.generation !== ref.generation) {
      log.info('ignored an outcome of a retry that is not in flight (repeated or stale)', { entryId: quote(ref.entryId), generation: quote(ref.generation) });
      return;
    }
    delete this.state.inFlight[ref.entryId];
    const e = this.entry(ref.entryId);
    if (!e) return;
    if (o.outcome === 'solved') this.resolveRetry(e, { kind: 'solved' }, f.order);
    else if (o.outcome === 'failed') this.resolveRetry(e, { kind: 'failed', failure: (o.failure ?? {}) as Partial<SolveFailureDetails> }, f.order);
    else this.resolveRetry(e, { kind: 'cancelled' }, f.order);
    this.changed();
  }

  private resolveRetry(e: DlqEntry, outcome: Outcome, order: string | undefined): void {
    this.countOrderOutcome(order, outcome.kind === 'solved' ? 'recovered' : outcome.kind === 'cancelled' ? 'cancelled' : 'failed');
    if (outcome.kind === 'solved') {
      this.remove(e);
      this.state.counters.recovered++;
      log.info('DLQ entry recovered', { entryId: e.id, dlqRetries: e.dlqRetries + 1 });
      return;
    }
    const now = nowIso();
    this.update(e, () => {
      if (outcome.kind === 'cancelled') {
        e.status = this.restingStatus(e);
        return;
      }
      if (outcome.kind === 'failed') {
        const f = outcome.failure;
        e.attempts += nonNegative(f.attempts);
        e.paidSubmits += nonNegative(f.paidSubmits);
        if (f.spentMicros !== undefined) e.spentMicros = (e.spentMicros ?? 0) + nonNegative(f.spentMicros);
        e.failureClass = knownClass(f.failureClass);
        e.code = typeof f.code === 'string' && f.code ? f.code.slice(0, 200) : 'UNKNOWN';
        e.message = scrubReportText(typeof f.message === 'string' ? f.message : '');
        e.history = [...e.history, ...sanitizeHistory(f.history, now)].slice(-ATTEMPT_HISTORY_LIMIT);
      } else {
        e.failureClass = 'internal';
        e.code = `RETRY_${outcome.status}`;
        e.message = `the retry child ended ${outcome.status} without reporting`;
      }
      e.lastFailedAt = now;
      e.dlqRetries++;
      e.status = this.restingStatus(e);
    });
    if (e.status === 'parked') log.info('DLQ entry parked: retry cap reached', { entryId: e.id, dlqRetries: e.dlqRetries, code: e.code });
  }
}
