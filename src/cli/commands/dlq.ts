// dlq: stats, list, retry, discard, purge, reset-shard, audit, export.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import type { CaptchaSolver } from '../../client';
import type { DlqEntry, DlqFilter, DlqOperationResult, DlqStats } from '../../../workflows/messages';
import { FAILURE_CLASSES, type FailureClass } from '../../domain/types';
import { addFilterOptions, filterOf, intArg, type FilterOptions } from '../args';
import { CliError, EXIT, isError } from '../errors';
import { INVOCATION, formatDuration, message, note, out, pct, printJson, sortedCounts, table } from '../output';
import { printFeedback } from './account';
import { sessionOf } from '../session';
import { formatUsd, parseBudgetUsd } from '../../domain/prices';
import { describeBudgetUse } from '../../domain/dlq-cost';
import { OUTCOMES_NOT_TRACKED, orderProgress } from '../../client/order-progress';

export function addDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('the dead-letter queue: stats, list, retry, discard, purge, audit, export');

  dlq
    .command('stats')
    .description('what failed and why: counts by status, error code, class, sitekey, UTC hour and batch; age; recoveries')
    .option('--top <n>', 'sitekeys to list', intArg(1, 1000), 10)
    .option('--json', 'print the stats as JSON (for scripts)')
    .action(async (o: { top: number; json?: boolean }, cmd: Command) => {
      const solver = await sessionOf(cmd).solver();
      // token feedback (reports good / bad) from the account workflow, once a report was made
      const feedback = await solver.account().feedbackStats(o.top);
      // the exact query when the DLQ answers within 250 ms; while it is busy ingesting, the stats it last published
      let stats: Awaited<ReturnType<ReturnType<typeof solver.dlq>['statsFast']>> | undefined;
      try {
        stats = await dlqCall(solver, () => solver.dlq().statsFast({ top: o.top }, { waitMs: 250 }));
      } catch (err) {
        // no DLQ yet, but feedback to show: show it
        if (!feedback || !(err instanceof CliError && err.exitCode === EXIT.NOT_FOUND)) throw err;
        note(err.message);
      }
      if (o.json) return printJson(stats ? { ...stats, ...(feedback && { tokenFeedback: feedback }) } : { tokenFeedback: feedback });
      if (stats) {
        printStats(solver.dlq().workflowId, stats);
        if (stats.source === 'snapshot') note(`(the DLQ is busy: these are the stats it published at ${stats.publishedAt}; exact once ingest settles)`);
      }
      if (feedback) printFeedback(feedback);
    });

  addFilterOptions(dlq.command('list').description('entries, filtered and paged (in arrival order)'))
    .option('--limit <n>', 'entries per page (≤ 500)', intArg(1, 500), 50)
    .option('--cursor <cursor>', 'the "next" cursor printed by the previous page')
    .option('--json', 'print the page as JSON')
    .action(async (o: FilterOptions & { limit: number; cursor?: string; json?: boolean }, cmd: Command) => {
      const solver = await sessionOf(cmd).solver();
      const page = await dlqCall(solver, () => solver.dlq().list({ ...filterOf(o), limit: o.limit, ...(o.cursor && { cursor: o.cursor }) }));
      if (o.json) return printJson(page);
      if (page.entries.length === 0) out('no entries match');
      else out(entriesTable(page.entries));
      out(`${page.entries.length} shown · ${page.total} match in ${page.workflowId}`);
      if (page.nextCursor) out(`next page:  add --cursor ${page.nextCursor}`);
    });

  for (const operation of ['retry', 'discard', 'purge'] as const) {
    const what = {
      retry:
        'solve the selected entries again (as new solves, at the DLQ\'s rate); on a bulk retry, parked and account-class entries are skipped, ' +
        'and permanent-class ones (they cannot succeed as they are) are left out unless named (--class permanent or --id)',
      discard: 'remove the selected entries (counted as discarded)',
      purge: 'remove parked entries (those that reached the retry cap) among the selected',
    }[operation];
    const command = addFilterOptions(dlq.command(operation).description(`${what}. Needs a filter or --all, and a --reason for the audit log (not with --dry-run)`))
      .option('--all', 'act on every entry (the filter options still narrow)')
      .option('--dry-run', 'count what would be done, by failure class; change nothing')
      .option('--reason <why>', 'why: recorded in the audit log with your identity (required unless --dry-run)')
      .option('--request-id <id>', 'makes a repeated order a no-op (default: a new id)')
      .option('--json', 'print the result as JSON');
    if (operation === 'retry') {
      command.option('--budget <usd>', 'the most this retry may cost in USD at worst (every entry paying its submit and every resubmit, at the configured prices): refused by the DLQ when over');
      command.option('--provider <names>', 'retry on these providers, in order (comma-separated CAPTCHA_PROVIDERS names), e.g. capsolver');
    }
    command.action(async (o: FilterOptions & { all?: boolean; dryRun?: boolean; reason?: string; requestId?: string; json?: boolean; budget?: string; provider?: string }, cmd: Command) => {
        if (o.budget !== undefined) {
          const parsed = parseBudgetUsd(o.budget);
          if ('error' in parsed) throw new CliError(`--budget: ${parsed.error}`, EXIT.USAGE);
        }
        const s = sessionOf(cmd);
        const filter = filterOf(o);
        if (!o.all && Object.keys(filter).length === 0) {
          throw new CliError(`name the entries to ${operation} with a filter (--code, --class, --batch, …) or pass --all`, EXIT.USAGE);
        }
        if (!o.dryRun && o.reason === undefined) throw new CliError(`--reason is required to ${operation}: it goes into the audit log (a --dry-run needs none)`, EXIT.USAGE);
        if (o.reason !== undefined && !o.reason.trim()) throw new CliError('--reason must say why', EXIT.USAGE);
        const reason = o.reason ?? 'dry run';
        const solver = await s.solver();
        const route = o.provider?.split(',').map((p) => p.trim());
        if (route) {
          try {
            solver.checkRoute(route, []);
          } catch (err) {
            throw new CliError(`--provider: ${(err as Error).message}`, EXIT.USAGE);
          }
        }
        // a bulk retry leaves permanent-class entries out: they fail again as they are, and each retry is paid
        const bulk = operation === 'retry' && !filter.ids && !filter.classes;
        const selection: DlqFilter = bulk ? { ...filter, classes: FAILURE_CLASSES.filter((c) => c !== 'permanent') } : filter;
        const request = {
          ...selection,
          ...(o.all && { all: true }),
          ...(route && { route }),
          reason,
          by: s.identity,
          requestId: o.requestId ?? `cli-${randomUUID()}`,
          dryRun: !!o.dryRun,
        };
        const dlq = solver.dlq();
        const byClass = o.dryRun ? await dlqCall(solver, () => countByClass(solver, filter)) : undefined;
        const leftOut = bulk ? (byClass?.permanent ?? (await dlqCall(solver, () => countByClass(solver, filter, ['permanent']))).permanent ?? 0) : 0;
        const result = await dlqCall(solver, () => (operation === 'retry' ? dlq.retry(request, o.budget === undefined ? {} : { budget: o.budget }) : dlq[operation](request)));
        if (o.json) printJson({ ...result, ...(byClass && { byClass }), ...(bulk && { leftOut: { permanent: leftOut } }) });
        else printOperation(result, s.identity, reason, byClass, leftOut);
      });
  }

  dlq
    .command('reset-shard')
    .description('forget what one shard last reported to the front (a wrong or forged snapshot); its next snapshot counts again')
    .argument('<shard>', 'the shard index (1 … shardCount − 1)', intArg(1, 10_000))
    .requiredOption('--reason <why>', 'why: logged with your identity')
    .option('--json', 'print the result as JSON')
    .action(async (shard: number, o: { reason: string; json?: boolean }, cmd: Command) => {
      const s = sessionOf(cmd);
      if (!o.reason.trim()) throw new CliError('--reason must say why', EXIT.USAGE);
      const solver = await s.solver();
      const result = await dlqCall(solver, () => solver.dlq().resetShard({ shard, reason: o.reason, by: s.identity }));
      if (o.json) return printJson(result);
      out(
        result.hadSnapshot
          ? `shard ${result.shard} (${result.workflowId}) reset: its ${result.removedTotal} entr${result.removedTotal === 1 ? 'y' : 'ies'} no longer counted until it reports again`
          : `shard ${result.shard} (${result.workflowId}) had not reported: nothing to reset`,
      );
    });

  dlq
    .command('audit')
    .description('who retried, discarded or purged what, when and why (newest first)')
    .option('--limit <n>', 'records at most (≤ 500)', intArg(1, 500), 50)
    .option('--json', 'print JSON')
    .action(async (o: { limit: number; json?: boolean }, cmd: Command) => {
      const solver = await sessionOf(cmd).solver();
      const records = await dlqCall(solver, () => solver.dlq().audit({ limit: o.limit }));
      if (o.json) return printJson(records);
      if (records.length === 0) return out('no orders recorded yet');
      const budgeted = records.some((r) => r.budget);
      const progress = records.map(orderProgress);
      out(
        table(
          ['at', 'operation', 'by', 'reason', 'matched', 'skipped', 'in flight', 'recovered', 'failed', 'selection', 'via', ...(budgeted ? ['budget'] : [])],
          records.map((r, i) => {
            const p = progress[i];
            const figures = p
              ? [p.inFlight, p.recovered, `${p.failed}${p.cancelled ? ` (+${p.cancelled} cancelled)` : ''}`]
              : r.operation === 'retry' ? ['-', '-', '-'] : ['', '', ''];
            return [
              r.at,
              r.operation,
              r.by,
              r.reason,
              r.matched,
              r.skipped ?? '',
              ...figures,
              describeFilter(r.filter),
              r.via ?? '',
              ...(budgeted ? [r.budget ? describeBudgetUse(r.matched, r.budget) : ''] : []),
            ];
          }),
        ),
      );
      if (progress.some((p) => p !== null)) {
        note(`in flight / recovered / failed: what became of each retry order's entries (a shard's part as of its last snapshot, see ${INVOCATION} dlq stats); failed ones are back in ${INVOCATION} dlq list`);
      }
      if (records.some((r, i) => r.operation === 'retry' && progress[i] === null)) note(`-: ${OUTCOMES_NOT_TRACKED}`);
    });

  addFilterOptions(
    dlq
      .command('export')
      .description('write entries out, page by page: json (an array, like the seed\'s export_json), ndjson or csv'),
  )
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'ndjson', 'csv']).default('json'))
    .option('--out <file>', 'write to this file (atomically) instead of stdout')
    .option('--page-size <n>', 'entries per list query', intArg(1, 500), 500)
    .action(async (o: FilterOptions & { format: 'json' | 'ndjson' | 'csv'; out?: string; pageSize: number }, cmd: Command) => {
      const solver = await sessionOf(cmd).solver();
      const count = await dlqCall(solver, () => exportEntries(solver, filterOf(o), o));
      note(`exported ${count} entr${count === 1 ? 'y' : 'ies'}${o.out ? ` to ${o.out}` : ''} (${o.format})`);
    });
}

/** Runs a DLQ call; a DLQ that never started is "not found" (exit 4), an order it rejects is bad usage (exit 2). */
async function dlqCall<T>(solver: CaptchaSolver, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isError(err, 'WorkflowNotFoundError')) {
      throw new CliError(
        `the DLQ (${solver.dlq().workflowId}, namespace ${solver.config.temporal.namespace}) is not running: no failure has been recorded yet`,
        EXIT.NOT_FOUND,
      );
    }
    if (isError(err, 'WorkflowUpdateFailedError')) throw new CliError(`the DLQ refused: ${err.cause?.message ?? err.message}`, EXIT.USAGE);
    if (isError(err, 'DlqRequestTooLargeError')) throw new CliError(err.message, EXIT.USAGE);
    if (/^invalid (list|stats|audit) request|^cursor /.test(queryFailureMessage(err))) throw new CliError(queryFailureMessage(err), EXIT.USAGE);
    throw err;
  }
}

function queryFailureMessage(err: unknown): string {
  const m = message(err);
  return m.replace(/^.*?(invalid \w+ request:|cursor ")/s, '$1');
}

function printStats(workflowId: string, s: DlqStats): void {
  out(`dead-letter queue ${workflowId} · ${s.total} entr${s.total === 1 ? 'y' : 'ies'} held · as of ${s.asOf}`);
  out(
    table(undefined, [
      ['dead (waiting)', s.byStatus.dead ?? 0],
      ['retrying', `${s.byStatus.retrying ?? 0} (${s.retriesInFlight} in flight, ${s.retriesQueued ?? 0} queued)`],
      ['parked (retry cap reached)', s.parked],
      ['oldest', s.oldestFailedAt ? `${formatDuration(s.oldestEntryAgeMs ?? 0)} ago (${s.oldestFailedAt})` : '-'],
      ['recovered by retries, ever', s.recovered],
      ['discarded, ever', s.discarded],
      ['purged, ever', s.purged ?? 0],
      ['paid submits spent on held entries', s.paidSubmitsOnDead],
      ...(s.spentMicrosOnDead !== undefined ? [['money spent on held entries', formatUsd(s.spentMicrosOnDead)]] : []),
      ['reports received (duplicates)', `${s.received ?? s.total} (${s.duplicateReports ?? 0})`],
      ...(s.unknownSignals?.count ? [['unknown signals (last name)', `${s.unknownSignals.count} (${s.unknownSignals.lastName})`]] : []),
    ]),
  );
  const section = (title: string, rows: (string | number)[][], head: string[]): void => {
    if (rows.length === 0) return;
    out(`\n${title}`);
    out(table(head, rows));
  };
  section('by error code', sortedCounts(s.byCode).map(([code, n]) => [code, n, pct(n, s.total)]), ['code', 'entries', 'share']);
  if (s.spentMicrosOnDeadByCode) {
    section('money spent on held entries, by error code', sortedCounts(s.spentMicrosOnDeadByCode).map(([code, m]) => [code, formatUsd(m)]), ['code', 'spent']);
  }
  section('by failure class', sortedCounts(s.byClass).map(([c, n]) => [c, n, pct(n, s.total)]), ['class', 'entries', 'share']);
  section('top sitekeys', s.bySitekey.map((k) => [k.sitekey, k.count, pct(k.count, s.total)]), ['sitekey', 'entries', 'share']);
  const hours = Object.entries(s.byHour)
    .filter(([, n]) => n > 0)
    .sort((a, b) => a[0].localeCompare(b[0]));
  const peak = Math.max(1, ...hours.map(([, n]) => n));
  section('by UTC hour of the last failure', hours.map(([h, n]) => [`${h}:00`, n, '■'.repeat(Math.max(1, Math.round((20 * n) / peak)))]), ['hour', 'entries', '']);
  section('by batch', sortedCounts(s.byBatch).slice(0, 20).map(([b, n]) => [b, n]), ['batch', 'entries']);
  if (s.alerts.length) section('alerts', s.alerts.map((a) => [a.kind, a.value, a.threshold, a.raisedAt]), ['alert', 'value', 'threshold', 'raised at']);
}

function entriesTable(entries: DlqEntry[]): string {
  return table(
    ['id', 'status', 'class', 'code', 'message', 'type / sitekey', 'batch', 'attempts', 'DLQ retries', 'last failed'],
    entries.map((e) => [
      e.id,
      e.status,
      e.failureClass,
      e.code,
      shorten(e.message, 40),
      e.task.sitekey ? `${e.task.type} ${e.task.sitekey}` : e.task.type,
      e.batchId ?? '-',
      `${e.attempts} (${e.paidSubmits} paid)`,
      e.dlqRetries,
      e.lastFailedAt,
    ]),
  );
}

/** One line of at most `max` characters. */
function shorten(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line || '-' : `${line.slice(0, max - 1)}…`;
}

/** Entries matching the filter, by failure class (one list query per class; queries change nothing). */
async function countByClass(solver: CaptchaSolver, filter: DlqFilter, classes: readonly FailureClass[] = FAILURE_CLASSES): Promise<Partial<Record<FailureClass, number>>> {
  const wanted = classes.filter((c) => !filter.classes || filter.classes.includes(c));
  const totals = await Promise.all(wanted.map((c) => solver.dlq().list({ ...filter, classes: [c], limit: 1 }).then((p) => [c, p.total] as const)));
  return Object.fromEntries(totals.filter(([, n]) => n > 0));
}

function describeFilter(f: DlqFilter & { all?: boolean }): string {
  const parts = Object.entries(f)
    .filter(([, v]) => v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => (k === 'all' ? 'all' : `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`));
  return parts.join(' ') || 'all';
}

function printOperation(r: DlqOperationResult, by: string, reason: string, byClass?: Partial<Record<FailureClass, number>>, leftOut = 0): void {
  const verb = { retry: ['retry', 'retrying'], discard: ['discard', 'discarded'], purge: ['purge', 'purged'] }[r.operation];
  const n = `${r.matched} entr${r.matched === 1 ? 'y' : 'ies'}`;
  const skipped = r.skipped ? ` (${r.skipped} selected but skipped: parked, account-class or already retrying)` : '';
  const left = leftOut ? `; ${leftOut} permanent-class entr${leftOut === 1 ? 'y' : 'ies'} left out (they cannot succeed as they are: name them with --class permanent or --id)` : '';
  if (r.dryRun) out(`dry run: would ${verb[0]} ${n}${skipped}${left}; nothing changed`);
  else if (r.duplicate) out(`request ${r.requestId} was already applied: nothing done again (it matched ${n})`);
  else out(`${verb[1]} ${n}${skipped}${left} · request ${r.requestId} · audited as by ${by}: "${reason}"`);
  if (byClass && Object.keys(byClass).length) {
    out(`  selected, by class: ${sortedCounts(byClass).map(([c, k]) => `${c} ${k}${c === 'permanent' ? ' (cannot succeed as they are)' : ''}`).join(' · ')}`);
  }
  if (r.sample.length) out(`  e.g. ${r.sample.slice(0, 5).join(', ')}${r.matched > 5 ? ', …' : ''}`);
  if (r.cost) {
    const classes = Object.entries(r.cost.byClass).map(([c, m]) => `${c} ${formatUsd(m)}`).join(', ');
    out(`  ${r.dryRun ? 'would cost' : 'costs'} ${formatUsd(r.cost.totalMicros)} at one submit per entry${classes ? ` (${classes})` : ''}`);
    if (r.cost.worstMicros !== undefined && r.cost.submitsPerEntry !== undefined) {
      const worst = Object.entries(r.cost.worstByClass ?? {}).map(([c, m]) => `${c} ${formatUsd(m)}`).join(', ');
      const k = r.cost.submitsPerEntry;
      out(`  up to ${formatUsd(r.cost.worstMicros)} at worst, ${k} paid submit${k === 1 ? '' : 's'} per entry if every retry comes back unsolvable${worst ? ` (${worst})` : ''}: what a --budget is checked against`);
    }
    if (r.cost.warning) out(`  warning: ${r.cost.warning}`);
  }
}

const CSV_COLUMNS = [
  'id', 'status', 'failureClass', 'code', 'message', 'type', 'sitekey', 'pageUrl', 'batchId', 'taskKey', 'provider',
  'attempts', 'paidSubmits', 'dlqRetries', 'firstFailedAt', 'lastFailedAt',
] as const;

function csvRow(cells: (string | number | undefined)[]): string {
  return cells
    .map((c) => {
      const text = c === undefined ? '' : String(c);
      return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
    })
    .join(',');
}

function csvOf(e: DlqEntry): string {
  const row: Record<(typeof CSV_COLUMNS)[number], string | number | undefined> = {
    id: e.id,
    status: e.status,
    failureClass: e.failureClass,
    code: e.code,
    message: e.message,
    type: e.task.type,
    sitekey: e.task.sitekey,
    pageUrl: e.task.pageUrl,
    batchId: e.batchId,
    taskKey: e.taskKey,
    provider: e.provider,
    attempts: e.attempts,
    paidSubmits: e.paidSubmits,
    dlqRetries: e.dlqRetries,
    firstFailedAt: e.firstFailedAt,
    lastFailedAt: e.lastFailedAt,
  };
  return csvRow(CSV_COLUMNS.map((c) => row[c]));
}

/** Streams every matching entry, one list page at a time; a file is written beside its target and renamed at the end. */
async function exportEntries(solver: CaptchaSolver, filter: DlqFilter, o: { format: 'json' | 'ndjson' | 'csv'; out?: string; pageSize: number }): Promise<number> {
  const target = o.out ? resolve(o.out) : undefined;
  const temp = target ? `${target}.tmp-${process.pid}` : undefined;
  const stream: Writable = temp ? createWriteStream(temp) : process.stdout;
  const write = async (chunk: string): Promise<void> => {
    if (!stream.write(chunk)) await once(stream, 'drain');
  };
  let count = 0;
  try {
    if (o.format === 'csv') await write(`${csvRow([...CSV_COLUMNS])}\n`);
    if (o.format === 'json') await write('[');
    for await (const page of solver.dlq().pages(filter, o.pageSize)) {
      let chunk = '';
      for (const entry of page.entries) {
        if (o.format === 'json') chunk += `${count === 0 ? '\n' : ',\n'}  ${JSON.stringify(entry)}`;
        else if (o.format === 'ndjson') chunk += `${JSON.stringify(entry)}\n`;
        else chunk += `${csvOf(entry)}\n`;
        count++;
      }
      if (chunk) await write(chunk);
    }
    if (o.format === 'json') await write(count === 0 ? ']\n' : '\n]\n');
    if (temp && target) {
      stream.end();
      await once(stream, 'finish');
      await rename(temp, target);
    }
    return count;
  } catch (err) {
    if (temp) {
      stream.destroy();
      await rm(temp, { force: true });
    }
    throw err;
  }
}
