// What the console accepts from a browser: every field bounded and validated by zod, every refusal one sentence that
// names the field. Filters have the shape of the DLQ's own (`DlqFilter`), which validates them again.
import { z } from 'zod';
import { DLQ_ENTRY_STATUSES } from '../domain/names';
import { FAILURE_CLASSES } from '../domain/types';
import type { DlqFilter } from '../../workflows/messages';

/** Bad input: the message is one sentence for the page. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

export const LIST_LIMIT_MAX = 200;
/** ids one selection may name (a page of rows) */
export const SELECTION_MAX = LIST_LIMIT_MAX;
export const REASON_MAX = 500;

const list = <T extends z.ZodType<unknown, string>>(item: T, max: number) =>
  z
    .string()
    .max(4_000)
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(item).max(max, `at most ${max} values`));
const word = (max: number) => z.string().max(max, `at most ${max} characters`).regex(/^[\w.:@/+=-]+$/, 'letters, digits and . _ : @ / + = - only');
const time = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'a date and time such as 2026-11-30T08:00')
  .transform((s) => new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`).toISOString());

const filterShape = {
  id: list(z.string().min(1).max(300, 'at most 300 characters'), SELECTION_MAX),
  code: list(word(100), 20),
  class: list(z.enum(FAILURE_CLASSES, { message: `one of ${FAILURE_CLASSES.join(', ')}` }), FAILURE_CLASSES.length),
  status: list(z.enum(DLQ_ENTRY_STATUSES, { message: `one of ${DLQ_ENTRY_STATUSES.join(', ')}` }), DLQ_ENTRY_STATUSES.length),
  sitekey: list(word(200), 20),
  batch: list(word(200), 20),
  since: time,
  until: time,
};
const FIELD_NAMES: Record<string, string> = {
  id: 'id', code: 'error code', class: 'class', status: 'status', sitekey: 'sitekey', batch: 'batch', since: '"since" time',
  until: '"until" time', cursor: 'cursor', limit: 'page size', operation: 'operation', scope: 'scope', reason: 'reason',
  requestId: 'request id',
};

const filterSchema = z.object(Object.fromEntries(Object.entries(filterShape).map(([k, v]) => [k, v.optional()])) as { [K in keyof typeof filterShape]: z.ZodOptional<(typeof filterShape)[K]> });
type FilterFields = z.infer<typeof filterSchema>;

/** The DLQ filter a form or query string names (empty fields ignored). */
export function toDlqFilter(f: FilterFields): DlqFilter {
  const out: DlqFilter = {};
  if (f.id?.length) out.ids = f.id;
  if (f.code?.length) out.errorCodes = f.code;
  if (f.class?.length) out.classes = f.class;
  if (f.status?.length) out.statuses = f.status;
  if (f.sitekey?.length) out.sitekeys = f.sitekey;
  if (f.batch?.length) out.batchIds = f.batch;
  if (f.since) out.since = f.since;
  if (f.until) out.until = f.until;
  return out;
}

/** The form and query fields of a filter, back from a DlqFilter (links, hidden fields). */
export function filterParams(f: DlqFilter): Record<string, string> {
  const out: Record<string, string> = {};
  if (f.ids?.length) out.id = f.ids.join(',');
  if (f.errorCodes?.length) out.code = f.errorCodes.join(',');
  if (f.classes?.length) out.class = f.classes.join(',');
  if (f.statuses?.length) out.status = f.statuses.join(',');
  if (f.sitekeys?.length) out.sitekey = f.sitekeys.join(',');
  if (f.batchIds?.length) out.batch = f.batchIds.join(',');
  if (f.since) out.since = f.since;
  if (f.until) out.until = f.until;
  return out;
}

const listSchema = filterSchema.extend({
  cursor: z.string().regex(/^\d{1,6}:\d{1,15}$/, 'a "next" cursor such as 0:120').optional(),
  limit: z.coerce.number().int().min(1).max(LIST_LIMIT_MAX, `at most ${LIST_LIMIT_MAX}`).optional(),
});

const orderSchema = filterSchema.extend({
  operation: z.enum(['retry', 'discard', 'purge'], { message: 'one of retry, discard, purge' }),
  /** the selection: ticked rows (ids), the filter, or every entry */
  scope: z.enum(['selected', 'filter', 'all'], { message: 'one of selected, filter, all' }),
  ids: z.array(z.string().min(1).max(300, 'at most 300 characters')).max(SELECTION_MAX, `at most ${SELECTION_MAX} entries`).optional(),
  reason: z.string().max(REASON_MAX, `at most ${REASON_MAX} characters`).optional(),
  requestId: z.string().regex(/^console-[0-9a-f-]{36}$/, 'one the console made').optional(),
});

const batchActionSchema = z.object({
  reason: z.string().max(REASON_MAX, `at most ${REASON_MAX} characters`).optional(),
});

/** URLSearchParams as an object: repeated `ids`, single everything else; empty values dropped. */
function fieldsOf(params: URLSearchParams, known: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    if (key === 'csrf') continue;
    if (!known.includes(key)) throw new InputError(`"${key.slice(0, 40)}" is not a field the console knows.`);
    if (key === 'ids') out.ids = params.getAll('ids').filter(Boolean);
    else {
      const values = params.getAll(key);
      if (values.length > 1) throw new InputError(`the ${FIELD_NAMES[key] ?? key} is given ${values.length} times; give it once.`);
      if (values[0]!.trim() !== '') out[key] = values[0]!.trim();
    }
  }
  return out;
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = String(issue.path[0] ?? '');
  throw new InputError(`the ${FIELD_NAMES[field] ?? field} is not valid: ${issue.message}.`);
}

export interface ListInput {
  filter: DlqFilter;
  cursor?: string;
  limit: number;
}

export function parseListQuery(params: URLSearchParams): ListInput {
  const o = parse(listSchema, fieldsOf(params, Object.keys(listSchema.shape)));
  return { filter: toDlqFilter(o), ...(o.cursor && { cursor: o.cursor }), limit: o.limit ?? 50 };
}

export interface OrderInput {
  operation: 'retry' | 'discard' | 'purge';
  scope: 'selected' | 'filter' | 'all';
  /** what the order names: ids for a selection, the filter otherwise */
  filter: DlqFilter;
  all: boolean;
  reason?: string;
  requestId?: string;
}

export function parseOrder(params: URLSearchParams): OrderInput {
  const o = parse(orderSchema, fieldsOf(params, Object.keys(orderSchema.shape)));
  let filter: DlqFilter;
  if (o.scope === 'selected') {
    if (!o.ids?.length) throw new InputError('tick at least one entry, or act on the filter.');
    filter = { ids: o.ids };
  } else {
    filter = o.scope === 'all' ? {} : toDlqFilter(o);
    if (o.scope === 'filter' && Object.keys(filter).length === 0) throw new InputError('the filter is empty: set one, or choose every entry.');
  }
  return {
    operation: o.operation,
    scope: o.scope,
    filter,
    all: o.scope === 'all',
    ...(o.reason !== undefined && { reason: o.reason }),
    ...(o.requestId && { requestId: o.requestId }),
  };
}

export function parseBatchAction(params: URLSearchParams): { reason?: string } {
  return parse(batchActionSchema, fieldsOf(params, ['reason']));
}

/** A workflow id in a path (batches): bounded, printable. */
export function parseWorkflowId(raw: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new InputError('the id in the address is not valid URL encoding.');
  }
  if (id.length === 0 || id.length > 300 || /[\u0000-\u001f]/.test(id)) throw new InputError('the id in the address must be 1 to 300 printable characters.');
  return id;
}
