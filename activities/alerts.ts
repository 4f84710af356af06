// DLQ alerts leave the workflow here: a structured log line, and a POST to ALERT_WEBHOOK_URL when one is configured.
// The URL stays in the worker (a Slack-style webhook URL is a secret): it is never a workflow argument.
import { ApplicationFailure, log } from '@temporalio/activity';
import { request } from 'undici';
import type { AccountAlert, DlqAlert } from '../workflows/messages';

export interface AlertInput {
  dlqWorkflowId: string;
  shard: number;
  alert: DlqAlert;
}

export function createAlertActivities({ webhookUrl, timeoutMs = 10_000 }: { webhookUrl?: string; timeoutMs?: number }) {
  const post = async (body: string): Promise<void> => {
    if (!webhookUrl) return;
    const res = await request(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await res.body.dump();
    if (res.statusCode >= 500) throw ApplicationFailure.retryable(`alert webhook answered HTTP ${res.statusCode}`, 'AlertWebhookError');
    if (res.statusCode >= 400) throw ApplicationFailure.nonRetryable(`alert webhook refused the alert: HTTP ${res.statusCode}`, 'AlertWebhookError');
  };
  return {
    /** Retried by its policy on a 5xx or a network error; a 4xx means the receiver refuses it: no retry. */
    async notifyDlqAlert({ dlqWorkflowId, shard, alert }: AlertInput): Promise<void> {
      log.warn('DLQ alert', { dlqWorkflowId, shard, ...alert });
      await post(JSON.stringify({ source: 'captcha-dlq', dlqWorkflowId, shard, ...alert }));
    },

    /** The account's alerts (low balance), by the same path as the DLQ's. */
    async notifyAccountAlert({ accountWorkflowId, alert }: { accountWorkflowId: string; alert: AccountAlert }): Promise<void> {
      log.warn('account alert', { accountWorkflowId, ...alert });
      await post(JSON.stringify({ source: 'captcha-dlq', accountWorkflowId, ...alert }));
    },
  };
}

export type AlertActivities = ReturnType<typeof createAlertActivities>;
