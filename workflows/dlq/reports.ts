// What a failure report may put into the DLQ: a dead-letter report from a solve workflow, or the failure a retry child
// sends back. Lenient about details, strict about identity; texts cut and scrubbed of secrets. Pure.
import { ATTEMPT_HISTORY_LIMIT, knownClass, type AttemptRecord, type CaptchaTask, type DeadLetterReport } from '../../src/domain/types';
import { isObject, oversized, quote } from './input';
import { MESSAGE_LIMIT, REPORT_CHARS_MAX } from './limits';

/** Secrets that might hide in a provider message (the provider client redacts the key already: belt and braces). */
const SECRET_PATTERNS: [RegExp, string][] = [
  [/\b(key|apikey|api_key|clientKey|client_key)(["']?\s*[:=]\s*["']?)[^"'&\s,}]+/gi, '$1$2[REDACTED]'],
];

/** A provider message with secrets masked, cut to `limit` characters. */
export function scrubReportText(text: string, limit = MESSAGE_LIMIT): string {
  let out = text;
  for (const [re, by] of SECRET_PATTERNS) out = out.replace(re, by);
  return out.length > limit ? `${out.slice(0, limit - 1)}…` : out;
}

/** A count: a positive finite number, floored; anything else is 0. */
export function nonNegative(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

function isoOr(v: unknown, fallback: string): string {
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : fallback;
}

/** The last ATTEMPT_HISTORY_LIMIT attempts of a reported history, each rebuilt field by field. */
export function sanitizeHistory(raw: unknown, now: string): AttemptRecord[] {
  if (!Array.isArray(raw)) return [];
  return raw
    .filter(isObject)
    .slice(-ATTEMPT_HISTORY_LIMIT)
    .map((h) => ({
      round: nonNegative(h.round),
      ...(typeof h.providerTaskId === 'string' && { providerTaskId: h.providerTaskId.slice(0, 100) }),
      ...(typeof h.provider === 'string' && { provider: h.provider.slice(0, 64) }),
      failureClass: knownClass(h.failureClass),
      code: typeof h.code === 'string' ? h.code.slice(0, 200) : 'UNKNOWN',
      message: scrubReportText(typeof h.message === 'string' ? h.message : '', 200),
      at: isoOr(h.at, now),
    }));
}

/** Validates a report; lenient about details (nothing is dropped for a missing count), strict about identity. */
export function checkReport(raw: unknown, now: string, bounded: boolean): { ok: true; report: DeadLetterReport } | { ok: false; error: string } {
  if (!isObject(raw)) return { ok: false, error: 'a report is a JSON object' };
  if (bounded) {
    const tooBig = oversized(`the report of ${quote(raw.entryId)}`, raw, REPORT_CHARS_MAX);
    if (tooBig) return { ok: false, error: tooBig };
  }
  const text = (v: unknown, max: number): string | undefined => (typeof v === 'string' && v ? (bounded ? v.slice(0, max) : v) : undefined);
  const { entryId, task } = raw;
  if (typeof entryId !== 'string' || entryId.length === 0 || entryId.length > 1_000 || entryId === '__proto__') {
    return { ok: false, error: 'entryId must be a non-empty string (the solve workflow id)' };
  }
  if (!isObject(task) || typeof task.type !== 'string') return { ok: false, error: `task of ${entryId} must be a captcha task object` };
  const taskKey = text(raw.taskKey, 1_000) ?? text(task.key, 1_000) ?? entryId;
  const batchId = text(raw.batchId, 1_000);
  const providerTaskIds = Array.isArray(raw.providerTaskIds) ? raw.providerTaskIds.filter((x): x is string => typeof x === 'string') : [];
  return {
    ok: true,
    report: {
      entryId,
      task: JSON.parse(JSON.stringify(task)) as CaptchaTask,
      taskKey,
      ...(batchId !== undefined && { batchId }),
      provider: text(raw.provider, 100) ?? 'unknown',
      failureClass: knownClass(raw.failureClass),
      code: typeof raw.code === 'string' && raw.code ? raw.code.slice(0, 200) : 'UNKNOWN',
      message: scrubReportText(typeof raw.message === 'string' ? raw.message : ''),
      attempts: nonNegative(raw.attempts),
      paidSubmits: nonNegative(raw.paidSubmits),
      ...(raw.spentMicros !== undefined && { spentMicros: nonNegative(raw.spentMicros) }),
      providerTaskIds: bounded ? providerTaskIds.slice(-ATTEMPT_HISTORY_LIMIT * 5).map((x) => x.slice(0, 100)) : providerTaskIds,
      history: sanitizeHistory(raw.history, now),
      failedAt: isoOr(raw.failedAt, now),
    },
  };
}
