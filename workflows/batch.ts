// A batch: one solve child per task, through a sliding window that never exceeds `concurrency`. The batch learns a
// child's outcome from its completion event; children are abandoned on close, and before a continue-as-new the ones
// still running are asked to report by signal instead, which reaches the next run. Final failures are recorded in the
// DLQ by the children themselves; the batch keeps counts and a short window of fresh tokens.
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  ParentClosePolicy,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  TerminatedFailure,
  setHandler,
  startChild,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import { batchDailyCapSignal, batchProgressQuery, batchResultsQuery, batchResumeSignal, batchResumeUpdate, reportBySignalSignal, solveOutcomeSignal, type BatchInput, type BatchProgress, type BatchResumeRequest, type BatchResultsPage, type BatchState, type BatchSummary, type SolveOutcome } from './messages';
import { DEFAULT_DLQ_WORKFLOW_ID, WORKFLOW_TYPES, batchIdAttribute, sitekeyAttribute } from '../src/domain/names';
import { ACCOUNT_ACTIVITY_OPTIONS, READ_TASK_PAGE_ACTIVITY_OPTIONS, REPORT_ACTIVITY_OPTIONS } from '../src/domain/policies';
import { describeTask } from '../src/domain/describe';
import type { CaptchaTask, SolveFailureDetails, SolveInput } from '../src/domain/types';
import { budgetProblem, committedMicros, moneyFigures, newBatchMoney, priceOf, reserve, settle, wouldPassBudget } from '../src/domain/budget';
import { formatUsd } from '../src/domain/prices';
import { capReachedMessage } from '../src/domain/daily-cap';
import { nowIso, workflowNow } from './clock';

const DEFAULTS = {
  concurrency: 50,
  dlqWorkflowId: DEFAULT_DLQ_WORKFLOW_ID,
  pageSize: 500,
  maxHistoryEvents: 8_000,
  maxChildrenPerRun: 1_000,
  resultsKept: 200,
  resultsMaxAgeMs: 180_000,
  breakerThreshold: 3,
  onAccountFailure: 'hold' as 'hold' | 'dead-letter',
};
/** `patched` id of hearing children through completion events (before it, every child signalled its outcome). */
const COMPLETION_EVENTS_PATCH = 'batch-completion-events';
/**
 * `patched` id of catching only what is meant: a child that is not running (or cannot take one more signal) where the
 * batch signals or cancels it, and a child that exists already where it starts one. Before it, every error was taken
 * for that, or (any other start failure) left as an unhandled rejection that failed the workflow task, over and over.
 */
const PRECISE_CATCH_PATCH = 'batch-precise-catch';
/** Runs of one provider kept in the batch's progress. */
const PROVIDER_RUNS_KEPT = 50;
/** `patched` id of counting money (spent, wasted) and holding children whose submit would pass the budget. */
const MONEY_PATCH = 'batch-money-budget';
/** `patched` id of leasing spend from the account's daily cap (a batch started with `dailyCap`). */
const DAILY_CAP_PATCH = 'batch-daily-cap';
/** A lease that failed is asked again after this long (the batch holds its tasks meanwhile). */
const CAP_LEASE_RETRY_MS = 60_000;
/** How long a cancelled batch waits for its children to confirm before it reports them as cancelled anyway. */
const CANCEL_GRACE_MS = 60_000;

type KeyedTask = CaptchaTask & { key: string };

export async function captchaBatchWorkflow(input: BatchInput): Promise<BatchSummary> {
  const settings = { ...DEFAULTS, ...definedOnly(input) };
  const { batchId, source } = input;
  const state: BatchState = input.state ?? {
    startedAt: nowIso(),
    run: 1,
    total: source.kind === 'file' ? source.total : source.tasks.length,
    cursor: 0,
    sourceDone: false,
    pending: [],
    inFlight: {},
    started: 0,
    solved: 0,
    deadLettered: 0,
    cancelled: 0,
    errors: {},
    results: [],
    nextSeq: 1,
    window: settings.concurrency,
    circuit: { open: false, accountFailures: 0 },
  };
  let inFlight = Object.keys(state.inFlight).length;
  let starting = 0;
  let startedThisRun = 0;
  let cancelling = false;
  /** a child that could not start for another reason than existing already: the batch fails with it */
  let startFailure: ApplicationFailure | undefined;
  /** children started by this run whose completion event this run awaits (the rest report by signal) */
  const awaitingCompletion = new Set<string>();
  let startScope: CancellationScope | undefined;
  // a run that began before children were heard through completion events replays as it ran: every child signals
  const hearByCompletion = patched(COMPLETION_EVENTS_PATCH);
  // a run that began before money was counted keeps none (its input has no budget either)
  if (patched(MONEY_PATCH)) state.money ??= newBatchMoney(settings.budgetMicros);
  let budgetPauseLogged = false;
  // the daily cap: only batches started with one (their input has it), so earlier histories take none of this
  const cap = settings.dailyCap && state.money && patched(DAILY_CAP_PATCH) ? (state.dailyCap ??= { leasedMicros: 0, leases: 0 }) : undefined;
  /** the account says the cap was raised: ask again */
  let capWake = false;

  const { reportDeadLetters } = proxyActivities<Activities>({ ...REPORT_ACTIVITY_OPTIONS, summary: 'dead-letter tasks not submitted' });
  const { readTaskPage } = proxyActivities<Activities>({ ...READ_TASK_PAGE_ACTIVITY_OPTIONS, summary: 'read a page of tasks' });
  const { leaseDailySpend } = proxyActivities<Activities>({ ...ACCOUNT_ACTIVITY_OPTIONS, summary: 'lease spend under the daily cap' });

  setHandler(solveOutcomeSignal, onOutcome);
  function onOutcome(outcome: SolveOutcome): void {
    if (!state.inFlight[outcome.taskKey]) return; // a duplicate (signal and completion event), or not ours
    delete state.inFlight[outcome.taskKey];
    inFlight--;
    if (state.money) {
      const spent = outcome.outcome === 'solved' ? outcome.result.spentMicros : outcome.outcome === 'failed' ? outcome.failure.spentMicros : undefined;
      settle(state.money, outcome.taskKey, spent, outcome.outcome === 'failed');
    }
    const duplicates = outcome.outcome === 'solved' ? outcome.result.possibleDuplicateSubmits : outcome.outcome === 'failed' ? outcome.failure.possibleDuplicateSubmits : undefined;
    if (duplicates) state.possibleDuplicateSubmits = (state.possibleDuplicateSubmits ?? 0) + duplicates;
    countByProvider(outcome);
    if (outcome.outcome === 'solved') {
      state.solved++;
      state.results.push({ ...outcome.result, seq: state.nextSeq++ });
      trimResults();
      state.window = Math.min(settings.concurrency, state.window + 1);
    } else if (outcome.outcome === 'failed') {
      state.deadLettered++;
      const { code, failureClass } = outcome.failure;
      state.errors[code] = (state.errors[code] ?? 0) + 1;
      if (failureClass === 'transient') state.window = Math.max(1, Math.floor(state.window / 2));
      // an account error probably repeats for every task: probe one at a time until the breaker decides
      if (failureClass === 'account') {
        state.window = 1;
        recordAccountFailure(code);
      }
    } else {
      state.cancelled++;
    }
  }
  /** Outcomes by provider and the runs of solved tasks per provider: data only, no command. */
  function countByProvider(outcome: SolveOutcome): void {
    const provider = outcome.outcome === 'solved' ? outcome.result.provider : outcome.outcome === 'failed' ? outcome.failure.provider : undefined;
    if (provider === undefined || outcome.outcome === 'cancelled') return;
    const by = (state.byProvider ??= {});
    const count = (by[provider] ??= { solved: 0, deadLettered: 0, switched: 0 });
    if (outcome.outcome === 'failed') {
      count.deadLettered++;
      return;
    }
    count.solved++;
    if (outcome.result.switches?.length) count.switched++;
    const runs = (state.providerRuns ??= []);
    const at = outcome.result.solvedAt;
    const lastRun = runs.at(-1);
    if (lastRun?.provider === provider) {
      lastRun.solved++;
      lastRun.lastSolvedAt = at;
    } else {
      runs.push({ provider, solved: 1, firstSolvedAt: at, lastSolvedAt: at });
      if (runs.length > PROVIDER_RUNS_KEPT) runs.splice(0, runs.length - PROVIDER_RUNS_KEPT);
    }
  }
  setHandler(batchProgressQuery, progress);
  const resume = ({ reason, budgetMicros }: BatchResumeRequest = {}): BatchProgress => {
    if (state.circuit.open) log.info('circuit closed by an operator', { batchId, reason: reason ?? '' });
    if (budgetMicros !== undefined && state.money && budgetProblem(budgetMicros) === undefined) {
      log.info('budget changed by an operator', { batchId, from: state.money.budgetMicros ?? null, to: budgetMicros, reason: reason ?? '' });
      state.money.budgetMicros = budgetMicros;
      budgetPauseLogged = false;
    }
    state.circuit = { open: false, accountFailures: 0 };
    state.window = settings.concurrency;
    if (cap?.paused) capWake = true;
    return progress();
  };
  if (cap) setHandler(batchDailyCapSignal, () => void (capWake = true));
  setHandler(batchResumeUpdate, resume, {
    validator: (req?: BatchResumeRequest) => {
      const problem = budgetProblem(req?.budgetMicros);
      if (problem) throw new Error(`resume refused: ${problem}`);
    },
  });
  setHandler(batchResumeSignal, (req?: BatchResumeRequest) => void resume(req));
  setHandler(batchResultsQuery, ({ cursor = 0, limit = 100 } = {}): BatchResultsPage => {
    const page = state.results.filter((r) => r.seq > cursor).slice(0, Math.min(Math.max(limit, 1), 500));
    return { results: page, nextCursor: page.at(-1)?.seq ?? Math.max(cursor, 0), oldestKept: state.results[0]?.seq ?? state.nextSeq };
  });

  try {
    for (;;) {
      if (startFailure) throw startFailure;
      if (state.circuit.open && settings.onAccountFailure === 'dead-letter') await deadLetterTheRest();
      if (!state.sourceDone && state.pending.length < settings.concurrency) await readMore();
      for (;;) {
        if (leaseWanted()) await leaseMore();
        if (!(mayStart() && state.pending.length > 0 && !runIsFull())) break;
        startNext();
      }
      if (!budgetPauseLogged && budgetHolds()) {
        budgetPauseLogged = true;
        log.warn('batch paused by its budget: no more submits', { batchId, ...progress().money });
      }
      publishDetails();
      if (state.sourceDone && state.pending.length === 0 && inFlight === 0 && starting === 0) break;
      if (runIsFull()) {
        await condition(() => starting === 0);
        if (startFailure) throw startFailure;
        await handOverToSignals();
        await condition(allHandlersFinished);
        const next: BatchInput = { ...input, state: { ...state, run: state.run + 1 } };
        if (source.kind === 'inline') {
          // the unread tasks move into `pending`, so the next run's input does not repeat what was already started
          next.source = { kind: 'inline', tasks: [] };
          next.state = { ...next.state!, pending: [...state.pending, ...source.tasks.slice(state.cursor)], cursor: 0, sourceDone: true };
        }
        log.info('batch continues as new', { batchId, run: state.run, inFlight, historyLength: workflowInfo().historyLength });
        return await continueAsNew<typeof captchaBatchWorkflow>(next);
      }
      const inFlightBefore = inFlight;
      const circuitWasOpen = state.circuit.open;
      const wake = () =>
        inFlight < inFlightBefore ||
        startFailure !== undefined ||
        state.circuit.open !== circuitWasOpen ||
        (mayStart() && (state.pending.length > 0 || !state.sourceDone)) ||
        (state.sourceDone && state.pending.length === 0 && inFlight === 0 && starting === 0);
      if (cap?.paused) {
        // paused by the cap: until the account says it was raised, an operator resumes, or the UTC day turns
        const woke = await condition(() => wake() || capWake, Math.max(1_000, Date.parse(cap.paused.resetsAt) - workflowNow() + 1_000));
        if (!woke || capWake) {
          log.info('daily cap: asking for a lease again', { batchId, why: woke ? 'the cap was raised or the batch resumed' : 'a new day' });
          delete cap.paused;
          capWake = false;
        }
      } else {
        await condition(wake);
      }
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    return await CancellationScope.nonCancellable(cancelEverything);
  }
  publishDetails();
  return summary('completed', 0);

  function mayStart(): boolean {
    return !state.circuit.open && inFlight < state.window && !budgetHolds() && !capShort();
  }

  /** The unspent lease does not cover the next task's submit. */
  function capShort(): boolean {
    const next = state.pending[0];
    return cap !== undefined && next !== undefined && cap.leasedMicros - committedMicros(state.money!) < priceOf(settings.prices, next.type);
  }

  /** Only a lease stands between the next task and its start. */
  function leaseWanted(): boolean {
    return capShort() && !cap!.paused && !state.circuit.open && inFlight < state.window && !budgetHolds() && !runIsFull();
  }

  /** One update to the account for a chunk (and whatever children spent beyond their reservation); pauses when short. */
  async function leaseMore(): Promise<void> {
    const { capMicros, chunkMicros, accountWorkflowId } = settings.dailyCap!;
    const price = priceOf(settings.prices, state.pending[0]!.type);
    const room = cap!.leasedMicros - committedMicros(state.money!);
    const request = { requestId: `${batchId}/cap-${++cap!.leases}`, holder: workflowInfo().workflowId, micros: Math.max(chunkMicros, price - room), capMicros };
    try {
      const answer = await leaseDailySpend({ accountWorkflowId, request });
      cap!.leasedMicros += answer.grantedMicros;
      if (!capShort()) return;
      cap!.paused = { message: `paused: ${answer.message ?? capReachedMessage(answer.capMicros, nowIso())}`, resetsAt: answer.resetsAt };
      log.warn('batch paused by the daily cap: no more submits', { batchId, ...cap! });
    } catch (err) {
      if (isCancellation(err)) throw err;
      cap!.paused = { message: `paused: could not lease spend under the daily cap (${err instanceof Error ? err.message : String(err)}); asking again in a minute`, resetsAt: new Date(workflowNow() + CAP_LEASE_RETRY_MS).toISOString() };
      log.warn('daily cap lease failed', { batchId, error: String(err) });
    }
  }

  /** The next task's submit would pass the budget: nothing starts until `resume` raises it. */
  function budgetHolds(): boolean {
    const next = state.pending[0];
    return state.money !== undefined && next !== undefined && wouldPassBudget(state.money, priceOf(settings.prices, next.type));
  }

  function money(withNext: boolean): Pick<BatchProgress, 'money'> {
    if (!state.money) return {};
    const next = withNext ? state.pending[0] : undefined;
    return { money: moneyFigures(state.money, state.solved, next && { price: priceOf(settings.prices, next.type) }) };
  }

  function recordAccountFailure(code: string): void {
    state.circuit.accountFailures++;
    if (!state.circuit.open && state.circuit.accountFailures >= settings.breakerThreshold) {
      state.circuit = { ...state.circuit, open: true, code, openedAt: nowIso() };
      log.warn('circuit open: the provider account is failing; no more submits', {
        batchId,
        code,
        accountFailures: state.circuit.accountFailures,
        then: settings.onAccountFailure,
      });
    }
  }

  /** An open circuit in dead-letter mode: every task not started goes to the DLQ as account-class, unsubmitted. */
  async function deadLetterTheRest(): Promise<void> {
    for (;;) {
      if (state.pending.length === 0 && !state.sourceDone) await readMore();
      if (state.pending.length === 0) return;
      const page = state.pending.splice(0, settings.pageSize);
      const code = state.circuit.code ?? 'CIRCUIT_OPEN';
      await reportDeadLetters({
        dlqWorkflowId: settings.dlqWorkflowId,
        reports: page.map((task) => ({
          entryId: childId(task.key),
          task,
          taskKey: task.key,
          batchId,
          failureClass: 'account',
          code,
          message: `not submitted: the circuit opened after ${state.circuit.accountFailures} account errors (${code})`,
          attempts: 0,
          paidSubmits: 0,
          providerTaskIds: [],
          history: [],
          failedAt: nowIso(),
        })),
      });
      state.deadLettered += page.length;
      state.errors[code] = (state.errors[code] ?? 0) + page.length;
    }
  }

  function runIsFull(): boolean {
    const info = workflowInfo();
    // the children-per-run cap keeps room for what is still to start; with nothing left, the run just finishes
    const moreToStart = !hearByCompletion || state.pending.length > 0 || !state.sourceDone;
    return (
      info.continueAsNewSuggested ||
      info.historyLength >= settings.maxHistoryEvents ||
      (moreToStart && startedThisRun >= settings.maxChildrenPerRun)
    );
  }

  async function readMore(): Promise<void> {
    if (source.kind === 'inline') {
      const page = source.tasks.slice(state.cursor, state.cursor + settings.pageSize);
      state.pending.push(...page);
      state.cursor += page.length;
      state.sourceDone = state.cursor >= source.tasks.length;
      return;
    }
    const page = await readTaskPage({ source, offset: state.cursor, limit: settings.pageSize });
    state.pending.push(...page.tasks);
    state.cursor += page.tasks.length;
    state.sourceDone = page.done;
  }

  /**
   * The one non-cancellable scope every child of this run starts in, made at the first start. Every promise a workflow
   * makes costs the worker a stack trace (the SDK's promise hook, for the __stack_trace query: about 20 µs each,
   * measured), and a scope of its own per child would make three more for every child.
   */
  function childStarts(): CancellationScope {
    return (startScope ??= new CancellationScope({ cancellable: false }));
  }

  function startNext(): void {
    const task = state.pending.shift() as KeyedTask;
    state.inFlight[task.key] = true;
    inFlight++;
    starting++;
    startedThisRun++;
    state.started++;
    if (state.money) reserve(state.money, task.key, priceOf(settings.prices, task.type));
    const solveInput: SolveInput = {
      task,
      taskKey: task.key,
      batchId,
      ...(settings.policy && { policy: settings.policy }),
      dlqWorkflowId: settings.dlqWorkflowId,
      parentWorkflowId: workflowInfo().workflowId,
      ...(hearByCompletion && { parentAwaitsCompletion: true }),
      ...(settings.route && { route: settings.route }),
      ...(settings.resubmitElsewhere !== undefined && { resubmitElsewhere: settings.resubmitElsewhere }),
    };
    // started outside the batch's cancellation scope: a cancelled batch cancels its children explicitly, by id,
    // which also reaches children started by an earlier run
    void childStarts().run(async () => {
      try {
        const child = await startChild(WORKFLOW_TYPES.solve, {
          workflowId: childId(task.key),
          args: [solveInput],
          ...(settings.taskQueue && { taskQueue: settings.taskQueue }),
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: describeTask(task),
          typedSearchAttributes: [
            { key: batchIdAttribute, value: batchId },
            ...(task.sitekey && settings.indexSitekeys !== false ? [{ key: sitekeyAttribute, value: task.sitekey }] : []),
          ],
        });
        if (hearByCompletion) awaitingCompletion.add(task.key);
        // one reaction for either end (see childStarts)
        const settle = (outcome: SolveOutcome): void => {
          try {
            onOutcome(outcome);
          } finally {
            awaitingCompletion.delete(task.key);
          }
        };
        void child.result().then(
          (result) => settle({ taskKey: task.key, outcome: 'solved', result }),
          (err: unknown) => settle(outcomeOfFailure(task.key, err)),
        );
      } catch (err) {
        const exists = patched(PRECISE_CATCH_PATCH) ? err instanceof WorkflowExecutionAlreadyStartedError : (err as Error).name === 'WorkflowExecutionAlreadyStartedError';
        if (exists) {
          // a repeated start: the child is running; it must report to us by signal
          log.info('solve child already exists', { batchId, taskKey: task.key });
          if (hearByCompletion) await askForSignal(task.key);
        } else if (patched(PRECISE_CATCH_PATCH)) {
          // this promise is not awaited: the main loop fails the batch with it
          startFailure ??= ApplicationFailure.create({
            type: 'BatchChildStartFailed',
            message: `solve child ${childId(task.key)} could not start: ${err instanceof Error ? err.message : String(err)}`,
            nonRetryable: true,
            ...(err instanceof Error && { cause: err }),
          });
        } else {
          throw err;
        }
      } finally {
        starting--;
      }
    });
  }

  /** Before continue-as-new: the children this run still awaits must report to the next run, by signal. */
  async function handOverToSignals(): Promise<void> {
    await Promise.all([...awaitingCompletion].map(async (key) => {
      if (await askForSignal(key)) awaitingCompletion.delete(key);
    }));
    // a child that closed before it heard us: its completion event reaches this run
    await condition(() => awaitingCompletion.size === 0);
  }

  /** False when the child will not hear it: it has closed already (or takes no more signals); its completion event is ours. */
  async function askForSignal(key: string): Promise<boolean> {
    try {
      await getExternalWorkflowHandle(childId(key)).signal(reportBySignalSignal);
      return true;
    } catch (err) {
      if (isUnreachableChild(err) || !patched(PRECISE_CATCH_PATCH)) return false;
      throw err;
    }
  }

  async function cancelEverything(): Promise<BatchSummary> {
    cancelling = true;
    await condition(() => starting === 0);
    const keys = Object.keys(state.inFlight);
    log.info('batch cancelled: cancelling children', { batchId, inFlight: keys.length });
    await Promise.all(
      keys.map((key) =>
        getExternalWorkflowHandle(childId(key))
          .cancel()
          .catch((err: unknown) => {
            // already closed: its outcome is on its way
            if (!isUnreachableChild(err) && patched(PRECISE_CATCH_PATCH)) throw err;
          }),
      ),
    );
    await condition(() => inFlight === 0, CANCEL_GRACE_MS);
    const unconfirmed = inFlight;
    const unread = source.kind === 'inline' ? source.tasks.length - state.cursor : source.total - state.cursor;
    const notStarted = state.pending.length + Math.max(unread, 0);
    state.pending = [];
    state.cancelled += notStarted + unconfirmed;
    publishDetails();
    return summary('cancelled', notStarted);
  }

  function childId(key: string): string {
    return `${batchId}/${key}`;
  }

  function trimResults(): void {
    const oldest = workflowNow() - settings.resultsMaxAgeMs;
    let drop = Math.max(0, state.results.length - settings.resultsKept);
    while (drop < state.results.length && Date.parse(state.results[drop]!.solvedAt) < oldest) drop++;
    if (drop > 0) state.results.splice(0, drop);
  }

  function topErrors(n = 5) {
    return Object.entries(state.errors)
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([code, count]) => ({ code, count }));
  }

  function duplicateCount(): { possibleDuplicateSubmits?: number } {
    return state.possibleDuplicateSubmits ? { possibleDuplicateSubmits: state.possibleDuplicateSubmits } : {};
  }

  function progress(): BatchProgress {
    return {
      batchId,
      status: cancelling ? 'cancelling' : 'running',
      total: state.total,
      started: state.started,
      solved: state.solved,
      deadLettered: state.deadLettered,
      ...duplicateCount(),
      cancelled: state.cancelled,
      inFlight,
      startedAt: state.startedAt,
      elapsedMs: workflowNow() - Date.parse(state.startedAt),
      run: state.run,
      topErrors: topErrors(),
      window: state.window,
      circuit: state.circuit,
      ...(state.byProvider && { byProvider: state.byProvider }),
      ...(state.providerRuns && { providerRuns: state.providerRuns }),
      ...money(!cancelling),
      ...(cap && { dailyCap: { ...cap } }),
    };
  }

  function summary(status: BatchSummary['status'], notStarted: number): BatchSummary {
    return {
      batchId,
      status,
      total: state.total,
      solved: state.solved,
      deadLettered: state.deadLettered,
      ...duplicateCount(),
      cancelled: state.cancelled,
      notStarted,
      elapsedMs: workflowNow() - Date.parse(state.startedAt),
      runs: state.run,
      topErrors: topErrors(),
      ...money(false),
    };
  }

  function publishDetails(): void {
    const p = progress();
    const rows = [
      ['total', p.total ?? '…'],
      ['solved', p.solved],
      ['dead-lettered', p.deadLettered],
      ['cancelled', p.cancelled],
      ['in flight', p.inFlight],
      ['window', p.window],
      ['circuit', p.circuit.open ? `open (${p.circuit.code})` : 'closed'],
      ['run', p.run],
      ...Object.entries(p.byProvider ?? {}).map(([name, c]) => [`solved on ${name}`, c.solved]),
      ...(p.money
        ? [
            ['spent', formatUsd(p.money.spentMicros)],
            ['budget', p.money.budgetMicros === undefined ? 'none' : `${formatUsd(p.money.budgetMicros)}${p.money.paused ? ' (paused: reached)' : ''}`],
          ]
        : []),
    ];
    // lists, not tables: the Web UI renders Markdown tables without cell padding ("dead-lettered3")
    const errors = p.topErrors.map((e) => `- ${e.code}: ${e.count}`).join('\n');
    setCurrentDetails(
      `**Batch ${batchId}**\n\n${rows.map(([k, v]) => `- ${k}: ${v}`).join('\n')}` + (errors ? `\n\n**Top errors**\n\n${errors}` : ''),
    );
  }
}

/**
 * The SDK's failure when a signal or cancel cannot reach a child: it is not running (closed, or never started), or it
 * has taken all the signals a run may take. The failure types are the server's causes (sdk-core names them).
 */
function isUnreachableChild(err: unknown): boolean {
  return err instanceof ApplicationFailure && (err.type === 'ExternalWorkflowExecutionNotFound' || err.type === 'SignalCountLimitExceeded');
}

/** A child that failed or was stopped, as the outcome it would have signalled. */
function outcomeOfFailure(taskKey: string, err: unknown): SolveOutcome {
  const cause = err instanceof ChildWorkflowFailure ? err.cause : err;
  const details = cause instanceof ApplicationFailure ? (cause.details?.[0] as SolveFailureDetails | undefined) : undefined;
  if (details?.failureClass) return { taskKey, outcome: 'failed', failure: details, deadLettered: details.dlqEntryId !== undefined };
  // cancelled, or terminated by an operator: either way an operator discarded it
  if (!isCancellation(err) && !(cause instanceof TerminatedFailure)) log.warn('solve child ended without an outcome', { taskKey, error: String(err) });
  return { taskKey, outcome: 'cancelled' };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
