// The account's activities: send a token report, count its verdict, read the balance and thread plan of every provider. Built from the
// provider client (the key stays inside it, never an argument) and a Temporal client (the feedback signal).
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import { ProviderError } from '../src/providers/errors';
import type { CaptchaProvider } from '../src/providers/types';
import type { ProviderRouter } from '../src/providers/routes';
import { WORKFLOW_TYPES } from '../src/domain/names';
import type { BalanceRead } from '../src/domain/balance';
import type { LeaseAnswer, LeaseRequest } from '../src/domain/daily-cap';
import { leaseDailySpendUpdate, tokenFeedbackSignal, type BalanceCheck, type TokenFeedback, type TokenVerdict } from '../workflows/messages';

export interface AccountActivityDeps {
  provider: CaptchaProvider;
  /** several providers (CAPTCHA_PROVIDERS): a report goes to the one that solved the token */
  router?: ProviderRouter;
  client: Client;
  /** CAPTCHA_LOW_BALANCE: a balance below it raises the alert (once per crossing) */
  lowBalance?: number;
}

export function createAccountActivities({ provider, router, client, lowBalance }: AccountActivityDeps) {
  return {
    /**
     * Sends one report to the provider that solved the token (`provider`, a route name; absent: this worker's first).
     * A duplicate report is success (the provider has it on file); a refusal is final.
     */
    async sendTokenReport({ providerTaskId, verdict, provider: name }: { providerTaskId: string; verdict: TokenVerdict; provider?: string }): Promise<{ provider: string }> {
      const solver = name ?? router?.defaultRoute[0] ?? provider.name;
      try {
        await (router ? router.client(solver) : provider).report(providerTaskId, verdict, Context.current().cancellationSignal);
      } catch (err) {
        throw asFailure(err);
      }
      log.info('token reported', { providerTaskId, verdict, provider: solver });
      return { provider: solver };
    },

    /** Counts a verdict in the account workflow, starting it if it is not running (it counts a provider task once). */
    async recordTokenFeedback({ accountWorkflowId, feedback }: { accountWorkflowId: string; feedback: TokenFeedback }): Promise<void> {
      await client.workflow.signalWithStart(WORKFLOW_TYPES.account, {
        workflowId: accountWorkflowId,
        taskQueue: Context.current().info.taskQueue,
        args: [{}],
        signal: tokenFeedbackSignal,
        signalArgs: [feedback],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        staticSummary: 'account: token feedback, balance alerts',
      });
    },

    /** The balance, the thread plan where the provider has one, and the worker's low-balance threshold. */
    async accountBalance(): Promise<Omit<BalanceCheck, 'low' | 'alerted' | 'checkedAt'>> {
      const signal = Context.current().cancellationSignal;
      try {
        // the plan is an extra: a provider that refuses it leaves the balance check standing
        const plan = provider.threadsInfo?.(signal).catch((err: unknown) => {
          log.warn('thread plan unavailable', { provider: provider.name, error: err instanceof Error ? err.message : String(err) });
          return undefined;
        });
        const [balance, threads] = await Promise.all([provider.balance(signal), plan]);
        return { provider: provider.name, balance, ...(threads && { threads }), ...(lowBalance !== undefined && { lowBalance }) };
      } catch (err) {
        throw asFailure(err);
      }
    },

    /**
     * Every configured provider's balance and thread plan (in configured order), and the low-balance threshold. A
     * provider that cannot be read says why and leaves the others standing; when none can, the first one's failure
     * is the activity's (a transient one is retried).
     */
    async accountBalances(): Promise<{ providers: BalanceRead[]; lowBalance?: number }> {
      const signal = Context.current().cancellationSignal;
      const clients = router ? router.names.map((name) => ({ name, client: router.client(name) })) : [{ name: provider.name, client: provider }];
      const settled = await Promise.allSettled(
        clients.map(async ({ name, client }): Promise<BalanceRead> => {
          const plan = client.threadsInfo?.(signal).catch((err: unknown) => {
            log.warn('thread plan unavailable', { provider: name, error: err instanceof Error ? err.message : String(err) });
            return undefined;
          });
          const [balance, threads] = await Promise.all([client.balance(signal), plan]);
          return { provider: name, balance, ...(threads && { threads }) };
        }),
      );
      if (settled.every((r) => r.status === 'rejected')) throw asFailure((settled[0] as PromiseRejectedResult).reason);
      const providers = settled.map((r, i): BalanceRead => {
        if (r.status === 'fulfilled') return r.value;
        // a provider error's message is redacted at the provider boundary; anything else is named, not quoted
        const error = r.reason instanceof ProviderError ? r.reason.message.slice(0, 300) : `balance read failed (${r.reason instanceof Error ? r.reason.name : 'unknown error'})`;
        log.warn('balance unavailable', { provider: clients[i]!.name, error });
        return { provider: clients[i]!.name, error };
      });
      return { providers, ...(lowBalance !== undefined && { lowBalance }) };
    },

    /** Leases spend under the daily cap from the account workflow (starting it if needed); idempotent by request id. */
    async leaseDailySpend({ accountWorkflowId, request }: { accountWorkflowId: string; request: LeaseRequest }): Promise<LeaseAnswer> {
      await client.workflow.start(WORKFLOW_TYPES.account, {
        workflowId: accountWorkflowId,
        taskQueue: Context.current().info.taskQueue,
        args: [{}],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        staticSummary: 'account: token feedback, balance alerts, daily cap',
      });
      return client.workflow.getHandle(accountWorkflowId).executeUpdate(leaseDailySpendUpdate, { args: [request], updateId: request.requestId });
    },
  };
}

export type AccountActivities = ReturnType<typeof createAccountActivities>;

/** A provider error as a failure typed by its class: transient ones are retried, the rest are final. */
function asFailure(err: unknown): unknown {
  if (!(err instanceof ProviderError)) return err;
  const details = [{ code: err.code, failureClass: err.failureClass }];
  // the message is already redacted at the provider boundary
  return err.failureClass === 'transient'
    ? ApplicationFailure.retryable(err.message, err.failureClass, ...details)
    : ApplicationFailure.nonRetryable(err.message, err.failureClass, ...details);
}
