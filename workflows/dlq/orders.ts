// The entity's order layer: retry / discard / purge. An order acts on the entries under its watermark (those there when
// it was given), once per request id (a repeat answers the first result); the front applies it to its own entries and
// forwards it, with the same request id and time watermark, to every shard, and sums what they did.
import { currentUpdateInfo, log, uuid4, workflowInfo } from '@temporalio/workflow';
import type { ForwardOrderOutput } from '../../activities/dlq';
import type { DlqAuditRecord, DlqEntry, DlqFilter, DlqForwardedOrder, DlqOperationResult } from '../messages';
import { nowIso } from './clock';
import { invalid } from './errors';
import { selectEntries, type Watermark } from './filters';
import { AUDIT_KEPT, REQUEST_IDS_KEPT, RESULT_SAMPLE_KEPT, RESULTS_KEPT, SAMPLE_SIZE } from './limits';
import { emptyOutcomes } from './outcomes';
import { parseOrder, type Operation, type Order } from './requests';
import { DlqRetries } from './retries';
import { dlqShardWorkflowId } from '../../src/domain/dlq-routing';
import { shardSettings } from './settings';
import { addCost, addEntryCost, cutToBudget, describeBudgetUse, emptyRetryCost, mergeBudgetUse, mergeRetryCost, overBudgetMessage, priceOfType, submitsPerRetry, worstOf } from '../../src/domain/dlq-cost';

export class DlqOrders extends DlqRetries {
  private readonly pendingOrders = new Map<string, Promise<DlqOperationResult>>();

  /** An operator's order to this workflow (a front forwards it to its shards). */
  async execute(operation: Operation, order: Order, via: 'signal' | 'update'): Promise<DlqOperationResult> {
    const requestId = order.requestId ?? (via === 'update' ? currentUpdateInfo()?.id : undefined) ?? uuid4();
    const repeated = this.repeated(operation, requestId, order.dryRun);
    if (repeated) return repeated;
    const now = nowIso();
    const local = this.apply(operation, order, { seq: this.state.nextSeq }, requestId);
    // recorded before it is forwarded (ORDER_OUTCOMES_PATCH): its retries, here and in the shards, report into it
    const early = !order.dryRun && this.guards.orderOutcomes ? this.auditRecord(operation, order, local, via, now) : undefined;
    const running = (async (): Promise<DlqOperationResult> => {
      const result: DlqOperationResult = { ...local, workflows: 1, ...(local.budget && { budget: { ...local.budget } }) };
      const shards = this.shardIds();
      if (this.role === 'front' && shards.length > 0) {
        // a fitBudget order: what the front's own entries left of the budget, shared evenly by the shards
        const share = local.budget && Math.floor((local.budget.budgetMicros - local.budget.reservedMicros) / shards.length);
        const forwarded: DlqForwardedOrder = {
          operation,
          request: {
            ...order.filter,
            all: order.all,
            reason: order.reason,
            by: order.by,
            requestId,
            dryRun: order.dryRun,
            ...(order.prices && { prices: order.prices }),
            ...(share !== undefined && { budgetMicros: share, fitBudget: true }),
          },
          watermarkAt: now,
          from: this.selfId,
          settings: shardSettings(this.settings),
        };
        let results: ForwardOrderOutput['results'];
        try {
          ({ results } = await this.acts.forward.forwardDlqOrder({ workflowIds: shards, order: forwarded }));
        } catch (err) {
          log.error('could not forward a DLQ order to the shards: applied to the front only', { requestId, error: String(err) });
          results = shards.map((workflowId) => ({ workflowId, result: null, error: String(err) }));
        }
        for (const r of results) {
          if (r.error !== undefined) (result.unreached ??= []).push(r.workflowId);
          if (!r.result) continue;
          result.matched += r.result.matched;
          result.skipped += r.result.skipped;
          result.workflows! += 1;
          if (result.cost && r.result.cost) mergeRetryCost(result.cost, r.result.cost);
          if (result.budget) mergeBudgetUse(result.budget, r.result.budget);
          for (const id of r.result.sample) if (result.sample.length < SAMPLE_SIZE) result.sample.push(id);
        }
      }
      if (early) {
        early.matched = result.matched;
        early.skipped = result.skipped;
        if (result.budget) early.budget = result.budget;
        this.remember(operation, order, result);
      } else if (!order.dryRun) this.record(operation, order, result, via, now);
      return result;
    })();
    if (!order.dryRun) {
      this.pendingOrders.set(requestId, running);
      // forget the order when it settles; its failure is the caller's (returned below), not this bookkeeping's
      const forget = (): void => void this.pendingOrders.delete(requestId);
      void running.then(forget, forget);
    }
    return running;
  }

  /** A shard applies an order its front forwarded, and adopts the front's settings. */
  async applyForwarded(fo: DlqForwardedOrder): Promise<DlqOperationResult> {
    this.state.adopted = { ...fo.settings };
    this.settings = this.resolveSettings(workflowInfo().taskQueue);
    const parsed = parseOrder(fo.operation, fo.request, this.guards.bounded);
    if (!parsed.ok) throw invalid(parsed.error); // the validator let it through: it cannot happen
    const { requestId } = fo.request;
    const repeated = this.repeated(fo.operation, requestId, parsed.order.dryRun);
    if (repeated) return repeated;
    const result = this.apply(fo.operation, parsed.order, { at: fo.watermarkAt }, requestId);
    if (!parsed.order.dryRun) this.record(fo.operation, parsed.order, result, 'front', fo.watermarkAt);
    return { ...result, workflows: 1 };
  }

  /** The result of an order already applied with this request id (this run or an earlier one), or undefined. */
  private repeated(operation: Operation, requestId: string, dryRun: boolean): DlqOperationResult | Promise<DlqOperationResult> | undefined {
    if (dryRun) return undefined;
    const pending = this.pendingOrders.get(requestId);
    if (pending) return pending.then((r) => ({ ...r, duplicate: true }));
    if (!this.state.requests.ids.includes(requestId)) return undefined;
    const earlier = this.state.requests.results.find((r) => r.requestId === requestId);
    log.info('repeated DLQ order: no change', { requestId, operation });
    return earlier
      ? { ...earlier, duplicate: true }
      : { operation, requestId, dryRun: false, matched: 0, sample: [], skipped: 0, duplicate: true };
  }

  /** Applies an order to this workflow's own entries (synchronously: nothing arrives in between). */
  private apply(operation: Operation, order: Order, watermark: Watermark, requestId: string): DlqOperationResult {
    const result: DlqOperationResult = { operation, requestId, dryRun: order.dryRun, matched: 0, sample: [], skipped: 0 };
    // paid submits per retried entry at worst, by the policy its retries solve under
    const submitsPerEntry = submitsPerRetry(this.settings.solvePolicy);
    if (operation === 'retry' && order.prices) result.cost = emptyRetryCost(submitsPerEntry);
    const explicit = new Set(order.filter.ids ?? []);
    const eligible: DlqEntry[] = [];
    for (const e of this.select(order.filter, watermark)) {
      if (operation === 'purge' && e.status !== 'parked') continue;
      if (e.status === 'retrying') {
        result.skipped++;
        continue;
      }
      if (operation === 'retry' && !explicit.has(e.id) && (e.status === 'parked' || e.failureClass === 'account')) {
        result.skipped++;
        continue;
      }
      eligible.push(e);
    }
    let selected = eligible;
    if (operation === 'retry' && order.fitBudget && order.budgetMicros !== undefined && order.prices) {
      // oldest last failure first: an entry retried and dead again goes to the back of the next run
      selected = [...eligible].sort((a, b) => (a.lastFailedAt < b.lastFailedAt ? -1 : a.lastFailedAt > b.lastFailedAt ? 1 : a.seq - b.seq));
      const { take, ...use } = cutToBudget(selected.map((e) => priceOfType(order.prices!, e.task.type)), order.budgetMicros, submitsPerEntry);
      selected = selected.slice(0, take);
      result.budget = use;
    }
    for (const e of selected) {
      result.matched++;
      if (result.cost) addEntryCost(result.cost, e.failureClass, e.task.type, order.prices!);
      if (result.sample.length < SAMPLE_SIZE) result.sample.push(e.id);
      if (order.dryRun) continue;
      if (operation === 'retry') {
        const generation = (e.lastGeneration ?? e.dlqRetries) + 1;
        this.update(e, () => {
          e.status = 'retrying';
          e.lastGeneration = generation;
        });
        this.state.queue.push({ entryId: e.id, generation, ...(order.route && { route: order.route }), ...(this.guards.orderOutcomes && { order: requestId }) });
      } else {
        this.remove(e);
        if (operation === 'discard') this.state.counters.discarded++;
        else this.state.counters.purged++;
      }
    }
    if (!order.dryRun) {
      const ids = this.state.requests.ids;
      ids.push(requestId);
      if (ids.length > REQUEST_IDS_KEPT) ids.splice(0, ids.length - REQUEST_IDS_KEPT);
      if (result.matched > 0) this.changed();
    }
    return result;
  }

  private record(operation: Operation, order: Order, result: DlqOperationResult, via: DlqAuditRecord['via'], watermarkAt: string): void {
    // the order of old: the result kept, then the audit record
    this.keepResult(result);
    this.auditRecord(operation, order, result, via, watermarkAt);
    this.logOrder(operation, order, result);
  }

  /** The result kept for a repeated request, and the log line; its audit record is written already. */
  private remember(operation: Operation, order: Order, result: DlqOperationResult): void {
    this.keepResult(result);
    this.logOrder(operation, order, result);
  }

  private keepResult(result: DlqOperationResult): void {
    const results = this.state.requests.results;
    results.push({ ...result, sample: result.sample.slice(0, RESULT_SAMPLE_KEPT) });
    if (results.length > RESULTS_KEPT) results.splice(0, results.length - RESULTS_KEPT);
  }

  /** Appends the order's audit record (retry orders track their outcomes under ORDER_OUTCOMES_PATCH) and returns it. */
  private auditRecord(operation: Operation, order: Order, result: DlqOperationResult, via: DlqAuditRecord['via'], watermarkAt: string): DlqAuditRecord {
    const audit = this.state.audit;
    const record: DlqAuditRecord = {
      operation,
      requestId: result.requestId,
      by: order.by,
      reason: order.reason,
      at: nowIso(),
      matched: result.matched,
      skipped: result.skipped,
      filter: { ...order.filter, ...(order.all && { all: true }) },
      watermarkAt,
      ...(via && { via }),
      ...(result.budget && { budget: result.budget }),
      ...(operation === 'retry' && this.guards.orderOutcomes && { outcomes: emptyOutcomes() }),
    };
    audit.push(record);
    const kept = AUDIT_KEPT[this.role];
    if (audit.length > kept) audit.splice(0, audit.length - kept);
    return record;
  }

  private logOrder(operation: Operation, order: Order, result: DlqOperationResult): void {
    log.info('DLQ order', {
      operation,
      requestId: result.requestId,
      by: order.by,
      reason: order.reason,
      matched: result.matched,
      skipped: result.skipped,
      ...(result.budget && { budget: describeBudgetUse(result.matched, result.budget) }),
    });
  }

  /**
   * The check of a retry order's budget (the update's validator; a signal's handler): the entries this workflow holds,
   * exactly, and for each shard, from its last snapshot, at most its dead entries at the highest price given. Against
   * the worst case — each entry's submit and every resubmit the solve policy allows — so that the order cannot pass
   * its budget even when every retry comes back unsolvable; `worstCase` false is the one-submit check of old (a signal
   * replayed from before the worst-case patch). Throws the sentence. A `fitBudget` order is never refused: it retries
   * what fits.
   */
  checkRetryBudget(order: Order, worstCase = true): void {
    if (order.budgetMicros === undefined || !order.prices || order.fitBudget) return;
    const own = this.apply('retry', { ...order, dryRun: true }, { seq: this.state.nextSeq }, 'budget-check');
    const cost = own.cost ?? emptyRetryCost(1);
    let matched = own.matched;
    let upperBound = false;
    if (this.role === 'front') {
      const top = Math.max(0, ...Object.keys(order.prices).map((t) => priceOfType(order.prices!, t)));
      for (const s of Object.values(this.state.shards)) {
        const dead = s.byStatus.dead;
        if (dead === 0) continue;
        upperBound = true;
        matched += dead;
        addCost(cost, 'shards (at most)', top, dead);
      }
    }
    if ((worstCase ? worstOf(cost) : cost.totalMicros) > order.budgetMicros) throw invalid(overBudgetMessage(matched, cost, order.budgetMicros, upperBound));
  }

  /** Every shard the front knows of: the configured ones and any that pushed a snapshot. */
  private shardIds(): string[] {
    if (this.role !== 'front') return [];
    const ids = new Set<string>();
    for (let i = 1; i < this.settings.shardCount; i++) ids.add(dlqShardWorkflowId(this.frontId, i));
    for (const id of Object.keys(this.state.shards)) ids.add(id);
    return [...ids];
  }

  /** Entries matching the filter and under the watermark. */
  protected select(filter: DlqFilter, watermark: Watermark): DlqEntry[] {
    return selectEntries(this.state.entries, filter, watermark);
  }
}
