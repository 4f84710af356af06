// batch: start (from a task file), watch, status, cancel, resume, results.
import { resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { Option, type Command } from 'commander';
import type { CaptchaSolver } from '../../client';
import { WORKFLOW_TYPES } from '../../domain/names';
import type { BatchProgress, BatchSummary } from '../../../workflows/messages';
import { batchIdArg, intArg, intervalArg } from '../args';
import { CliError, EXIT, isError } from '../errors';
import { INVOCATION, formatDuration, message, note, out, pct, printJson, table } from '../output';
import { sessionOf, type Session } from '../session';
import { formatUsd, parseBudgetUsd } from '../../domain/prices';

/** `--budget 5.00` checked before anything is read or started: one sentence, exit 2. */
function budgetArg(budget: string | undefined): string | undefined {
  if (budget === undefined) return undefined;
  const parsed = parseBudgetUsd(budget);
  if ('error' in parsed) throw new CliError(`--budget: ${parsed.error}`, EXIT.USAGE);
  return budget;
}

export function addBatchCommands(program: Command): void {
  const batch = program.command('batch').description('start, watch, inspect and cancel batches');

  batch
    .command('start')
    .description(
      `start a batch from a task file (.json: an array or {"tasks": [...]}; .ndjson: a task a line; .csv: a header row with type,sitekey,pageUrl,key,… columns). ` +
        'A `dlq export` file (json, ndjson or csv) is a task file too: its entries\' tasks, keyed by their task keys (csv keeps only type, sitekey and page). ' +
        'Every task is validated first; a bad file names each bad line (JSON: item) and field and starts nothing.',
    )
    .argument('<file>', 'the task file')
    .option('--batch-id <id>', 'the batch id: ≤ 200 letters, digits and . _ : @ - (default: batch-<date>-<random>); a running batch id attaches to it, an ended one is refused')
    .option('--concurrency <n>', 'solves in flight at most (default: BATCH_CONCURRENCY, 50)', intArg(1, 500))
    .option('--route <names>', 'providers in order of preference, comma-separated CAPTCHA_PROVIDERS names (default: all, as configured)')
    .option('--budget <usd>', 'money limit in USD (e.g. 5.00): the batch pauses before a submit would pass it; `batch resume --budget` raises it')
    .addOption(new Option('--format <format>', 'file format (default: from the extension)').choices(['json', 'ndjson', 'csv']))
    .addOption(
      new Option('--source <how>', 'how tasks reach the workers: inline in the workflow input (auto: up to 1,000 tasks) or by file path (workers must see the same path)')
        .choices(['auto', 'inline', 'file'])
        .default('auto'),
    )
    .option('--watch', 'then watch it until it ends (as `batch watch`)')
    .option('--fail-on-dead-letters', 'with --watch: exit 1 when any task was dead-lettered')
    .option('--interval <duration>', 'with --watch: progress refresh interval', intervalArg(100), 1000)
    .option('--json', 'print JSON')
    .action(async (file: string, o: BatchStartOptions, cmd: Command) => {
      process.exitCode = await batchStart(sessionOf(cmd), file, o);
    });

  batch
    .command('watch')
    .description('a live progress bar and counts until the batch ends, then its summary (plain periodic lines when not a terminal)')
    .argument('<batch-id>', 'the batch id', batchIdArg)
    .option('--fail-on-dead-letters', 'exit 1 when any task was dead-lettered')
    .option('--interval <duration>', 'progress refresh interval (plain lines: every 5 intervals)', intervalArg(100), 1000)
    .option('--json', 'print the summary as JSON')
    .action(async (id: string, o: WatchOptions, cmd: Command) => {
      process.exitCode = await watchBatch(await sessionOf(cmd).solver(), id, o);
    });

  batch
    .command('status')
    .description('progress of a running batch, or the summary of a finished one')
    .argument('<batch-id>', 'the batch id', batchIdArg)
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      process.exitCode = await batchStatus(await sessionOf(cmd).solver(), id, o);
    });

  batch
    .command('cancel')
    .description('cancel a running batch: tasks not started never start, solves in flight are cancelled')
    .argument('<batch-id>', 'the batch id', batchIdArg)
    .option('--wait', 'wait for the batch to wind down and print its summary')
    .action(async (id: string, o: { wait?: boolean }, cmd: Command) => {
      process.exitCode = await batchCancel(await sessionOf(cmd).solver(), id, o);
    });

  batch
    .command('resume')
    .description('close the circuit of a batch held by account errors (bad key, zero balance, banned IP), once the account is fixed; or raise the budget of a batch paused by it (--budget)')
    .argument('<batch-id>', 'the batch id', batchIdArg)
    .option('--reason <why>', 'why it is safe to resume (logged by the batch)')
    .option('--budget <usd>', 'the new money limit in USD (e.g. 8.00): a batch paused by its budget continues when the next submit fits')
    .action(async (id: string, o: { reason?: string; budget?: string }, cmd: Command) => {
      const budget = budgetArg(o.budget);
      const s = sessionOf(cmd);
      const solver = await s.solver();
      const { status } = await describeBatch(solver, id);
      if (status !== 'RUNNING') {
        out(`batch ${id} is ${status.toLowerCase()}: nothing to resume`);
        return;
      }
      const p = await solver.batch(id).resume(o.reason ?? `resumed by ${s.identity}`, budget === undefined ? {} : { budget });
      out(
        `batch ${id} resumed: circuit ${p.circuit.open ? 'still open' : 'closed'}, ${p.solved + p.deadLettered + p.cancelled}/${p.total} done, ${p.inFlight} in flight` +
          (p.money ? `, spent ${formatUsd(p.money.spentMicros)} of ${p.money.budgetMicros === undefined ? 'no budget' : formatUsd(p.money.budgetMicros)}${p.money.paused ? ' (still paused: raise --budget)' : ''}` : ''),
      );
    });

  batch
    .command('results')
    .description('tokens solved lately (a batch keeps the freshest ones: tokens expire ~120 s after solving)')
    .argument('<batch-id>', 'the batch id', batchIdArg)
    .option('--cursor <n>', 'the sequence number of the last result already seen', intArg(0, Number.MAX_SAFE_INTEGER))
    .option('--limit <n>', 'results at most (≤ 500)', intArg(1, 500), 100)
    .option('--full', 'print whole tokens in the table')
    .option('--token-ttl <duration>', 'how long a token stays usable after solving: older ones are marked expired', intervalArg(1000), TOKEN_TTL_MS)
    .option('--json', 'print JSON (each result with "expired")')
    .action(async (id: string, o: ResultsOptions, cmd: Command) => {
      process.exitCode = await batchResults(await sessionOf(cmd).solver(), id, o);
    });
}

interface BatchStartOptions {
  batchId?: string;
  concurrency?: number;
  route?: string;
  budget?: string;
  format?: string;
  source: 'auto' | 'inline' | 'file';
  watch?: boolean;
  failOnDeadLetters?: boolean;
  interval: number;
  json?: boolean;
}

async function batchStart(s: Session, file: string, o: BatchStartOptions): Promise<number> {
  const path = resolve(file);
  budgetArg(o.budget);
  if (o.batchId !== undefined) {
    const [{ checkBatchId }, config] = await Promise.all([import('../../domain/ids'), s.settings()]);
    checkBatchId(o.batchId, config.dlqWorkflowId); // InvalidIdError → exit 2, before anything is read or started
  }
  const [{ readTaskFile }, { INLINE_BATCH_LIMIT }] = await Promise.all([import('../../tasks/files'), import('../../client')]);
  const parsed = await readTaskFile(path, o.format); // TaskValidationError → exit 2, before anything is started
  // types the configured provider does not solve: exit 2, naming the lines, before anything is started (several
  // providers: the route, named or the default one, is checked below and by startBatch)
  const [{ checkProviderSupports }, config] = await Promise.all([import('../../tasks/support'), s.settings()]);
  if (config.providers.length <= 1) checkProviderSupports(config.provider.name, parsed.tasks, { lines: parsed.lines, where: 'task file' });
  const inline = o.source === 'inline' || (o.source === 'auto' && parsed.tasks.length <= INLINE_BATCH_LIMIT);
  if (o.source === 'inline' && parsed.tasks.length > INLINE_BATCH_LIMIT) {
    throw new CliError(`${parsed.tasks.length} tasks are too many to pass inline (≤ ${INLINE_BATCH_LIMIT}): use --source file`, EXIT.USAGE);
  }
  const solver = await s.solver();
  const route = o.route?.split(',').map((name) => name.trim());
  if (route) solver.checkRoute(route, parsed.tasks); // InvalidRouteError → exit 2, before anything is started
  const started = await solver.startBatch({
    ...(o.batchId !== undefined && { batchId: o.batchId }),
    ...(route && { route }),
    ...(o.concurrency && { concurrency: o.concurrency }),
    ...(o.budget !== undefined && { budget: o.budget }),
    ...(inline ? { tasks: parsed.tasks } : { file: path, format: parsed.format }),
  });
  if (started.balance?.low) {
    const b = started.balance;
    for (const p of b.providers?.filter((x) => x.low) ?? [b]) {
      note(`warning: the ${p.provider} balance ${p.balance} is below CAPTCHA_LOW_BALANCE ${b.lowBalance}${p.alerted ? ' (alert raised)' : ''}`);
    }
  }
  if (o.json && !o.watch) {
    printJson({ batchId: started.batchId, total: started.total, existing: started.existing, source: inline ? 'inline' : 'file' });
  } else {
    const say = o.json ? note : out;
    say(
      started.existing
        ? `batch ${started.batchId} is already running: not started again`
        : `started batch ${started.batchId}: ${started.total} tasks from ${file} (${parsed.format}, ${inline ? 'inline' : `by path ${path}`}), ` +
            `concurrency ${o.concurrency ?? solver.config.batchConcurrency}${o.budget !== undefined ? `, budget $${o.budget.replace(/^\$/, '')}` : ''}`,
    );
    if (!o.watch) say(`  watch it:  ${INVOCATION} batch watch ${started.batchId}`);
  }
  if (!o.watch) return EXIT.OK;
  return watchBatch(solver, started.batchId, o);
}

interface WatchOptions {
  failOnDeadLetters?: boolean;
  interval: number;
  json?: boolean;
}

const PLAIN_LINE_EVERY = 5;

async function watchBatch(solver: CaptchaSolver, batchId: string, o: WatchOptions): Promise<number> {
  const batch = solver.batch(batchId);
  const description = await describeBatch(solver, batchId);
  if (description.status !== 'RUNNING' && description.status !== 'COMPLETED') {
    note(`batch ${batchId} is ${description.status.toLowerCase()}: there is nothing to watch`);
    return EXIT.FAILED;
  }
  let settled = false;
  const outcome = batch.result().then(
    (summary) => ({ summary }),
    (error: unknown) => ({ error }),
  );
  void outcome.finally(() => {
    settled = true;
  });

  const live = !!process.stderr.isTTY && process.env.TERM !== 'dumb';
  const bar = live ? progressBar(batchId) : undefined;
  let ticks = 0;
  let last: Counts | undefined;
  const clockOf = elapsedClock();
  while (!settled) {
    try {
      last = clockOf(await batch.progress());
      if (bar) renderBar(bar, last);
      else if (ticks % PLAIN_LINE_EVERY === 0) note(progressLine(last));
    } catch (err) {
      if (isError(err, 'WorkflowNotFoundError')) throw err;
      // no answer this time (a worker restarting, a run continuing as new): try again at the next tick
      if (!bar && ticks % PLAIN_LINE_EVERY === 0) note(`[${clock()}] ${batchId}: no progress answer yet (${message(err).split('\n')[0]})`);
    }
    ticks++;
    await Promise.race([outcome, sleep(o.interval)]);
  }
  const result = await outcome;
  if ('error' in result) {
    bar?.stop();
    note(`batch ${batchId} failed: ${message(result.error)}`);
    return EXIT.FAILED;
  }
  const summary = result.summary;
  const final: Counts = { ...summary, inFlight: 0, window: last?.window ?? 0, circuit: { open: false, accountFailures: 0 } };
  if (bar) {
    renderBar(bar, final);
    bar.stop();
  } else {
    note(progressLine(final));
  }
  printSummary(summary, o.json);
  if (summary.status === 'cancelled') return EXIT.FAILED;
  if (o.failOnDeadLetters && summary.deadLettered > 0) return EXIT.FAILED;
  return EXIT.OK;
}

/**
 * A query answers with the workflow's time of its last task: while nothing happens in the batch (every task polling a
 * slow provider) that time stands still. Elapsed time moves on by this machine's clock from the last answer that moved.
 */
function elapsedClock(now: () => number = Date.now): <T extends { elapsedMs: number; status: string }>(p: T) => T {
  let base: { elapsedMs: number; at: number } | undefined;
  let shown = 0;
  return (p) => {
    if (p.status !== 'running') return p;
    if (!base || p.elapsedMs > base.elapsedMs) base = { elapsedMs: p.elapsedMs, at: now() };
    shown = Math.max(shown, base.elapsedMs + (now() - base.at));
    return { ...p, elapsedMs: shown };
  };
}

/** What the bar and the plain lines show: a progress answer, or a final summary. */
type Counts = Pick<BatchProgress, 'batchId' | 'status' | 'total' | 'solved' | 'deadLettered' | 'cancelled' | 'inFlight' | 'elapsedMs'> &
  Partial<Pick<BatchProgress, 'window' | 'circuit' | 'money'>>;

/** " · circuit OPEN (ERROR_ZERO_BALANCE): …" while account errors hold the batch */
function circuitNote(p: Counts): string {
  const spent = p.money ? ` · spent ${formatUsd(p.money.spentMicros)}${p.money.budgetMicros !== undefined ? ` of ${formatUsd(p.money.budgetMicros)}` : ''}` : '';
  const paused = p.money?.paused ? ` · PAUSED by its budget: ${INVOCATION} batch resume ${p.batchId} --budget <usd>` : '';
  return spent + paused + circuitOpenNote(p);
}

function circuitOpenNote(p: Counts): string {
  if (!p.circuit?.open) return '';
  return ` · circuit OPEN (${p.circuit.code ?? 'account error'}): fix the account, then ${INVOCATION} batch resume ${p.batchId}`;
}

function progressBar(batchId: string): SingleBar {
  return new SingleBar({
    stream: process.stderr,
    format: `${batchId} {stack} {percentage}% {value}/{total} | solved {solved} · dead-lettered {dead} · cancelled {cancelled} · in flight {inFlight} | {elapsedText}{etaText}{circuitText}`,
    hideCursor: true,
    clearOnComplete: false,
    fps: 10,
  });
}

const BAR_WIDTH = 30;

/** A two-tone bar: █ solved, ▒ dead-lettered or cancelled, ░ to do. */
function stackedBar(p: { solved: number; deadLettered: number; cancelled: number }, total: number): string {
  if (total <= 0) return '░'.repeat(BAR_WIDTH);
  const solved = Math.round((BAR_WIDTH * p.solved) / total);
  const failed = Math.min(BAR_WIDTH - solved, Math.round((BAR_WIDTH * (p.deadLettered + p.cancelled)) / total));
  return '█'.repeat(solved) + '▒'.repeat(failed) + '░'.repeat(BAR_WIDTH - solved - failed);
}

function renderBar(bar: SingleBar, p: Counts): void {
  const done = p.solved + p.deadLettered + p.cancelled;
  const total = Math.max(p.total, 1);
  const rate = p.elapsedMs > 0 ? done / p.elapsedMs : 0;
  const eta = p.status === 'running' && rate > 0 && total > done ? ` · eta ${formatDuration((total - done) / rate)}` : '';
  const payload = {
    stack: stackedBar(p, total),
    solved: p.solved,
    dead: p.deadLettered,
    cancelled: p.cancelled,
    inFlight: p.inFlight,
    // not {eta} / {duration}: those are cli-progress's own tokens
    elapsedText: formatDuration(p.elapsedMs),
    etaText: eta,
    circuitText: circuitNote(p),
  };
  if (!bar.isActive) bar.start(total, done, payload);
  else {
    bar.setTotal(total);
    bar.update(done, payload);
  }
}

function progressLine(p: Counts): string {
  const done = p.solved + p.deadLettered + p.cancelled;
  const share = p.total > 0 ? ` (${Math.floor((100 * done) / p.total)}%)` : '';
  return (
    `[${clock()}] ${p.batchId}: ${done}/${p.total} done${share} · solved ${p.solved} · dead-lettered ${p.deadLettered} · ` +
    `cancelled ${p.cancelled} · in flight ${p.inFlight} · ${formatDuration(p.elapsedMs)} elapsed${circuitNote(p)}`
  );
}

function clock(): string {
  return new Date().toISOString().slice(11, 19);
}

function printSummary(summary: BatchSummary, json?: boolean): void {
  if (json) return printJson(summary);
  out(`batch ${summary.batchId} ${summary.status} in ${formatDuration(summary.elapsedMs)} (${summary.runs} run${summary.runs === 1 ? '' : 's'})`);
  out(
    table(undefined, [
      ['total', summary.total],
      ['solved', `${summary.solved} (${pct(summary.solved, summary.total)})`],
      ['dead-lettered', `${summary.deadLettered} (${pct(summary.deadLettered, summary.total)})`],
      ['cancelled', summary.cancelled],
      ...(summary.notStarted ? [['of them never started', summary.notStarted] as [string, number]] : []),
      // a worker died (or an answer was lost) after the provider accepted a submit: it may have been paid twice
      ...(summary.possibleDuplicateSubmits ? [['possible duplicate paid submits', summary.possibleDuplicateSubmits] as [string, number]] : []),
      ...moneyRows(summary.money),
    ]),
  );
  if (summary.topErrors.length) out(table(['top errors', 'count'], summary.topErrors.map((e) => [e.code, e.count])));
  if (summary.deadLettered > 0) out(`the dead-lettered tasks:  ${INVOCATION} dlq list --batch ${summary.batchId}`);
}

/** spent, per solve, wasted on failures, budget */
function moneyRows(m: BatchProgress['money']): [string, string][] {
  if (!m) return [];
  return [
    ['spent', formatUsd(m.spentMicros)],
    ...(m.perSolveMicros !== undefined ? [['per solve', formatUsd(m.perSolveMicros)] as [string, string]] : []),
    ['wasted on failures', formatUsd(m.wastedMicros)],
    ...(m.budgetMicros !== undefined ? [['budget', formatUsd(m.budgetMicros)] as [string, string]] : []),
  ];
}

async function describeBatch(solver: CaptchaSolver, batchId: string): Promise<{ status: string }> {
  try {
    const d = await solver.batch(batchId).handle.describe();
    if (d.type !== WORKFLOW_TYPES.batch) throw new CliError(`${batchId} is a ${d.type}, not a batch`, EXIT.NOT_FOUND);
    return { status: d.status.name };
  } catch (err) {
    if (isError(err, 'WorkflowNotFoundError')) throw new CliError(`no batch ${batchId} (namespace ${solver.config.temporal.namespace})`, EXIT.NOT_FOUND);
    throw err;
  }
}

async function batchStatus(solver: CaptchaSolver, batchId: string, o: { json?: boolean }): Promise<number> {
  const { status } = await describeBatch(solver, batchId);
  const batch = solver.batch(batchId);
  if (status === 'RUNNING') {
    const p = await batch.progress();
    if (o.json) return printJson({ workflowStatus: status, progress: p }), EXIT.OK;
    const done = p.solved + p.deadLettered + p.cancelled;
    out(`batch ${batchId} ${p.status}: ${done}/${p.total} done, ${formatDuration(p.elapsedMs)} elapsed (run ${p.run})`);
    out(
      table(undefined, [
        ['total', p.total],
        ['started', p.started],
        ['solved', p.solved],
        ['dead-lettered', p.deadLettered],
        ['cancelled', p.cancelled],
        ['in flight', `${p.inFlight} (window ${p.window})`],
        ...moneyRows(p.money),
        ...(p.money?.paused ? [['paused', `${p.money.paused.message}: \`${INVOCATION} batch resume ${batchId} --budget <usd>\``]] : []),
        ...(p.dailyCap ? [['daily cap', `${formatUsd(p.dailyCap.leasedMicros)} leased by this batch${p.dailyCap.paused ? ` · ${p.dailyCap.paused.message} (raise it: \`${INVOCATION} daily-cap --set <usd>\`)` : ''}`]] : []),
        ['circuit', p.circuit.open ? `OPEN since ${p.circuit.openedAt ?? '?'} (${p.circuit.code ?? 'account errors'}): fix the account, then \`${INVOCATION} batch resume ${batchId}\`` : 'closed'],
      ]),
    );
    if (p.topErrors.length) out(table(['top errors', 'count'], p.topErrors.map((e) => [e.code, e.count])));
    if (p.byProvider) {
      out(table(['provider', 'solved', 'switched to', 'dead-lettered'], Object.entries(p.byProvider).map(([name, c]) => [name, c.solved, c.switched, c.deadLettered])));
    }
    if (p.providerRuns && p.providerRuns.length > 1) out(`provider runs: ${p.providerRuns.map((r) => `${r.provider} ×${r.solved}`).join(' → ')}`);
    return EXIT.OK;
  }
  if (status === 'COMPLETED') {
    const summary = await batch.result();
    if (o.json) return printJson({ workflowStatus: status, summary }), EXIT.OK;
    printSummary(summary);
    return EXIT.OK;
  }
  if (o.json) printJson({ workflowStatus: status });
  else out(`batch ${batchId} is ${status.toLowerCase()}`);
  return EXIT.OK;
}

async function batchCancel(solver: CaptchaSolver, batchId: string, o: { wait?: boolean }): Promise<number> {
  const { status } = await describeBatch(solver, batchId);
  if (status !== 'RUNNING') {
    out(`batch ${batchId} is already ${status.toLowerCase()}: nothing to cancel`);
    return EXIT.OK;
  }
  await solver.batch(batchId).cancel();
  out(`cancellation of batch ${batchId} requested: tasks not started never start, solves in flight are cancelled`);
  if (!o.wait) return EXIT.OK;
  const summary = await solver.batch(batchId).result();
  printSummary(summary);
  return EXIT.OK;
}

/** reCAPTCHA and hCaptcha tokens are good for about two minutes after solving (Turnstile's for five). */
const TOKEN_TTL_MS = 120_000;

interface ResultsOptions {
  cursor?: number;
  limit: number;
  full?: boolean;
  tokenTtl: number;
  json?: boolean;
}

async function batchResults(solver: CaptchaSolver, batchId: string, o: ResultsOptions): Promise<number> {
  await describeBatch(solver, batchId);
  const page = await solver.batch(batchId).results(o.cursor, o.limit);
  const now = Date.now();
  const expired = (solvedAt: string): boolean => now - Date.parse(solvedAt) > o.tokenTtl;
  if (o.json) return printJson({ ...page, results: page.results.map((r) => ({ ...r, expired: expired(r.solvedAt) })) }), EXIT.OK;
  if (page.results.length === 0) {
    out(`no results after cursor ${o.cursor ?? 0} (results kept from #${page.oldestKept})`);
    return EXIT.OK;
  }
  const token = (t: string): string => (o.full || t.length <= 40 ? t : `${t.slice(0, 40)}…`);
  const age = (solvedAt: string): string => `${formatDuration(now - Date.parse(solvedAt))}${expired(solvedAt) ? ' EXPIRED' : ''}`;
  out(table(['#', 'task', 'token', 'solved at', 'age', 'attempts'], page.results.map((r) => [r.seq, r.taskKey, token(r.token), r.solvedAt, age(r.solvedAt), r.attempts])));
  const stale = page.results.filter((r) => expired(r.solvedAt)).length;
  if (stale) note(`${stale} of these tokens are older than ${formatDuration(o.tokenTtl)}: expired, a site will refuse them`);
  out(`next:  ${INVOCATION} batch results ${batchId} --cursor ${page.nextCursor}`);
  return EXIT.OK;
}

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}
