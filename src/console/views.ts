// The pages, server-rendered: every value goes through `html` (escaped). The script (assets.ts) only refreshes numbers.
import { DLQ_ENTRY_STATUSES } from '../domain/names';
import { FAILURE_CLASSES } from '../domain/types';
import type { DlqAuditRecord, DlqEntry, DlqListPage } from '../../workflows/messages';
import type { BatchRow, OrderOutcome, Preview, StatsView } from './data';
import { NUMBER_LABELS } from './data';
import { formatUsd } from '../domain/prices';
import { html, SafeHtml } from './html';
import { OUTCOMES_NOT_TRACKED, orderProgress, type OrderProgress } from '../client/order-progress';
import { filterParams, REASON_MAX, type ListInput } from './input';

export interface ViewContext {
  csrf: string;
  /** the Temporal Web UI's base URL and namespace, for links; absent: no links */
  ui?: { url: string; namespace: string };
  canAct: boolean;
  tokenMode: boolean;
}

const csrfField = (c: ViewContext) => html`<input type="hidden" name="csrf" value="${c.csrf}">`;
const hidden = (fields: Record<string, string>) => Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);

export function uiLink(c: ViewContext, workflowId: string, label: string): SafeHtml {
  if (!c.ui) return html`<code>${workflowId}</code>`;
  const href = `${c.ui.url.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(c.ui.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return html`<a href="${href}" target="_blank" rel="noopener noreferrer">${label}</a>`;
}

export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s}s`;
  if (s < 90 * 60) return `${Math.round(s / 60)}m`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

function bars(key: string, title: string, series: [string, number][]): SafeHtml {
  const peak = Math.max(1, ...series.map(([, n]) => n));
  return html`<section class="chart"><h3>${title}</h3><ul data-chart="${key}">${series.map(
    ([label, n]) =>
      html`<li><span class="label" title="${label}">${label}</span><svg viewBox="0 0 100 8" preserveAspectRatio="none"><rect height="8" width="${((100 * n) / peak).toFixed(1)}"></rect></svg><span class="n">${n}</span></li>`,
  )}</ul>${series.length === 0 ? html`<p class="empty">none</p>` : ''}</section>`;
}

function hours(values: number[]): SafeHtml {
  const peak = Math.max(1, ...values);
  return html`<section class="chart wide"><h3>by UTC hour of the last failure</h3><svg class="hours" data-hours viewBox="0 0 240 64">${values.map((n, h) => {
    const height = (56 * n) / peak;
    return html`<rect x="${h * 10 + 1}" width="8" y="${(56 - height).toFixed(1)}" height="${height.toFixed(1)}"><title>${String(h).padStart(2, '0')}:00 · ${n}</title></rect>`;
  })}${[0, 6, 12, 18].map((h) => html`<text x="${h * 10 + 1}" y="64">${String(h).padStart(2, '0')}</text>`)}</svg></section>`;
}

export function numbersPanel(v: StatsView, keys = Object.keys(NUMBER_LABELS)): SafeHtml {
  return html`<dl class="numbers" data-live="stats">${keys.map((k) => html`<div><dt>${NUMBER_LABELS[k]}</dt><dd data-stat="${k}">${v.numbers[k] ?? 0}</dd></div>`)}</dl>`;
}

export function overviewPage(v: StatsView, dlqId: string): SafeHtml {
  return html`<h1>Dead-letter queue <code>${dlqId}</code></h1>
<p class="muted">${v.running ? html`as of <span data-asof>${v.asOf}</span> · refreshes every few seconds` : 'not running yet: no failure has been recorded'}</p>
${numbersPanel(v)}
<div class="charts">${bars('byCode', 'by error code', v.charts.byCode)}${bars('byClass', 'by failure class', v.charts.byClass)}${bars('outcomes', 'recovered / discarded / parked', v.charts.outcomes)}${bars('byBatch', 'by batch', v.charts.byBatch)}${bars('bySitekey', 'top sitekeys', v.charts.bySitekey)}${hours(v.hours)}</div>`;
}

function filterForm(input: ListInput): SafeHtml {
  const p = filterParams(input.filter);
  const text = (name: string, label: string, placeholder: string) =>
    html`<label>${label} <input name="${name}" value="${p[name] ?? ''}" placeholder="${placeholder}" maxlength="4000"></label>`;
  const select = (name: string, label: string, options: readonly string[]) =>
    html`<label>${label} <select name="${name}"><option value="">any</option>${options.map((o) => html`<option${p[name] === o ? new SafeHtml(' selected') : ''}>${o}</option>`)}</select></label>`;
  return html`<form class="filter" method="get" action="/entries">${text('code', 'code', 'ERROR_CAPTCHA_UNSOLVABLE')}${select('class', 'class', FAILURE_CLASSES)}${select('status', 'status', DLQ_ENTRY_STATUSES)}${text('batch', 'batch', 'batch id')}${text('sitekey', 'sitekey', 'sitekey')}${text('id', 'id', 'entry id')}${text('since', 'since', '2026-11-30T08:00')}${text('until', 'until', '')}
<label>per page <input name="limit" type="number" min="1" max="200" value="${input.limit}"></label><button type="submit">Filter</button> <a href="/entries">clear</a></form>`;
}

function actionButtons(c: ViewContext): SafeHtml {
  if (!c.canAct) return html`<p class="muted"><a href="/login">Sign in</a> with the console token to retry, discard or purge.</p>`;
  return html`<button name="operation" value="retry">Retry…</button> <button name="operation" value="discard">Discard…</button> <button name="operation" value="purge">Purge…</button>`;
}

export function entriesPage(c: ViewContext, input: ListInput, page: DlqListPage | undefined): SafeHtml {
  const p = filterParams(input.filter);
  const hasFilter = Object.keys(p).length > 0;
  const next = page?.nextCursor ? `/entries?${new URLSearchParams({ ...p, limit: String(input.limit), cursor: page.nextCursor })}` : undefined;
  const rows = (page?.entries ?? []).map(
    (e) => html`<tr data-entry="${e.id}"><td><input type="checkbox" name="ids" value="${e.id}" aria-label="select ${e.id}"></td>
<td><a href="/entries/${encodeURIComponent(e.id)}">${e.id}</a></td><td>${e.status}</td><td>${e.task.type}</td><td class="clip" title="${e.task.sitekey ?? ''}">${e.task.sitekey ?? '-'}</td>
<td class="clip" title="${e.task.pageUrl ?? ''}">${e.task.pageUrl ?? '-'}</td><td>${e.code}</td><td><span class="class-${e.failureClass}">${e.failureClass}</span></td><td class="clip" title="${e.message}">${e.message}</td>
<td>${e.attempts} (${e.paidSubmits} paid)</td><td title="${e.lastFailedAt}">${age(e.lastFailedAt)}</td></tr>`,
  );
  return html`<h1>Entries</h1>${filterForm(input)}
${page ? html`<p class="muted" data-total>${page.entries.length} shown · ${page.total} match in ${page.workflowId}</p>` : html`<p class="muted">the DLQ is not running yet: no entries</p>`}
<form method="post" action="/actions/preview">${csrfField(c)}${hidden(p)}
<div class="actions">${c.canAct ? html`<label><input type="radio" name="scope" value="selected" checked> ticked entries</label> <label><input type="radio" name="scope" value="${hasFilter ? 'filter' : 'all'}"> ${hasFilter ? 'every entry of this filter' : 'every entry'}</label> ` : ''}${actionButtons(c)}</div>
<table class="entries"><thead><tr><th><input type="checkbox" data-select-all aria-label="select all"></th><th>id</th><th>status</th><th>type</th><th>sitekey</th><th>page</th><th>code</th><th>class</th><th>message</th><th>attempts</th><th>age</th></tr></thead>
<tbody>${rows}</tbody></table></form>
${rows.length === 0 && page ? html`<p class="empty">no entries match</p>` : ''}${next ? html`<p><a href="${next}" rel="next">next page →</a></p>` : ''}`;
}

export function entryPage(c: ViewContext, e: DlqEntry): SafeHtml {
  const retries = Array.from({ length: e.lastGeneration ?? 0 }, (_, i) => i + 1);
  const fields: [string, string | number | SafeHtml][] = [
    ['status', e.status], ['type', e.task.type], ['sitekey', e.task.sitekey ?? '-'], ['page', e.task.pageUrl ?? '-'], ['task key', e.taskKey],
    ['batch', e.batchId ? html`<a href="/entries?batch=${encodeURIComponent(e.batchId)}">${e.batchId}</a>` : '-'], ['provider', e.provider],
    ['class', e.failureClass], ['code', e.code], ['message', e.message], ['attempts', `${e.attempts} (${e.paidSubmits} paid)`], ['DLQ retries', e.dlqRetries],
    ['first failed', e.firstFailedAt], ['last failed', `${e.lastFailedAt} (${age(e.lastFailedAt)} ago)`],
  ];
  return html`<h1>Entry <code>${e.id}</code></h1>
<dl class="fields">${fields.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
<h2>In the Temporal Web UI</h2><ul class="links"><li>the original solve: ${uiLink(c, e.id, e.id)}</li>${retries.map((g) => html`<li>retry ${g}: ${uiLink(c, `${e.id}/retry-${g}`, `${e.id}/retry-${g}`)}</li>`)}</ul>
<h2>Attempt history</h2><table><thead><tr><th>round</th><th>provider task</th><th>class</th><th>code</th><th>message</th><th>at</th></tr></thead>
<tbody>${e.history.map((a) => html`<tr><td>${a.round}</td><td>${a.providerTaskId ?? '-'}</td><td>${a.failureClass}</td><td>${a.code}</td><td>${a.message}</td><td>${a.at}</td></tr>`)}</tbody></table>
<form method="post" action="/actions/preview" class="actions">${csrfField(c)}<input type="hidden" name="scope" value="selected"><input type="hidden" name="ids" value="${e.id}">${actionButtons(c)}</form>`;
}

const VERBS = { retry: 'retry', discard: 'discard', purge: 'purge' } as const;

/** A retry's cost by class: expected (one paid submit per entry) and at worst (every resubmit paid); a budget is checked against the worst. */
function costPanel(d: Preview['dryRun']): SafeHtml | string {
  const c = d.cost;
  if (d.operation !== 'retry' || !c) return '';
  const k = c.submitsPerEntry;
  const worst = c.worstByClass ?? {};
  return html`<table class="cost" data-expected="${c.totalMicros}"${c.worstMicros !== undefined ? html` data-worst="${c.worstMicros}"` : ''}><thead><tr><th>class</th><th>expected (one submit each)</th><th>at worst${k !== undefined ? ` (${k} paid submit${k === 1 ? '' : 's'} each)` : ''}</th></tr></thead><tbody>${Object.entries(c.byClass).map(([cls, m]) => html`<tr class="class-${cls}"><td>${cls}</td><td>${formatUsd(m)}</td><td>${worst[cls] !== undefined ? formatUsd(worst[cls]) : ''}</td></tr>`)}<tr><td><strong>total</strong></td><td><strong>${formatUsd(c.totalMicros)}</strong></td><td><strong>${c.worstMicros !== undefined ? formatUsd(c.worstMicros) : ''}</strong></td></tr></tbody></table>
<p class="muted">At worst: every retried entry comes back unsolvable and pays its submit and every resubmit. A retry budget is checked against it.</p>${c.warning ? html`<p class="warn" data-money-warning>${c.warning}</p>` : ''}`;
}

function describeSelection(p: Preview): string {
  if (p.order.scope === 'selected') return `${p.order.filter.ids!.length} ticked entr${p.order.filter.ids!.length === 1 ? 'y' : 'ies'}`;
  if (p.order.all) return 'every entry';
  return Object.entries(filterParams(p.order.filter)).map(([k, v]) => `${k} = ${v}`).join(' · ');
}

export function previewPage(c: ViewContext, p: Preview): SafeHtml {
  const d = p.dryRun;
  const permanent = p.byClass.permanent ?? 0;
  const carried = p.order.scope === 'selected' ? { scope: 'selected' } : { scope: p.order.scope, ...filterParams(p.order.filter) };
  return html`<h1>${VERBS[p.order.operation]}: check before it runs</h1>
<p>Selection: <strong>${describeSelection(p)}</strong></p>
<p class="dry-run" data-matched="${d.matched}">Dry run: the DLQ would ${VERBS[p.order.operation]} <strong>${d.matched}</strong> entr${d.matched === 1 ? 'y' : 'ies'}${d.skipped ? html` (<span data-skipped>${d.skipped}</span> selected but skipped: parked, account-class or already retrying)` : ''}. Nothing has changed yet.</p>
<table class="by-class"><thead><tr><th>class</th><th>selected</th></tr></thead><tbody>${Object.entries(p.byClass).sort((a, b) => b[1] - a[1]).map(([k, n]) => html`<tr class="class-${k}"><td>${k}</td><td>${n}</td></tr>`)}</tbody></table>
${p.complete ? '' : html`<p class="muted">broken down from the first ${p.scanned} entries of the selection</p>`}
${costPanel(d)}
${permanent > 0 ? html`<p class="warn" data-permanent="${permanent}">${permanent} permanent-class entr${permanent === 1 ? 'y' : 'ies'} (${p.permanentCodes.join(', ')})${p.order.operation === 'retry' ? ': the provider refused the task itself, and a retry will fail the same way unless the task is fixed.' : '.'}</p>` : ''}
<form method="post" action="/actions/run">${csrfField(c)}<input type="hidden" name="operation" value="${p.order.operation}"><input type="hidden" name="requestId" value="${p.requestId}">${hidden(carried)}${(p.order.scope === 'selected' ? p.order.filter.ids! : []).map((id) => html`<input type="hidden" name="ids" value="${id}">`)}
<label class="reason">Reason (recorded in the audit log) <textarea name="reason" required maxlength="${REASON_MAX}" rows="2"></textarea></label>
<button type="submit" data-run>${VERBS[p.order.operation]} ${d.matched} entr${d.matched === 1 ? 'y' : 'ies'}</button> <a href="/entries">cancel</a></form>`;
}

/** A retry order's in flight / recovered / failed cells (the same reading as `dlq audit`'s). */
function progressCells(r: DlqAuditRecord): SafeHtml {
  const p = orderProgress(r);
  if (p) return html`<td data-order-field="inFlight">${p.inFlight}</td><td data-order-field="recovered">${p.recovered}</td><td data-order-field="failed">${p.failed}${p.cancelled ? ` (+${p.cancelled} cancelled)` : ''}</td>`;
  if (r.operation !== 'retry') return html`<td></td><td></td><td></td>`;
  return html`<td colspan="3" class="muted" title="${OUTCOMES_NOT_TRACKED}">not tracked</td>`;
}

export function auditTable(records: DlqAuditRecord[]): SafeHtml {
  return html`<table class="audit"><thead><tr><th>at</th><th>operation</th><th>by</th><th>reason</th><th>matched</th><th>skipped</th><th>in flight</th><th>recovered</th><th>failed</th><th>selection</th><th>request</th></tr></thead><tbody>${records.map(
    (r) => html`<tr data-request="${r.requestId}"><td>${r.at}</td><td>${r.operation}</td><td>${r.by}</td><td>${r.reason}</td><td>${r.matched}</td><td>${r.skipped ?? ''}</td>${progressCells(r)}<td>${Object.entries(filterParams(r.filter)).map(([k, v]) => `${k}=${v}`).join(' ') || (r.filter.all ? 'all' : '')}</td><td>${r.requestId}</td></tr>`,
  )}</tbody></table>${records.some((r) => r.operation === 'retry' && !orderProgress(r)) ? html`<p class="muted">${OUTCOMES_NOT_TRACKED}</p>` : ''}`;
}

/** A retry order's progress, refreshed live from /api/orders/<requestId> (like a redrive's: matched, in flight, recovered, failed). */
function orderPanel(requestId: string, p: OrderProgress): SafeHtml {
  const cell = (k: keyof OrderProgress, label: string) => html`<div><dt>${label}</dt><dd data-order-field="${k}">${p[k]}</dd></div>`;
  return html`<dl class="numbers" data-live="order" data-request-id="${requestId}">${cell('matched', 'matched')}${cell('inFlight', 'in flight')}${cell('recovered', 'recovered')}${cell('failed', 'failed again')}${cell('cancelled', 'back without a verdict')}</dl>`;
}

export function resultPage(o: OrderOutcome, v: StatsView): SafeHtml {
  const r = o.result;
  const progress = o.audit ? orderProgress(o.audit) : null;
  const n = `${r.matched} entr${r.matched === 1 ? 'y' : 'ies'}`;
  const said = r.duplicate
    ? `request ${r.requestId} was already applied: nothing done again (it matched ${n})`
    : `${{ retry: 'retrying', discard: 'discarded', purge: 'purged' }[r.operation]} ${n}${r.skipped ? ` (${r.skipped} skipped)` : ''}`;
  return html`<h1>Done: ${r.operation}</h1><p class="outcome" data-outcome="${r.operation}" data-matched="${r.matched}">${said}${r.unreached?.length ? ` · shards not reached: ${r.unreached.join(', ')}` : ''}</p>
${progress ? html`<h2>This order's progress</h2>${orderPanel(r.requestId, progress)}` : ''}<h2>Live</h2>${numbersPanel(v, ['retrying', 'retriesInFlight', 'retriesQueued', 'recovered', 'discarded', 'purged', 'total'])}
<h2>Audit record</h2>${o.audit ? auditTable([o.audit]) : html`<p class="muted">not in the audit log yet</p>`}<p><a href="/entries">back to the entries</a></p>`;
}

export function auditPage(records: DlqAuditRecord[]): SafeHtml {
  return html`<h1>Audit</h1>${records.length ? auditTable(records) : html`<p class="empty">no orders recorded yet</p>`}`;
}

export function batchesPage(c: ViewContext, rows: BatchRow[]): SafeHtml {
  return html`<h1>Batches</h1><p class="muted">the ${rows.length} most recent · running ones refresh every few seconds</p>
<table class="batches" data-live="batches"><thead><tr><th>batch</th><th>status</th><th>started</th><th>progress</th><th>solved</th><th>dead-lettered</th><th>in flight</th><th>circuit</th><th></th></tr></thead><tbody>${rows.map((b) => {
    const p = b.progress ?? b.summary;
    const done = p ? p.solved + p.deadLettered + p.cancelled : 0;
    const pct = p && p.total ? (100 * done) / p.total : 0;
    const running = b.status === 'RUNNING';
    return html`<tr data-batch="${b.batchId}"><td>${uiLink(c, b.batchId, b.batchId)} · <a href="/entries?batch=${encodeURIComponent(b.batchId)}">entries</a></td><td data-field="status">${b.progress?.status ?? b.status.toLowerCase()}</td><td>${age(b.startTime)} ago</td>
<td><svg viewBox="0 0 100 8" preserveAspectRatio="none" class="progress"><rect height="8" width="${pct.toFixed(1)}" data-field="pct"></rect></svg> <span data-field="done">${done}</span> / ${p?.total ?? '?'}</td>
<td data-field="solved">${p?.solved ?? '-'}</td><td data-field="deadLettered">${p?.deadLettered ?? '-'}</td><td data-field="inFlight">${b.progress?.inFlight ?? '-'}</td><td>${b.progress ? (b.progress.circuit.open ? `OPEN (${b.progress.circuit.code ?? 'account'})` : 'closed') : (b.note ?? '')}</td>
<td>${running && c.canAct ? html`<form method="post" action="/batches/${encodeURIComponent(b.batchId)}/cancel" data-confirm="Cancel batch ${b.batchId}? Tasks not started are not solved.">${csrfField(c)}<button>Cancel</button></form>
<form method="post" action="/batches/${encodeURIComponent(b.batchId)}/resume">${csrfField(c)}<input name="reason" placeholder="reason" maxlength="${REASON_MAX}"><button>Resume</button></form>` : ''}</td></tr>`;
  })}</tbody></table>`;
}

export function loginPage(c: ViewContext, refused?: string): SafeHtml {
  return html`<h1>Sign in</h1>${refused ? html`<p class="error" role="alert">${refused}</p>` : ''}<p>This console is bound beyond this machine: actions need its token (<code>CONSOLE_TOKEN</code>).</p>
<form method="post" action="/login">${csrfField(c)}<label>Token <input type="password" name="token" required maxlength="512" autocomplete="current-password"></label> <button>Sign in</button></form>`;
}

export function errorPage(message: string): SafeHtml {
  return html`<h1>Not done</h1><p class="error" role="alert">${message}</p><p><a href="/">overview</a></p>`;
}
