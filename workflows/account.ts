// Refunds and balance for users. A token report runs as a short workflow per provider task (`report/<provider>/<id>`):
// its id makes it idempotent — a second report finds the first one's record and sends nothing — and its activity sends
// the report from the worker, where the key is. The verdicts are counted, with the low-balance alert state, in one
// long-lived workflow (`captcha-account`): durable, bounded, queryable, and continued-as-new before its history grows.
import { ApplicationFailure, allHandlersFinished, condition, continueAsNew, getExternalWorkflowHandle, log, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ACCOUNT_ACTIVITY_OPTIONS } from '../src/domain/policies';
import {
  batchDailyCapSignal,
  checkBalanceUpdate,
  dailyCapQuery,
  leaseDailySpendUpdate,
  setDailyCapUpdate,
  type DailyCapView,
  type SetDailyCapRequest,
  feedbackStatsQuery,
  tokenFeedbackSignal,
  type AccountInput,
  type AccountState,
  type BalanceCheck,
  type FeedbackCounts,
  type FeedbackStats,
  type TokenFeedback,
  type TokenReportInput,
  type TokenReportResult,
} from './messages';
import { nowIso, workflowNow } from './clock';
import { judgeBalances } from '../src/domain/balance';
import { grantLease, newDailyCap, nextUtcMidnight, rollOver, setCap, type DailyCapState, type LeaseRequest } from '../src/domain/daily-cap';

/** (provider, type, sitekey) rows kept; more sitekeys are counted as "(other)" */
export const ACCOUNT_FEEDBACK_ROWS_MAX = 2_000;
/** provider task ids remembered to count a repeated signal once */
const RECENT_MAX = 1_000;
/** continue-as-new after this many history events (or when the server suggests it) */
const ACCOUNT_MAX_HISTORY_EVENTS = 5_000;
const FIELD_MAX = 200;

export async function tokenReportWorkflow(input: TokenReportInput): Promise<TokenReportResult> {
  const base = { providerTaskId: input.providerTaskId, verdict: input.verdict, ...(input.taskKey !== undefined && { taskKey: input.taskKey }) };
  if (input.solvedAt !== undefined) {
    // judged at this report's first workflow task (the workflows' deterministic clock), the moment it was asked for
    const ageMs = workflowNow() - Date.parse(input.solvedAt);
    if (!(ageMs <= input.windowMs)) {
      return {
        status: 'refused',
        ...base,
        reason: `the report window has closed: the token was solved ${seconds(ageMs)} ago and the provider accepts reports for ${seconds(input.windowMs)} after a solve; nothing was sent`,
        refusedAt: nowIso(),
      };
    }
  }
  const { sendTokenReport, recordTokenFeedback } = proxyActivities<Activities>({ ...ACCOUNT_ACTIVITY_OPTIONS, summary: `report ${input.verdict}` });
  const { provider } = await sendTokenReport({ providerTaskId: input.providerTaskId, verdict: input.verdict, ...(input.provider !== undefined && { provider: input.provider }) });
  const reportedAt = nowIso();
  await recordTokenFeedback({
    accountWorkflowId: input.accountWorkflowId,
    feedback: {
      providerTaskId: input.providerTaskId,
      provider,
      captchaType: input.captchaType ?? 'unknown',
      sitekey: input.sitekey ?? 'unknown',
      verdict: input.verdict,
      at: reportedAt,
    },
  });
  return { status: 'sent', ...base, provider, reportedAt };
}

export async function captchaAccountWorkflow(input: AccountInput = {}): Promise<void> {
  const state: AccountState = input.state ?? { since: nowIso(), counts: {}, otherSitekeys: 0, recent: [], lowAlerted: false };
  const { accountBalance, accountBalances, notifyAccountAlert } = proxyActivities<Activities>({ ...ACCOUNT_ACTIVITY_OPTIONS, summary: 'balance' });

  setHandler(tokenFeedbackSignal, (feedback) => count(state, feedback));
  setHandler(feedbackStatsQuery, (request) => feedbackStats(state, request?.top));
  setHandler(checkBalanceUpdate, async (): Promise<BalanceCheck> => {
    if (patched('balance-every-provider')) return checkEveryProvider(state, { accountBalances, notifyAccountAlert });
    const read = await accountBalance();
    const low = read.lowBalance !== undefined && read.balance < read.lowBalance;
    // once per crossing: raised when the balance goes below the threshold, re-armed when it is back at or above it
    const alerted = low && !state.lowAlerted;
    state.lowAlerted = low;
    const check: BalanceCheck = { ...read, low, alerted, checkedAt: nowIso() };
    state.lastCheck = check;
    if (alerted) {
      await notifyAccountAlert({
        accountWorkflowId: workflowInfo().workflowId,
        alert: { kind: 'low-balance', provider: read.provider, threshold: read.lowBalance!, value: read.balance, raisedAt: check.checkedAt },
      });
    }
    return check;
  });

  // the daily cap: batches lease spend in chunks; an operator's new cap wakes the batches it refused
  setHandler(leaseDailySpendUpdate, (req) => grantLease((state.dailyCap ??= newDailyCap(workflowNow())), req, workflowNow()), {
    validator: (req: LeaseRequest) => {
      const problem = leaseProblem(req);
      if (problem) throw ApplicationFailure.nonRetryable(`lease refused: ${problem}`, 'InvalidLease');
    },
  });
  setHandler(
    setDailyCapUpdate,
    async ({ capMicros, by }: SetDailyCapRequest): Promise<DailyCapView> => {
      const cap = (state.dailyCap ??= newDailyCap(workflowNow()));
      const from = cap.capMicros;
      const waiters = setCap(cap, capMicros, workflowNow());
      log.info('daily cap set', { from: from ?? null, to: capMicros, by: by ?? 'unknown', waking: waiters.length });
      // a batch that has ended is not there to tell: nothing to do
      await Promise.all(waiters.map((id) => getExternalWorkflowHandle(id).signal(batchDailyCapSignal).catch(() => undefined)));
      return capView(cap);
    },
    {
      validator: (req: SetDailyCapRequest) => {
        if (!req || typeof req.capMicros !== 'number' || !Number.isSafeInteger(req.capMicros) || req.capMicros < 0) {
          throw ApplicationFailure.nonRetryable('capMicros must be a whole number of micro-USD, not negative', 'InvalidDailyCap');
        }
      },
    },
  );
  setHandler(dailyCapQuery, () => (state.dailyCap ? capView(state.dailyCap) : null));

  await condition(() => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > ACCOUNT_MAX_HISTORY_EVENTS);
  await condition(allHandlersFinished);
  await continueAsNew<typeof captchaAccountWorkflow>({ state });
}

function capView(cap: DailyCapState): DailyCapView {
  rollOver(cap, workflowNow());
  return {
    day: cap.day,
    ...(cap.capMicros !== undefined && { capMicros: cap.capMicros }),
    leasedMicros: cap.leasedMicros,
    ...(cap.reachedAt && { reachedAt: cap.reachedAt }),
    resetsAt: nextUtcMidnight(workflowNow()),
  };
}

function leaseProblem(req: LeaseRequest): string | undefined {
  const micros = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!req || typeof req !== 'object') return 'expected a lease request';
  if (typeof req.requestId !== 'string' || req.requestId.length === 0 || req.requestId.length > 300) return 'requestId must be a string of 1 to 300 characters';
  if (typeof req.holder !== 'string' || req.holder.length === 0 || req.holder.length > 300) return 'holder must be a workflow id';
  if (!micros(req.micros) || !micros(req.capMicros)) return 'micros and capMicros must be whole numbers of micro-USD, not negative';
  return undefined;
}

/** Reads every configured provider's balance; one alert per provider per crossing. */
async function checkEveryProvider(state: AccountState, acts: Pick<Activities, 'accountBalances' | 'notifyAccountAlert'>): Promise<BalanceCheck> {
  const { providers: reads, lowBalance } = await acts.accountBalances();
  // the state before providers were checked one by one knew one provider: the first
  const before = (state.lowAlertedBy ??= reads[0] ? { [reads[0].provider]: state.lowAlerted } : {});
  const providers = judgeBalances(reads, lowBalance, before);
  const first = providers.find((p) => p.balance !== undefined)!;
  state.lowAlerted = before[first.provider] ?? false;
  const checkedAt = nowIso();
  const check: BalanceCheck = {
    provider: first.provider,
    balance: first.balance!,
    ...(first.threads && { threads: first.threads }),
    ...(lowBalance !== undefined && { lowBalance }),
    low: providers.some((p) => p.low),
    alerted: providers.some((p) => p.alerted),
    checkedAt,
    providers,
  };
  state.lastCheck = check;
  for (const p of providers) {
    if (!p.alerted) continue;
    await acts.notifyAccountAlert({
      accountWorkflowId: workflowInfo().workflowId,
      alert: { kind: 'low-balance', provider: p.provider, threshold: lowBalance!, value: p.balance!, raisedAt: checkedAt },
    });
  }
  return check;
}

function count(state: AccountState, f: TokenFeedback): void {
  const id = `${f.provider}/${f.providerTaskId}`.slice(0, FIELD_MAX * 2);
  if (state.recent.includes(id)) return;
  state.recent.push(id);
  if (state.recent.length > RECENT_MAX) state.recent.splice(0, state.recent.length - RECENT_MAX);
  const provider = f.provider.slice(0, FIELD_MAX);
  const type = f.captchaType.slice(0, FIELD_MAX);
  let key = [provider, type, f.sitekey.slice(0, FIELD_MAX)].join('\t');
  if (!state.counts[key] && Object.keys(state.counts).length >= ACCOUNT_FEEDBACK_ROWS_MAX) {
    state.otherSitekeys++;
    key = [provider, type, '(other)'].join('\t');
  }
  const row = (state.counts[key] ??= { good: 0, bad: 0 });
  row[f.verdict === 'good' ? 'good' : 'bad']++;
}

function feedbackStats(state: AccountState, top = 10): FeedbackStats {
  const limit = Math.max(0, Math.min(1_000, Math.floor(Number(top) || 0)));
  const total = { good: 0, bad: 0 };
  const byProvider: Record<string, { good: number; bad: number }> = {};
  const byType: Record<string, { good: number; bad: number }> = {};
  const rows: { provider: string; captchaType: string; sitekey: string; good: number; bad: number }[] = [];
  for (const [key, c] of Object.entries(state.counts)) {
    const [provider = '', captchaType = '', sitekey = ''] = key.split('\t');
    for (const bucket of [total, (byProvider[provider] ??= { good: 0, bad: 0 }), (byType[captchaType] ??= { good: 0, bad: 0 })]) {
      bucket.good += c.good;
      bucket.bad += c.bad;
    }
    rows.push({ provider, captchaType, sitekey, ...c });
  }
  rows.sort((a, b) => b.good + b.bad - (a.good + a.bad) || a.sitekey.localeCompare(b.sitekey));
  const rate = (c: { good: number; bad: number }): FeedbackCounts => ({ ...c, acceptance: c.good + c.bad ? c.good / (c.good + c.bad) : null });
  const rated = (r: Record<string, { good: number; bad: number }>) => Object.fromEntries(Object.entries(r).map(([k, c]) => [k, rate(c)]));
  return {
    total: rate(total),
    byProvider: rated(byProvider),
    byType: rated(byType),
    bySitekey: rows.slice(0, limit).map((r) => ({ ...r, ...rate(r) })),
    otherSitekeys: state.otherSitekeys,
    since: state.since,
  };
}

function seconds(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}
