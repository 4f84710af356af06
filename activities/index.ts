// The activities, one file per group, each built from its own dependencies: solve (the provider client), reports,
// drain and DLQ (a Temporal client), batch (the task files), alerts (the webhook URL). The worker (src/worker.ts)
// builds them here; the API key stays inside `provider` and is never an activity argument.
import type { Client } from '@temporalio/client';
import type { CaptchaProvider } from '../src/providers/types';
import type { ProviderRouter } from '../src/providers/routes';
import type { DlqSettings } from '../workflows/messages';
import { createAccountActivities } from './account';
import type { CallbackInbox } from '../src/callbacks/inbox';
import { createAlertActivities } from './alerts';
import { createBatchActivities } from './batch';
import { createDlqActivities } from './dlq';
import { createDrainActivities } from './drain';
import type { ActivityEvents } from './events';
import { createReportActivities } from './report';
import { createSolveActivities } from './solve';
import type { PriceTable } from '../src/domain/prices';

export type { ActivityEvents } from './events';
export * from './solve';
export * from './report';
export * from './batch';
export * from './drain';
export * from './alerts';
export * from './account';

export interface ActivityDeps {
  provider: CaptchaProvider;
  /** several providers with their health (CAPTCHA_PROVIDERS); default: `provider` alone */
  router?: ProviderRouter;
  /** for the activities that message other workflows (DLQ reports, drain, the DLQ's own) */
  client: Client;
  /** metrics hooks (src/metrics.ts) */
  events?: ActivityEvents;
  /** how a DLQ started by a report is configured, and how many shards the entries are spread over */
  dlqSettings?: DlqSettings;
  /** where DLQ alerts are POSTed (ALERT_WEBHOOK_URL); they are logged either way */
  alertWebhookUrl?: string;
  /** CAPTCHA_LOW_BALANCE: the balance below which the account raises an alert */
  lowBalance?: number;
  /** callback mode: the signed per-task URL a provider pushes to (src/callbacks/tokens.ts) */
  callbackUrlFor?: (workflowId: string) => string | undefined;
  /** callback mode: pushes received by this worker, for the polls running here */
  inbox?: CallbackInbox;
  /** what a paid submit costs (config.prices); default the public price lists */
  prices?: PriceTable;
}

export function createActivities({ provider, router, client, dlqSettings = {}, alertWebhookUrl, lowBalance, events, callbackUrlFor, inbox, prices }: ActivityDeps) {
  return {
    ...createSolveActivities({
      provider,
      ...(router && { router }),
      ...(events && { events }),
      ...(callbackUrlFor && { callbackUrlFor }),
      ...(inbox && { inbox }),
      ...(prices && { prices }),
    }),
    ...createReportActivities({ client, providerName: provider.name, dlqSettings, ...(events && { events }) }),
    ...createBatchActivities(),
    ...createDlqActivities({ client, settings: dlqSettings }),
    ...createAlertActivities(alertWebhookUrl ? { webhookUrl: alertWebhookUrl } : {}),
    ...createDrainActivities({ client }),
    ...createAccountActivities({ provider, ...(router && { router }), client, ...(lowBalance !== undefined && { lowBalance }) }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
