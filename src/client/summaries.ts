// How a batch reads in the Temporal Web UI: its one-line summary and its details table.
import { basename } from 'node:path';
import { formatUsd } from '../domain/prices';
import { CAPTCHA_TYPE_LABELS, type CaptchaTask } from '../domain/types';
import type { BatchInput } from '../../workflows/messages';

/** "120 reCAPTCHA v2 tasks for example.com" */
export function batchSummaryLine(tasks: readonly CaptchaTask[]): string {
  const types = [...new Set(tasks.map((t) => t.type))];
  const hosts = [...new Set(tasks.map((t) => (t.pageUrl ? new URL(t.pageUrl).host : undefined)).filter(Boolean))];
  const what = types.length === 1 ? `${CAPTCHA_TYPE_LABELS[types[0]!]} ` : '';
  const where = hosts.length === 1 ? ` for ${hosts[0]}` : hosts.length > 1 ? ` for ${hosts.length} sites` : '';
  return `${tasks.length} ${what}tasks${where}`;
}

/** What the Web UI shows under "details": where the tasks come from and how the batch runs. */
export function batchDetails(input: BatchInput): string {
  const from = input.source.kind === 'file' ? `file \`${basename(input.source.path)}\` (${input.source.format}, sha256 ${input.source.sha256.slice(0, 12)}…)` : 'inline';
  return [
    // a list, not a table: the Web UI renders Markdown tables without cell padding
    `- batch: ${input.batchId}`,
    `- tasks: ${from}`,
    `- concurrency: ${input.concurrency}`,
    ...(input.budgetMicros !== undefined ? [`- budget: ${formatUsd(input.budgetMicros)}`] : []),
    `- dead letters: \`${input.dlqWorkflowId}\``,
    '',
    `Progress: \`temporal workflow query --workflow-id ${input.batchId} --type progress\``,
  ].join('\n');
}
