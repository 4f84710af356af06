// Operator requests: validated by hand (no zod in workflow code) and normalized, or rejected in one sentence that names
// what is wrong. Orders and list requests carry the filter at the top level. Pure: the handlers turn a rejection into
// an `InvalidDlqRequest` failure (./errors) or a log line.
import { DLQ_FILTER_FIELDS, type DlqFilter, type DlqForwardedOrder, type DlqOperationResult } from '../messages';
import { DLQ_ENTRY_STATUSES, type DlqEntryStatus } from '../../src/domain/names';
import { CAPTCHA_TYPES, FAILURE_CLASSES, type CaptchaType, type FailureClass } from '../../src/domain/types';
import { clip, isObject, ISO_TIME, oversized, quote, type Parsed } from './input';
import { FILTER_VALUES_BOUNDED, FILTER_VALUES_MAX, LIST_DEFAULT, LIST_MAX, REQUEST_CHARS_MAX, TEXT_LIMIT } from './limits';
import { dlqShardWorkflowId } from '../../src/domain/dlq-routing';

export type Operation = DlqOperationResult['operation'];

/** An order after validation: the filter, normalized. */
export interface Order {
  filter: DlqFilter;
  all: boolean;
  reason: string;
  by: string;
  requestId?: string;
  dryRun: boolean;
  /** retry orders: the provider route of the retries */
  route?: string[];
  /** retry only: micro-USD per submit by type, and the most the order may cost */
  prices?: Partial<Record<CaptchaType, number>>;
  budgetMicros?: number;
  /** retry what fits the budget instead of refusing the order (messages.ts DlqRetryRequest) */
  fitBudget?: boolean;
}

export interface ListRequest {
  filter: DlqFilter;
  limit: number;
  /** `shard` is undefined for a bare seq: this workflow's own */
  cursor?: { shard?: number; seq: number; text: string };
}

export interface ResetShardRequest {
  workflowId: string;
  shard: number;
  reason: string;
  by: string;
}

const ORDER_FIELDS: readonly string[] = [...DLQ_FILTER_FIELDS, 'all', 'reason', 'by', 'requestId', 'dryRun', 'route', 'prices', 'budgetMicros', 'fitBudget'];
/** providers a retry order's route may name */
const ROUTE_MAX = 8;
const LIST_FIELDS: readonly string[] = [...DLQ_FILTER_FIELDS, 'cursor', 'limit'];
const HINTS: Record<string, string> = {
  codes: 'errorCodes',
  code: 'errorCodes',
  errorCode: 'errorCodes',
  errors: 'errorCodes',
  status: 'statuses',
  class: 'classes',
  failureClass: 'classes',
  failureClasses: 'classes',
  sitekey: 'sitekeys',
  batchId: 'batchIds',
  batch: 'batchIds',
  id: 'ids',
  entryIds: 'ids',
  from: 'since',
  to: 'until',
  dryrun: 'dryRun',
  dry_run: 'dryRun',
  request_id: 'requestId',
};

function unknownFields(obj: Record<string, unknown>, allowed: readonly string[], problems: string[]): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    if (key === 'filter') problems.push('"filter": put the filter fields at the top level, e.g. {"errorCodes":["ERROR_CAPTCHA_UNSOLVABLE"]}');
    else problems.push(`unknown field ${quote(key)}${Object.hasOwn(HINTS, key) ? ` (did you mean "${HINTS[key]}"?)` : ''}`);
  }
}

function parseFilter(obj: Record<string, unknown>, problems: string[], valuesMax = FILTER_VALUES_MAX): DlqFilter {
  const filter: DlqFilter = {};
  const list = (name: (typeof DLQ_FILTER_FIELDS)[number], allowedValues?: readonly string[]): string[] | undefined => {
    const v = obj[name];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      problems.push(`${name} must be an array of strings, e.g. ["${allowedValues?.[0] ?? 'value'}"]${typeof v === 'string' ? ` (got the string "${v.slice(0, 50)}")` : ''}`);
      return undefined;
    }
    if (v.length === 0) {
      problems.push(`${name} must not be empty (leave it out to not filter on it)`);
      return undefined;
    }
    if (v.length > valuesMax) {
      problems.push(`${name} has ${v.length} values; at most ${valuesMax}`);
      return undefined;
    }
    const bad = v.find((x) => typeof x !== 'string' || x.length === 0 || x.length > 1_000);
    if (bad !== undefined) {
      problems.push(`${name} must hold non-empty strings (got ${JSON.stringify(bad)?.slice(0, 50)})`);
      return undefined;
    }
    if (allowedValues) {
      const unknown = (v as string[]).filter((x) => !allowedValues.includes(x));
      if (unknown.length > 0) {
        problems.push(`${name}: ${unknown.slice(0, 3).map(quote).join(', ')}${unknown.length > 3 ? ` and ${unknown.length - 3} more` : ''} is not one of ${allowedValues.join(', ')}`);
        return undefined;
      }
    }
    return [...new Set(v as string[])];
  };
  const time = (name: 'since' | 'until'): string | undefined => {
    const v = obj[name];
    if (v === undefined) return undefined;
    const ms = typeof v === 'string' && ISO_TIME.test(v) ? Date.parse(v) : NaN;
    if (!Number.isFinite(ms)) {
      problems.push(`${name} must be an ISO time with a zone, e.g. "2024-06-01T12:00:00Z" (got ${JSON.stringify(v)?.slice(0, 50)})`);
      return undefined;
    }
    return new Date(ms).toISOString();
  };
  const ids = list('ids');
  const errorCodes = list('errorCodes');
  const classes = list('classes', FAILURE_CLASSES);
  const sitekeys = list('sitekeys');
  const batchIds = list('batchIds');
  const statuses = list('statuses', DLQ_ENTRY_STATUSES);
  const since = time('since');
  const until = time('until');
  if (ids) filter.ids = ids;
  if (errorCodes) filter.errorCodes = errorCodes;
  if (classes) filter.classes = classes as FailureClass[];
  if (sitekeys) filter.sitekeys = sitekeys;
  if (batchIds) filter.batchIds = batchIds;
  if (statuses) filter.statuses = statuses as DlqEntryStatus[];
  if (since) filter.since = since;
  if (until) filter.until = until;
  if (since && until && since >= until) problems.push(`since (${since}) must be before until (${until})`);
  return filter;
}

function optionalText(obj: Record<string, unknown>, name: string, problems: string[]): string | undefined {
  const v = obj[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim().length === 0 || v.length > TEXT_LIMIT) {
    problems.push(`${name} must be a non-empty string of at most ${TEXT_LIMIT} characters`);
    return undefined;
  }
  return v.trim();
}

function optionalBool(obj: Record<string, unknown>, name: string, problems: string[]): boolean | undefined {
  const v = obj[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') {
    problems.push(`${name} must be true or false (got ${JSON.stringify(v)?.slice(0, 50)})`);
    return undefined;
  }
  return v;
}

/** A retry order's `prices` (micro-USD per submit by type) and `budgetMicros`; other orders carry neither. */
function parseOrderMoney(operation: Operation, raw: Record<string, unknown>, problems: string[]): Pick<Order, 'prices' | 'budgetMicros' | 'fitBudget'> {
  const { prices, budgetMicros, fitBudget } = raw;
  if (prices === undefined && budgetMicros === undefined && fitBudget === undefined) return {};
  if (operation !== 'retry') {
    problems.push(`only a retry order has a cost: a ${operation} order takes no prices, budgetMicros or fitBudget`);
    return {};
  }
  const micros = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const out: Pick<Order, 'prices' | 'budgetMicros' | 'fitBudget'> = {};
  if (fitBudget !== undefined) {
    if (typeof fitBudget !== 'boolean') problems.push(`fitBudget must be true or false (got ${JSON.stringify(fitBudget)?.slice(0, 50)})`);
    else if (fitBudget && budgetMicros === undefined) problems.push('fitBudget needs budgetMicros: the budget to fit the retries in');
    else if (fitBudget) out.fitBudget = true;
  }
  if (budgetMicros !== undefined) {
    if (micros(budgetMicros)) out.budgetMicros = budgetMicros;
    else problems.push(`budgetMicros must be a whole number of micro-USD, not negative (got ${JSON.stringify(budgetMicros)?.slice(0, 50)})`);
    if (prices === undefined) problems.push('budgetMicros needs prices (micro-USD per submit by captcha type) to estimate the cost');
  }
  if (prices !== undefined) {
    if (!isObject(prices)) {
      problems.push('prices must be an object of micro-USD per submit by captcha type, e.g. {"recaptcha-v2":2990}');
    } else {
      const p: Partial<Record<CaptchaType, number>> = {};
      for (const [type, v] of Object.entries(prices)) {
        if (!(CAPTCHA_TYPES as readonly string[]).includes(type)) problems.push(`prices: unknown captcha type ${quote(type)}`);
        else if (!micros(v) || v > 1_000_000_000) problems.push(`prices.${type} must be a whole number of micro-USD from 0 to 1e9`);
        else p[type as CaptchaType] = v;
      }
      out.prices = p;
    }
  }
  return out;
}

/** Validates and normalizes an operator order. */
export function parseOrder(operation: Operation, raw: unknown, bounded = true): Parsed<{ order: Order }> {
  const example = operation === 'retry' ? '{"errorCodes":["ERROR_CAPTCHA_UNSOLVABLE"]}' : '{"errorCodes":["ERROR_PAGEURL"],"reason":"bad page URLs"}';
  if (!isObject(raw)) return { ok: false, error: `invalid ${operation} order: expected a JSON object such as ${example} (got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw})` };
  const tooBig = bounded ? oversized(`the ${operation} order`, raw, REQUEST_CHARS_MAX) : undefined;
  if (tooBig) return { ok: false, error: `invalid ${operation} order: ${tooBig}` };
  const problems: string[] = [];
  unknownFields(raw, ORDER_FIELDS, problems);
  const filter = parseFilter(raw, problems, bounded ? FILTER_VALUES_BOUNDED : FILTER_VALUES_MAX);
  const all = optionalBool(raw, 'all', problems);
  const dryRun = optionalBool(raw, 'dryRun', problems);
  const reason = optionalText(raw, 'reason', problems);
  const by = optionalText(raw, 'by', problems);
  const requestId = optionalText(raw, 'requestId', problems);
  let route: string[] | undefined;
  if (raw.route !== undefined) {
    const v = raw.route;
    if (operation !== 'retry') problems.push('route applies to retry orders only');
    else if (!Array.isArray(v) || v.length === 0 || v.length > ROUTE_MAX || v.some((x) => typeof x !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(x))) {
      problems.push(`route must be a list of 1 to ${ROUTE_MAX} provider names, e.g. ["capsolver"]`);
    } else if (new Set(v).size !== v.length) problems.push('route names a provider twice');
    else route = v as string[];
  }
  const money = parseOrderMoney(operation, raw, problems);
  if (operation !== 'retry' && reason === undefined && raw.reason === undefined) problems.push(`reason is required: say why these entries are ${operation === 'purge' ? 'purged' : 'discarded'}`);
  const empty = Object.keys(filter).length === 0;
  if (empty && all !== true && problems.length === 0) {
    problems.push(`empty filter: name the entries (${DLQ_FILTER_FIELDS.join(', ')}) or pass "all": true to act on all of them`);
  }
  if (problems.length > 0) return { ok: false, error: clip(`invalid ${operation} order: ${problems.join('; ')}`) };
  return {
    ok: true,
    order: { filter, all: all === true, reason: reason ?? '', by: by ?? 'unknown', ...(requestId !== undefined && { requestId }), dryRun: dryRun === true, ...(route && { route }), ...money },
  };
}

/** Validates a list request: filter fields, `cursor` ("<shard>:<seq>" or "<seq>"), `limit` ≤ 500. */
export function parseList(raw: unknown): Parsed<ListRequest> {
  if (raw === undefined || raw === null) return { ok: true, filter: {}, limit: LIST_DEFAULT };
  if (!isObject(raw)) return { ok: false, error: 'invalid list request: expected a JSON object such as {"errorCodes":["ERROR_CAPTCHA_UNSOLVABLE"],"limit":50}' };
  const tooBig = oversized('the list request', raw, REQUEST_CHARS_MAX);
  if (tooBig) return { ok: false, error: `invalid list request: ${tooBig}` };
  const problems: string[] = [];
  unknownFields(raw, LIST_FIELDS, problems);
  const filter = parseFilter(raw, problems, FILTER_VALUES_BOUNDED);
  let limit = LIST_DEFAULT;
  if (raw.limit !== undefined) {
    if (typeof raw.limit !== 'number' || !Number.isInteger(raw.limit) || raw.limit < 1 || raw.limit > LIST_MAX) {
      problems.push(`limit must be an integer from 1 to ${LIST_MAX} (got ${JSON.stringify(raw.limit)?.slice(0, 50)})`);
    } else {
      limit = raw.limit;
    }
  }
  let cursor: ListRequest['cursor'];
  if (raw.cursor !== undefined && raw.cursor !== null && raw.cursor !== '') {
    const text = String(raw.cursor);
    const m = /^(?:(\d+):)?(\d+)$/.exec(text);
    if ((typeof raw.cursor !== 'string' && typeof raw.cursor !== 'number') || !m) problems.push(`cursor must be the nextCursor of a previous page (got ${JSON.stringify(raw.cursor)?.slice(0, 50)})`);
    else cursor = { ...(m[1] !== undefined && { shard: Number(m[1]) }), seq: Number(m[2]), text };
  }
  if (problems.length > 0) return { ok: false, error: clip(`invalid list request: ${problems.join('; ')}`) };
  return { ok: true, filter, limit, ...(cursor && { cursor }) };
}

/** A request of one optional integer field (`stats` top, `audit` limit): the value, or `dflt` when absent. */
export function parseIntRequest(raw: unknown, name: string, min: number, max: number, dflt: number, what: string): Parsed<{ value: number }> {
  if (raw === undefined || raw === null) return { ok: true, value: dflt };
  if (!isObject(raw)) return { ok: false, error: `invalid ${what} request: expected a JSON object such as {"${name}":${dflt}}` };
  const problems: string[] = [];
  unknownFields(raw, [name], problems);
  const v = raw[name];
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) {
    problems.push(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(v)?.slice(0, 50)})`);
  }
  if (problems.length > 0) return { ok: false, error: clip(`invalid ${what} request: ${problems.join('; ')}`) };
  return { ok: true, value: typeof v === 'number' ? v : dflt };
}

/** Undefined when a shard may apply an order forwarded by its front; else what is wrong with it. */
export function checkForwarded(o: DlqForwardedOrder, bounded: boolean): string | undefined {
  if (!isObject(o)) return 'a forwarded order is a JSON object';
  if (!['retry', 'discard', 'purge'].includes(o.operation)) return `unknown operation ${quote(o.operation)}`;
  if (typeof o.watermarkAt !== 'string' || !Number.isFinite(Date.parse(o.watermarkAt))) return 'watermarkAt must be an ISO time';
  if (!isObject(o.request) || typeof o.request.requestId !== 'string') return 'request.requestId is required';
  if (!isObject(o.settings)) return 'settings must be an object';
  if (bounded && JSON.stringify(o.settings).length > REQUEST_CHARS_MAX) return `settings are over ${REQUEST_CHARS_MAX} characters of JSON`;
  const parsed = parseOrder(o.operation, o.request, bounded);
  return parsed.ok ? undefined : parsed.error;
}

/**
 * Validates a `resetShard` request to the front `frontId`: a shard index it has (by shardCount, or one that sent a
 * snapshot: `hasSnapshot`), and a reason.
 */
export function parseResetShard(raw: unknown, frontId: string, shardCount: number, hasSnapshot: (workflowId: string) => boolean): Parsed<{ request: ResetShardRequest }> {
  const example = '{"shard":1,"reason":"forged snapshot"}';
  if (!isObject(raw)) return { ok: false, error: `invalid resetShard request: expected a JSON object such as ${example}` };
  const problems: string[] = [];
  unknownFields(raw, ['shard', 'reason', 'by'], problems);
  const reason = optionalText(raw, 'reason', problems);
  const by = optionalText(raw, 'by', problems);
  if (raw.reason === undefined) problems.push('reason is required: say why the shard is reset');
  const { shard } = raw;
  const workflowId = typeof shard === 'number' && Number.isSafeInteger(shard) ? dlqShardWorkflowId(frontId, shard) : '';
  if (!workflowId || (shard as number) < 1 || ((shard as number) >= shardCount && !hasSnapshot(workflowId))) {
    problems.push(`shard ${quote(shard)} is not a shard of ${frontId}: give an index from 1 to ${shardCount - 1}${shardCount > 1 ? '' : ' (it has no shards)'}`);
  }
  if (problems.length > 0) return { ok: false, error: clip(`invalid resetShard request: ${problems.join('; ')}`) };
  return { ok: true, request: { workflowId, shard: shard as number, reason: reason!, by: by ?? 'unknown' } };
}
