// One place that sees every provider call: a decorator that reports each call's wire endpoint, outcome and duration
// to a hook (the worker's metrics). The clients stay free of counters.
import type { CaptchaTask } from '../domain/types';
import { ProviderError } from './errors';
import { canPollMany } from './poll-coalescer';
import type { CaptchaProvider, MultiPollProvider, PollAnswer, PollWindow, SubmitOptions } from './types';

export type ProviderOperation = 'submit' | 'poll' | 'poll-many' | 'balance' | 'report';

/** `ok` (submit, poll-many, balance, report), `ready` / `not_ready` (poll), or the failure class of a ProviderError; `error` otherwise. */
export type ProviderCallOutcome = 'ok' | 'ready' | 'not_ready' | 'transient' | 'resubmit' | 'permanent' | 'account' | 'error';

export interface ProviderCall {
  provider: string;
  operation: ProviderOperation;
  /** the wire endpoint: `in.php`, `res.php`, `createTask`, `getTaskResult`, `getBalance`, `report` */
  endpoint: string;
  outcome: ProviderCallOutcome;
  /** the provider's or our transport code of a failure */
  code?: string;
  durationMs: number;
}

export type ProviderCallHook = (call: ProviderCall) => void;

const LEGACY_ENDPOINTS: Record<ProviderOperation, string> = { submit: 'in.php', poll: 'res.php', 'poll-many': 'res.php', balance: 'res.php', report: 'res.php' };
const JSON_ENDPOINTS: Record<ProviderOperation, string> = { submit: 'createTask', poll: 'getTaskResult', 'poll-many': 'getTaskResult', balance: 'getBalance', report: 'report' };

/** The wire endpoint of an operation for a provider name. */
export function wireEndpoint(provider: string, operation: ProviderOperation): string {
  return (provider === 'captchaai' || provider === '2captcha' ? LEGACY_ENDPOINTS : JSON_ENDPOINTS)[operation];
}

/**
 * Wraps `provider` so that each call is reported to `hook` once it settles. A throwing hook never fails a call. A
 * client's `pollMany` is kept, reported as one call.
 */
export function withCallObserver<P extends CaptchaProvider>(provider: P, hook: ProviderCallHook): P extends MultiPollProvider ? MultiPollProvider : CaptchaProvider;
export function withCallObserver(provider: CaptchaProvider, hook: ProviderCallHook): CaptchaProvider {
  const observe = async <T>(operation: ProviderOperation, run: () => Promise<T>, outcomeOf: (value: T) => ProviderCallOutcome): Promise<T> => {
    const started = performance.now();
    const report = (outcome: ProviderCallOutcome, code?: string): void => {
      try {
        hook({
          provider: provider.name,
          operation,
          endpoint: wireEndpoint(provider.name, operation),
          outcome,
          ...(code !== undefined && { code }),
          durationMs: performance.now() - started,
        });
      } catch {
        // metrics must never break a solve
      }
    };
    try {
      const value = await run();
      report(outcomeOf(value));
      return value;
    } catch (error) {
      if (error instanceof ProviderError) report(error.failureClass === 'not-ready' ? 'not_ready' : error.failureClass, error.code);
      else report('error');
      throw error;
    }
  };
  const observed: CaptchaProvider = {
    get name() {
      return provider.name;
    },
    submit: (task: CaptchaTask, signal?: AbortSignal, options?: SubmitOptions) => observe('submit', () => provider.submit(task, signal, options), () => 'ok'),
    poll: (id: string, signal?: AbortSignal) =>
      observe('poll', () => provider.poll(id, signal), (answer: PollAnswer) => (answer.ready ? 'ready' : 'not_ready')),
    balance: (signal?: AbortSignal) => observe('balance', () => provider.balance(signal), () => 'ok'),
    report: (id: string, verdict: 'good' | 'bad', signal?: AbortSignal) => observe('report', () => provider.report(id, verdict, signal), () => 'ok'),
    // not counted: an operator's occasional read of the plan
    ...(provider.threadsInfo && { threadsInfo: (signal?: AbortSignal) => provider.threadsInfo!(signal) }),
    close: () => provider.close(),
    ...(provider.pollScheduled && { pollScheduled: (id: string, window: PollWindow, signal?: AbortSignal) => provider.pollScheduled!(id, window, signal) }),
  };
  if (!canPollMany(provider)) return observed;
  const many: MultiPollProvider = {
    ...observed,
    get name() {
      return provider.name;
    },
    pollMany: (ids: readonly string[], signal?: AbortSignal) => observe('poll-many', () => provider.pollMany(ids, signal), () => 'ok'),
  };
  return many;
}
