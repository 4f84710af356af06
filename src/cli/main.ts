// `captcha-dlq`: the operator's command line. Batches (start from a file, watch, status, cancel, results), one-off
// solves, the DLQ (stats, list, retry, discard, purge, audit, export), the scheduled drain, and the local stack (worker,
// simulator, dev). Configuration comes from the environment (src/config.ts); every command has --help.
//
// Output: results on stdout (tables for people, --json for scripts), progress and notes on stderr. Exit codes below.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { Client } from '@temporalio/client';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
// Only light modules load up front (--help and usage errors stay fast); the Temporal client, zod schemas and the
// stack's modules load when a command needs them.
import type { CaptchaSolveError, CaptchaSolver } from '../client';
import type { Config } from '../config';
import { version as VERSION } from '../../package.json';
import { formatInterval } from '../domain/describe';
import { DRAIN_DEFAULT_CLASSES, DRAIN_SCHEDULE_ID } from '../domain/names';
import type { BatchProgress, BatchSummary, DlqEntry, DlqFilter, DlqOperationResult, DlqStats } from '../../workflows/messages';
import { DLQ_ENTRY_STATUSES, WORKFLOW_TYPES, type DlqEntryStatus } from '../domain/names';
import { CAPTCHA_TYPES, FAILURE_CLASSES, type CaptchaOptions, type CaptchaTask, type FailureClass } from '../domain/types';


// ---------------------------------------------------------------------------------------------------------------------
// Exit codes

export const EXIT = {
  OK: 0,
  /** the operation ran and failed: a solve failed, a batch was cancelled or (with --fail-on-dead-letters) lost tasks */
  FAILED: 1,
  /** bad flags, bad input file, bad configuration, an order the DLQ rejected */
  USAGE: 2,
  /** Temporal cannot be reached */
  UNREACHABLE: 3,
  /** no such batch, no DLQ yet, no such schedule */
  NOT_FOUND: 4,
} as const;

const EXIT_HELP = `
Exit codes:
  0  ok
  1  the operation failed (a solve failed; a watched batch was cancelled, or lost tasks with --fail-on-dead-letters)
  2  bad usage or bad input (flags, task file, configuration, an order the DLQ rejected)
  3  cannot reach Temporal (TEMPORAL_ADDRESS, TLS settings)
  4  not found (no such batch, the DLQ has not started yet, no such schedule)

Configuration comes from the environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, DLQ_WORKFLOW_ID,
CAPTCHA_PROVIDER, CAPTCHA_API_KEY (worker only), … (see the README).`;

/** An error that knows its exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Session: configuration and one client, created on first use and closed at exit

interface GlobalOptions {
  identity: string;
}

class Session {
  private config?: Readonly<Config>;
  private client?: Client;
  private solverInstance?: CaptchaSolver;

  constructor(readonly identity: string) {}

  async settings(): Promise<Readonly<Config>> {
    if (!this.config) {
      const { loadConfig } = await import('../config');
      this.config = loadConfig();
    }
    return this.config;
  }

  async solver(): Promise<CaptchaSolver> {
    if (this.solverInstance) return this.solverInstance;
    const config = await this.settings();
    const [{ connectClient }, { CaptchaSolver }] = await Promise.all([import('../temporal'), import('../client')]);
    try {
      this.client = await connectClient(config, this.identity);
    } catch (err) {
      // TemporalUnreachableError: one sentence naming the address and what to do
      throw new CliError(message(err), EXIT.UNREACHABLE);
    }
    this.solverInstance = new CaptchaSolver(this.client, config);
    return this.solverInstance;
  }

  async close(): Promise<void> {
    await this.client?.connection.close().catch(() => undefined);
  }
}

/** Errors are told apart by name: the modules that define them load lazily. */
function isError(err: unknown, name: string): err is Error & { cause?: Error } {
  return err instanceof Error && err.name === name;
}

let session: Session | undefined;
function sessionOf(cmd: Command): Session {
  session ??= new Session((cmd.optsWithGlobals() as GlobalOptions).identity);
  return session;
}

// ---------------------------------------------------------------------------------------------------------------------
// Output helpers

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}
function note(line = ''): void {
  process.stderr.write(`${line}\n`);
}
function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

function table(head: string[] | undefined, rows: (string | number)[][]): string {
  const t = new Table({
    ...(head && { head }),
    style: { head: [], border: [] },
    // no rule between rows: compact, still aligned
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  t.push(...rows.map((r) => r.map((c) => String(c))));
  return t.toString();
}

function sortedCounts(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function pct(n: number, of: number): string {
  return of > 0 ? `${((100 * n) / of).toFixed(1)}%` : '-';
}

/** 65_000 → "1m05s" */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------------------------------
// Argument parsers (a bad value is a usage error: exit 2)

function intArg(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}.`);
    return n;
  };
}

function numberArg(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`must be a number from ${min} to ${max}.`);
    return n;
  };
}

/** Repeatable, comma-separated list: `--code A,B --code C` → [A, B, C]. */
function listArg<T extends string = string>(allowed?: readonly T[]) {
  return (value: string, previous: T[] | undefined): T[] => {
    const items = value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    if (items.length === 0) throw new InvalidArgumentError('must not be empty.');
    if (allowed) {
      const bad = items.filter((i) => !allowed.includes(i as T));
      if (bad.length) throw new InvalidArgumentError(`${bad.join(', ')}: must be one of ${allowed.join(', ')}.`);
    }
    return [...(previous ?? []), ...(items as T[])];
  };
}

/** An existing batch's id: bounded and printable (the rules for new ids are checked at `batch start`). */
function batchIdArg(value: string): string {
  if (value === '') throw new InvalidArgumentError('must not be empty.');
  if (value.length > 200) throw new InvalidArgumentError(`has ${value.length} characters: batch ids have at most 200.`);
  if (/\p{Cc}/u.test(value)) throw new InvalidArgumentError('must not contain control characters.');
  return value;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "1h30m", "90s", "2s", "500ms" → milliseconds. */
export function parseDurationMs(value: string): number | undefined {
  const text = value.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(n) * UNIT_MS[unit!]!;
  return total;
}

function intervalArg(minMs: number) {
  return (value: string): number => {
    const ms = parseDurationMs(value);
    if (ms === undefined) throw new InvalidArgumentError('must be a duration such as 30s, 15m, 1h or 1h30m.');
    if (ms < minMs) throw new InvalidArgumentError(`must be at least ${formatInterval(minMs)}.`);
    return ms;
  };
}

/** An ISO time, or a duration meaning "that long ago" (`24h`, `7d`). */
function timeArg(value: string): string {
  const ago = parseDurationMs(value);
  if (ago !== undefined) return new Date(Date.now() - ago).toISOString();
  const t = Date.parse(value);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(value.trim())) {
    throw new InvalidArgumentError('must be an ISO time (2025-01-31T12:00:00Z) or a duration ago (30m, 24h, 7d).');
  }
  return new Date(t).toISOString();
}

// ---------------------------------------------------------------------------------------------------------------------
// DLQ filters, shared by list, retry, discard, purge and export

interface FilterOptions {
  id?: string[];
  code?: string[];
  class?: FailureClass[];
  sitekey?: string[];
  batch?: string[];
  status?: DlqEntryStatus[];
  since?: string;
  until?: string;
}

function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--id <ids>', 'entry ids (repeatable, comma-separated)', listArg())
    .option('--code <codes>', 'error codes, e.g. ERROR_CAPTCHA_UNSOLVABLE,POLL_DEADLINE (repeatable)', listArg())
    .addOption(new Option('--class <classes>', `failure classes (${FAILURE_CLASSES.join(', ')})`).argParser(listArg(FAILURE_CLASSES)))
    .option('--sitekey <sitekeys>', 'sitekeys (repeatable, comma-separated)', listArg())
    .option('--batch <ids>', 'batch ids (repeatable, comma-separated)', listArg())
    .addOption(new Option('--status <statuses>', `entry statuses (${DLQ_ENTRY_STATUSES.join(', ')})`).argParser(listArg(DLQ_ENTRY_STATUSES)))
    .option('--since <time>', 'last failure at or after: ISO time or a duration ago (24h, 7d)', timeArg)
    .option('--until <time>', 'last failure before: ISO time or a duration ago', timeArg);
}

function filterOf(o: FilterOptions): DlqFilter {
  return {
    ...(o.id && { ids: o.id }),
    ...(o.code && { errorCodes: o.code }),
    ...(o.class && { classes: o.class }),
    ...(o.sitekey && { sitekeys: o.sitekey }),
    ...(o.batch && { batchIds: o.batch }),
    ...(o.status && { statuses: o.status }),
    ...(o.since && { since: o.since }),
    ...(o.until && { until: o.until }),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// The program


export function defaultIdentity(): string {
  let user = process.env.USER ?? process.env.USERNAME ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep the environment's name
  }
  return `${user}@${hostname()}`;
}

export function buildProgram(): Command {
  const program = new Command('captcha-dlq')
    .description('Durable CAPTCHA solving on Temporal: batches, one-off solves, the dead-letter queue and its scheduled drain.')
    .version(VERSION)
    .option('--identity <who>', 'who you are: the client identity and the "by" of DLQ orders in the audit log', defaultIdentity())
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText('afterAll', EXIT_HELP);

  addBatchCommands(program);
  addSolveCommand(program);
  addDlqCommands(program);
  addScheduleCommands(program);
  addStackCommands(program);
  return program;
}

// ---------------------------------------------------------------------------------------------------------------------
// batch

function addBatchCommands(program: Command): void {
  const batch = program.command('batch').description('start, watch, inspect and cancel batches');

  batch
    .command('start')
    .description(
      `start a batch from a task file (.json: an array or {"tasks": [...]}; .ndjson: a task a line; .csv: a header row with type,sitekey,pageUrl,key,… columns). ` +
        'Every task is validated first; a bad file names each bad line and field and starts nothing.',
    )
    .argument('<file>', 'the task file')
    .option('--batch-id <id>', 'the batch id: ≤ 200 letters, digits and . _ : @ - (default: batch-<date>-<random>); a running batch id attaches to it, an ended one is refused')
    .option('--concurrency <n>', 'solves in flight at most (default: BATCH_CONCURRENCY, 50)', intArg(1, 500))
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
    .description('close the circuit of a batch held by account errors (bad key, zero balance, banned IP), once the account is fixed')
    .argument('<batch-id>', 'the batch id', batchIdArg)
    .option('--reason <why>', 'why it is safe to resume (logged by the batch)')
    .action(async (id: string, o: { reason?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const solver = await s.solver();
      const { status } = await describeBatch(solver, id);
      if (status !== 'RUNNING') {
        out(`batch ${id} is ${status.toLowerCase()}: nothing to resume`);
        return;
      }
      const p = await solver.batch(id).resume(o.reason ?? `resumed by ${s.identity}`);
      out(`batch ${id} resumed: circuit ${p.circuit.open ? 'still open' : 'closed'}, ${p.solved + p.deadLettered + p.cancelled}/${p.total} done, ${p.inFlight} in flight`);
    });

  batch
    .command('results')
    .description('tokens solved lately (a batch keeps the freshest ones: tokens expire ~120 s after solving)')
    .argument('<batch-id>', 'the batch id', batchIdArg)
    .option('--cursor <n>', 'the sequence number of the last result already seen', intArg(0, Number.MAX_SAFE_INTEGER))
    .option('--limit <n>', 'results at most (≤ 500)', intArg(1, 500), 100)
    .option('--full', 'print whole tokens in the table')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { cursor?: number; limit: number; full?: boolean; json?: boolean }, cmd: Command) => {
      process.exitCode = await batchResults(await sessionOf(cmd).solver(), id, o);
    });
}

interface BatchStartOptions {
  batchId?: string;
  concurrency?: number;
  format?: string;
  source: 'auto' | 'inline' | 'file';
  watch?: boolean;
  failOnDeadLetters?: boolean;
  interval: number;
  json?: boolean;
}

async function batchStart(s: Session, file: string, o: BatchStartOptions): Promise<number> {
  const path = resolve(file);
  if (o.batchId !== undefined) {
    const [{ checkBatchId }, config] = await Promise.all([import('../domain/ids'), s.settings()]);
    checkBatchId(o.batchId, config.dlqWorkflowId); // InvalidIdError → exit 2, before anything is read or started
  }
  const [{ readTaskFile }, { INLINE_BATCH_LIMIT }] = await Promise.all([import('../tasks/files'), import('../client')]);
  const parsed = await readTaskFile(path, o.format); // TaskValidationError → exit 2, before anything is started
  const inline = o.source === 'inline' || (o.source === 'auto' && parsed.tasks.length <= INLINE_BATCH_LIMIT);
  if (o.source === 'inline' && parsed.tasks.length > INLINE_BATCH_LIMIT) {
    throw new CliError(`${parsed.tasks.length} tasks are too many to pass inline (≤ ${INLINE_BATCH_LIMIT}): use --source file`, EXIT.USAGE);
  }
  const solver = await s.solver();
  const started = await solver.startBatch({
    ...(o.batchId !== undefined && { batchId: o.batchId }),
    ...(o.concurrency && { concurrency: o.concurrency }),
    ...(inline ? { tasks: parsed.tasks } : { file: path, format: parsed.format }),
  });
  if (o.json && !o.watch) {
    printJson({ batchId: started.batchId, total: started.total, existing: started.existing, source: inline ? 'inline' : 'file' });
  } else {
    const say = o.json ? note : out;
    say(
      started.existing
        ? `batch ${started.batchId} is already running: not started again`
        : `started batch ${started.batchId}: ${started.total} tasks from ${file} (${parsed.format}, ${inline ? 'inline' : `by path ${path}`}), ` +
            `concurrency ${o.concurrency ?? solver.config.batchConcurrency}`,
    );
    if (!o.watch) say(`  watch it:  captcha-dlq batch watch ${started.batchId}`);
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
  while (!settled) {
    try {
      last = await batch.progress();
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

/** What the bar and the plain lines show: a progress answer, or a final summary. */
type Counts = Pick<BatchProgress, 'batchId' | 'status' | 'total' | 'solved' | 'deadLettered' | 'cancelled' | 'inFlight' | 'elapsedMs'> &
  Partial<Pick<BatchProgress, 'window' | 'circuit'>>;

/** " · circuit OPEN (ERROR_ZERO_BALANCE): …" while account errors hold the batch */
function circuitNote(p: Counts): string {
  if (!p.circuit?.open) return '';
  return ` · circuit OPEN (${p.circuit.code ?? 'account error'}): fix the account, then captcha-dlq batch resume ${p.batchId}`;
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
    ]),
  );
  if (summary.topErrors.length) out(table(['top errors', 'count'], summary.topErrors.map((e) => [e.code, e.count])));
  if (summary.deadLettered > 0) out(`the dead-lettered tasks:  captcha-dlq dlq list --batch ${summary.batchId}`);
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
        ['circuit', p.circuit.open ? `OPEN since ${p.circuit.openedAt ?? '?'} (${p.circuit.code ?? 'account errors'}): fix the account, then \`captcha-dlq batch resume ${batchId}\`` : 'closed'],
      ]),
    );
    if (p.topErrors.length) out(table(['top errors', 'count'], p.topErrors.map((e) => [e.code, e.count])));
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

async function batchResults(solver: CaptchaSolver, batchId: string, o: { cursor?: number; limit: number; full?: boolean; json?: boolean }): Promise<number> {
  await describeBatch(solver, batchId);
  const page = await solver.batch(batchId).results(o.cursor, o.limit);
  if (o.json) return printJson(page), EXIT.OK;
  if (page.results.length === 0) {
    out(`no results after cursor ${o.cursor ?? 0} (results kept from #${page.oldestKept})`);
    return EXIT.OK;
  }
  const token = (t: string): string => (o.full || t.length <= 40 ? t : `${t.slice(0, 40)}…`);
  out(table(['#', 'task', 'token', 'solved at', 'attempts'], page.results.map((r) => [r.seq, r.taskKey, token(r.token), r.solvedAt, r.attempts])));
  out(`next:  captcha-dlq batch results ${batchId} --cursor ${page.nextCursor}`);
  return EXIT.OK;
}

// ---------------------------------------------------------------------------------------------------------------------
// solve

/** The task's options come straight from flags of the same names (proxyType is checked by the task schema). */
interface SolveCliOptions extends Omit<CaptchaOptions, 'proxyType'> {
  type: CaptchaTask['type'];
  sitekey?: string;
  pageUrl?: string;
  image?: string;
  key?: string;
  proxyType?: string;
  deadLetter: boolean;
  json?: boolean;
}

function addSolveCommand(program: Command): void {
  program
    .command('solve')
    .description('solve one captcha and print its token (stdout); a final failure prints its class, code and attempts and exits 1')
    .addOption(new Option('--type <type>', 'captcha type').choices(CAPTCHA_TYPES).makeOptionMandatory())
    .option('--sitekey <key>', 'the sitekey (token captchas)')
    .option('--page-url <url>', 'the page the captcha is on (token captchas)')
    .option('--image <file>', 'the image file (type image)')
    .option('--key <key>', 'a task key (names the workflow: solve/<key>)')
    .option('--invisible', 'invisible reCAPTCHA')
    .option('--enterprise', 'reCAPTCHA Enterprise')
    .option('--action <action>', 'reCAPTCHA v3 / Turnstile action')
    .option('--min-score <score>', 'reCAPTCHA v3 minimum score (0.3, 0.7, 0.9)', numberArg(0, 1))
    .option('--data <data>', 'reCAPTCHA data-s / hCaptcha rqdata / Turnstile cData')
    .option('--page-data <data>', 'Turnstile pagedata')
    .option('--user-agent <ua>', 'user agent to solve with')
    .option('--proxy <proxy>', 'login:pass@host:port')
    .addOption(new Option('--proxy-type <type>').choices(['HTTP', 'HTTPS', 'SOCKS4', 'SOCKS5']))
    .option('--no-dead-letter', 'do not record a final failure in the DLQ')
    .option('--json', 'print the result (or the failure) as JSON')
    .action(async (o: SolveCliOptions, cmd: Command) => {
      process.exitCode = await solveOne(sessionOf(cmd), o);
    });
}

async function solveOne(s: Session, o: SolveCliOptions): Promise<number> {
  const options = {
    ...(o.invisible && { invisible: true }),
    ...(o.enterprise && { enterprise: true }),
    ...(o.action && { action: o.action }),
    ...(o.minScore !== undefined && { minScore: o.minScore }),
    ...(o.data && { data: o.data }),
    ...(o.pageData && { pageData: o.pageData }),
    ...(o.userAgent && { userAgent: o.userAgent }),
    ...(o.proxy && { proxy: o.proxy }),
    ...(o.proxyType && { proxyType: o.proxyType }),
  };
  let body: string | undefined;
  if (o.image) {
    try {
      body = (await readFile(o.image)).toString('base64');
    } catch (err) {
      throw new CliError(`cannot read --image ${o.image}: ${(err as NodeJS.ErrnoException).code ?? message(err)}`, EXIT.USAGE);
    }
  }
  const raw = {
    type: o.type,
    ...(o.sitekey !== undefined && { sitekey: o.sitekey }),
    ...(o.pageUrl !== undefined && { pageUrl: o.pageUrl }),
    ...(body !== undefined && { body }),
    ...(o.key !== undefined && { key: o.key }),
    ...(Object.keys(options).length && { options }),
  };
  const { parseTask } = await import('../tasks/schema');
  const task = parseTask(raw); // TaskValidationError → exit 2
  const solver = await s.solver();
  const started = Date.now();
  try {
    const result = await solver.solve(task, { deadLetter: o.deadLetter });
    if (o.json) printJson(result);
    else {
      out(result.token);
      note(
        `solved in ${formatDuration(Date.now() - started)}: ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}, ` +
          `${result.paidSubmits} paid submit${result.paidSubmits === 1 ? '' : 's'}` +
          `${result.possibleDuplicateSubmits ? ` (+ ${result.possibleDuplicateSubmits} possibly paid twice)` : ''}, provider task ${result.providerTaskId}`,
      );
    }
    return EXIT.OK;
  } catch (err) {
    if (!isError(err, 'CaptchaSolveError')) throw err;
    const failure = err as CaptchaSolveError;
    const d = failure.details;
    if (o.json) {
      printJson({ error: { failureClass: failure.failureClass, code: d?.code, message: failure.message, attempts: d?.attempts, paidSubmits: d?.paidSubmits, dlqEntryId: d?.dlqEntryId } });
    } else {
      note(
        `solve failed: ${failure.failureClass} ${d?.code ?? ''} after ${d?.attempts ?? '?'} attempt${d?.attempts === 1 ? '' : 's'} ` +
          `(${d?.paidSubmits ?? '?'} paid): ${failure.message}`,
      );
      if (d?.dlqEntryId) note(`dead-lettered as ${d.dlqEntryId}:  captcha-dlq dlq list --id ${d.dlqEntryId}`);
    }
    return EXIT.FAILED;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// dlq

function addDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('the dead-letter queue: stats, list, retry, discard, purge, audit, export');

  dlq
    .command('stats')
    .description('what failed and why: counts by status, error code, class, sitekey, UTC hour and batch; age; recoveries')
    .option('--top <n>', 'sitekeys to list', intArg(1, 1000), 10)
    .option('--json', 'print the stats as JSON (for scripts)')
    .action(async (o: { top: number; json?: boolean }, cmd: Command) => {
      const solver = await sessionOf(cmd).solver();
      const stats = await dlqCall(solver, () => solver.dlq().stats({ top: o.top }));
      if (o.json) printJson(stats);
      else printStats(solver.dlq().workflowId, stats);
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
      retry: 'solve the selected entries again (as new solves, at the DLQ\'s rate); on a bulk retry, parked and account-class entries are skipped',
      discard: 'remove the selected entries (counted as discarded)',
      purge: 'remove parked entries (those that reached the retry cap) among the selected',
    }[operation];
    addFilterOptions(dlq.command(operation).description(`${what}. Needs a filter or --all, and a --reason for the audit log`))
      .option('--all', 'act on every entry (the filter options still narrow)')
      .option('--dry-run', 'count what would be done; change nothing')
      .requiredOption('--reason <why>', 'why: recorded in the audit log with your identity')
      .option('--request-id <id>', 'makes a repeated order a no-op (default: a new id)')
      .option('--json', 'print the result as JSON')
      .action(async (o: FilterOptions & { all?: boolean; dryRun?: boolean; reason: string; requestId?: string; json?: boolean }, cmd: Command) => {
        const s = sessionOf(cmd);
        const filter = filterOf(o);
        if (!o.all && Object.keys(filter).length === 0) {
          throw new CliError(`name the entries to ${operation} with a filter (--code, --class, --batch, …) or pass --all`, EXIT.USAGE);
        }
        if (!o.reason.trim()) throw new CliError('--reason must say why', EXIT.USAGE);
        const solver = await s.solver();
        const request = {
          ...filter,
          ...(o.all && { all: true }),
          reason: o.reason,
          by: s.identity,
          requestId: o.requestId ?? `cli-${randomUUID()}`,
          dryRun: !!o.dryRun,
        };
        const dlq = solver.dlq();
        const result = await dlqCall(solver, () => dlq[operation](request));
        if (o.json) printJson(result);
        else printOperation(result, s.identity, o.reason);
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
      out(
        table(
          ['at', 'operation', 'by', 'reason', 'matched', 'skipped', 'selection', 'via'],
          records.map((r) => [r.at, r.operation, r.by, r.reason, r.matched, r.skipped ?? '', describeFilter(r.filter), r.via ?? '']),
        ),
      );
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
    ['id', 'status', 'class', 'code', 'sitekey / type', 'batch', 'attempts', 'DLQ retries', 'last failed'],
    entries.map((e) => [
      e.id,
      e.status,
      e.failureClass,
      e.code,
      e.task.sitekey ?? e.task.type,
      e.batchId ?? '-',
      `${e.attempts} (${e.paidSubmits} paid)`,
      e.dlqRetries,
      e.lastFailedAt,
    ]),
  );
}

function describeFilter(f: DlqFilter & { all?: boolean }): string {
  const parts = Object.entries(f)
    .filter(([, v]) => v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => (k === 'all' ? 'all' : `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`));
  return parts.join(' ') || 'all';
}

function printOperation(r: DlqOperationResult, by: string, reason: string): void {
  const verb = { retry: ['retry', 'retrying'], discard: ['discard', 'discarded'], purge: ['purge', 'purged'] }[r.operation];
  const n = `${r.matched} entr${r.matched === 1 ? 'y' : 'ies'}`;
  const skipped = r.skipped ? ` (${r.skipped} selected but skipped: parked, account-class or already retrying)` : '';
  if (r.dryRun) out(`dry run: would ${verb[0]} ${n}${skipped}; nothing changed`);
  else if (r.duplicate) out(`request ${r.requestId} was already applied: nothing done again (it matched ${n})`);
  else out(`${verb[1]} ${n}${skipped} · request ${r.requestId} · audited as by ${by}: "${reason}"`);
  if (r.sample.length) out(`  e.g. ${r.sample.slice(0, 5).join(', ')}${r.matched > 5 ? ', …' : ''}`);
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

// ---------------------------------------------------------------------------------------------------------------------
// schedule

function addScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('the scheduled drain: a Temporal Schedule that retries the retryable DLQ entries at an interval (overlap: skip)');

  schedule
    .command('create')
    .description(`create the drain schedule: every interval, retry the DLQ's ${DRAIN_DEFAULT_CLASSES.join(', ')} entries (parked and account-class entries are never retried by it)`)
    .requiredOption('--every <interval>', 'how often: 30s, 15m, 1h, 1h30m (≥ 1s)', intervalArg(1000))
    .option('--codes <codes>', 'only these error codes (repeatable, comma-separated)', listArg())
    .addOption(new Option('--classes <classes>', `failure classes to retry (default ${DRAIN_DEFAULT_CLASSES.join(',')})`).argParser(listArg(FAILURE_CLASSES)))
    .option('--id <schedule-id>', 'schedule id', DRAIN_SCHEDULE_ID)
    .option('--reason <why>', 'the reason recorded in the audit log at each run')
    .action(async (o: { every: number; codes?: string[]; classes?: FailureClass[]; id: string; reason?: string }, cmd: Command) => {
      const s = sessionOf(cmd);
      const solver = await s.solver();
      try {
        await solver.createDrainSchedule({
          everyMs: o.every,
          scheduleId: o.id,
          ...(o.classes && { classes: o.classes }),
          ...(o.codes && { errorCodes: o.codes }),
          ...(o.reason && { reason: o.reason }),
          by: s.identity,
        });
      } catch (err) {
        if (isError(err, 'ScheduleAlreadyRunning')) {
          throw new CliError(`schedule ${o.id} already exists: delete it first (captcha-dlq schedule delete --id ${o.id}) or pick another --id`, EXIT.FAILED);
        }
        throw err;
      }
      out(
        `created schedule ${o.id}: every ${formatInterval(o.every)}, retry the ${(o.classes ?? DRAIN_DEFAULT_CLASSES).join(', ')} entries` +
          `${o.codes ? ` with codes ${o.codes.join(', ')}` : ''} of ${solver.dlq().workflowId} (overlapping runs skipped)`,
      );
      out(`  run it now:  captcha-dlq schedule trigger --id ${o.id}`);
    });

  schedule
    .command('list')
    .description('the drain schedules')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const solver = await sessionOf(cmd).solver();
      const schedules = await solver.listDrainSchedules();
      if (o.json) return printJson(schedules);
      if (schedules.length === 0) return out('no drain schedule (create one: captcha-dlq schedule create --every 1h)');
      out(
        table(
          ['id', 'every', 'classes', 'codes', 'last run', 'next run', 'paused', 'created by'],
          schedules.map((d) => [
            d.scheduleId,
            d.every,
            d.classes.join(','),
            d.errorCodes.join(',') || '(any)',
            d.lastRunAt?.toISOString() ?? '-',
            d.nextRunAt?.toISOString() ?? '-',
            d.paused ? 'yes' : 'no',
            d.createdBy,
          ]),
        ),
      );
    });

  schedule
    .command('trigger')
    .description('run the drain now, once')
    .option('--id <schedule-id>', 'schedule id', DRAIN_SCHEDULE_ID)
    .action(async (o: { id: string }, cmd: Command) => {
      const solver = await sessionOf(cmd).solver();
      await scheduleCall(o.id, () => solver.drainSchedule(o.id).trigger());
      out(`schedule ${o.id} triggered`);
    });

  schedule
    .command('delete')
    .description('delete the drain schedule (runs already started finish)')
    .option('--id <schedule-id>', 'schedule id', DRAIN_SCHEDULE_ID)
    .action(async (o: { id: string }, cmd: Command) => {
      const solver = await sessionOf(cmd).solver();
      await scheduleCall(o.id, () => solver.drainSchedule(o.id).delete());
      out(`deleted schedule ${o.id}`);
    });
}

async function scheduleCall(id: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (isError(err, 'ScheduleNotFoundError')) throw new CliError(`no schedule ${id}`, EXIT.NOT_FOUND);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// worker, simulator, dev

/** The simulator knobs `dev` offers; `captcha-dlq simulator` takes every flag of src/simulator/main.ts. */
interface DevSimulatorOptions {
  simPort: number;
  timeScale: number;
  seed: number;
  chaos?: number;
  scenarios?: string;
  latency: number;
  unsolvableRate: number;
  rateLimits: boolean;
}

interface DevOptions extends DevSimulatorOptions {
  logLevel: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  port: number;
  uiPort: number;
  db: string;
  inMemory?: boolean;
}

async function devSimulatorOptions(o: DevSimulatorOptions, provider: string, dialects: readonly string[]) {
  let scenarios: Record<string, unknown> | undefined;
  if (o.scenarios) {
    try {
      scenarios = JSON.parse(await readFile(o.scenarios, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new CliError(`--scenarios ${o.scenarios}: ${message(err)}`, EXIT.USAGE);
    }
  }
  return {
    port: o.simPort,
    host: '127.0.0.1',
    timeScale: o.timeScale,
    seed: o.seed,
    latencyMs: o.latency,
    unsolvableRate: o.unsolvableRate,
    // the simulator speaks the configured provider's wire format (and JSON dialect)
    provider,
    ...(dialects.includes(provider) && { dialect: provider }),
    ...(!o.rateLimits && { rateLimits: { submitBurst: false, pollBudget: false } }),
    // --chaos wins over the file's chaos setting (as in src/simulator/main.ts)
    scenarios: { ...scenarios, ...(o.chaos !== undefined && { chaos: o.chaos }) },
  };
}

function addStackCommands(program: Command): void {
  program
    .command('worker')
    .description('run a worker (workflows and activities) until Ctrl-C; needs CAPTCHA_API_KEY')
    .action(async () => {
      const { main } = await import('../worker');
      try {
        await main();
      } catch (err) {
        // the worker's connection attempt has no deadline of its own and would hold the process for ~30 s more
        if (!isError(err, 'TemporalUnreachableError')) throw err;
        note(message(err));
        process.exit(EXIT.UNREACHABLE);
      }
    });

  // every flag of src/simulator/main.ts, passed through as they are: one parser, no drift (`simulator --help` is its usage)
  program
    .command('simulator')
    .description('run the provider simulator (in.php / res.php, the JSON createTask family, /admin/) until Ctrl-C; flags: `captcha-dlq simulator --help`')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[flags...]', 'the flags of src/simulator/main.ts (--port, --time-scale, --seed, --chaos, --scenarios, --provider, …)')
    .action(async (flags: string[]) => {
      process.argv = [process.argv[0]!, require.resolve('../simulator/main'), ...flags];
      await import('../simulator/main'); // parses process.argv, serves until SIGINT / SIGTERM, exits 2 on bad flags
    });

  program
    .command('dev')
    .description(
      'the whole local stack until Ctrl-C: a Temporal dev server persisted under .data/ with the Web UI and our search attributes, ' +
        'the provider simulator (speaking CAPTCHA_PROVIDER\'s protocol), and a worker pointed at both',
    )
    .option('--port <n>', 'Temporal gRPC port', intArg(1, 65535), 7233)
    .option('--ui-port <n>', 'Web UI port', intArg(1, 65535), 8233)
    .option('--db <file>', "the dev server's SQLite file", '.data/temporal.db')
    .option('--in-memory', 'no database file: everything is gone at exit')
    .option('--sim-port <n>', 'simulator port (0: any free one)', intArg(0, 65535), 0)
    .option('--time-scale <x>', 'multiply every simulated solve time by this', numberArg(0, 1000), 0.2)
    .option('--seed <n>', 'simulator random seed', intArg(0, 2 ** 31), 1)
    .option('--chaos <p>', 'probability of an injected transport fault per request', numberArg(0, 1))
    .option('--scenarios <file>', 'a JSON scenario script for the simulator (see src/simulator/scenarios.ts)')
    .option('--latency <ms>', 'added to every simulator answer', numberArg(0, 600_000), 0)
    .option('--unsolvable-rate <p>', 'share of tasks that end ERROR_CAPTCHA_UNSOLVABLE', numberArg(0, 1), 0)
    .option('--no-rate-limits', 'no simulated submit burst or poll budget limits')
    .addOption(new Option('--log-level <level>', "the worker's log level").choices(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'))
    .action(async (o: DevOptions, cmd: Command) => {
      await runDev(sessionOf(cmd), o);
    });
}

const DEV_API_KEY = 'devsimulator00000000000000000000';

async function runDev(s: Session, o: DevOptions): Promise<void> {
  const { loadConfig } = await import('../config');
  const base = loadConfig(); // a bad environment fails before anything starts
  const { startDevServer } = await import('../temporal-server');
  const { SEARCH_ATTRIBUTES } = await import('../domain/names');
  const { JSON_DIALECTS, startSimulator } = await import('../simulator/server');
  const { createProvider } = await import('../providers');
  const { createWorker } = await import('../worker');
  const { connectClient, connectWorker } = await import('../temporal');
  const { DefaultLogger, Runtime } = await import('@temporalio/worker');
  Runtime.install({ logger: new DefaultLogger(o.logLevel) });

  note(`starting Temporal dev server on 127.0.0.1:${o.port}${o.inMemory ? ' (in memory)' : ` (${o.db})`} …`);
  let server: Awaited<ReturnType<typeof startDevServer>>;
  try {
    server = await startDevServer({
      port: o.port,
      uiPort: o.uiPort,
      ...(!o.inMemory && { dbFile: resolve(o.db) }),
      namespace: base.temporal.namespace,
      searchAttributes: SEARCH_ATTRIBUTES,
    });
  } catch (err) {
    throw new CliError(`the dev server did not start: ${message(err)}\n(is another server on port ${o.port}? use --port / --ui-port)`, EXIT.FAILED);
  }
  const stops: (() => Promise<unknown>)[] = [() => server.stop()];
  try {
    const simulator = await startSimulator((await devSimulatorOptions(o, base.provider.name, JSON_DIALECTS)) as Parameters<typeof startSimulator>[0]);
    stops.unshift(() => simulator.close());
    // the simulator accepts any well-formed key (providers' keys are 32 characters)
    const apiKey = base.provider.apiKey ?? DEV_API_KEY;
    const config = loadConfig({
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      CAPTCHA_BASE_URL: simulator.url,
      CAPTCHA_API_KEY: apiKey,
    });
    const provider = createProvider({ ...config.provider, apiKey });
    stops.unshift(() => provider.close());
    const [connection, client] = await Promise.all([connectWorker(config), connectClient(config, `${s.identity} (dev worker)`)]);
    stops.unshift(() => client.connection.close(), () => connection.close());
    const worker = await createWorker({ config, connection, client, provider });
    out(
      [
        'captcha-dlq dev stack is up',
        `  Temporal   ${server.address} · namespace ${server.namespace}${o.inMemory ? ' · in memory' : ` · ${resolve(o.db)}`}`,
        `  Web UI     ${server.uiUrl ?? '(none)'}`,
        `  simulator  ${simulator.url} (time scale ${o.timeScale})`,
        `  worker     task queue ${config.temporal.taskQueue}`,
        `  search attributes: ${Object.keys(SEARCH_ATTRIBUTES).join(', ')}`,
        '',
        'In another terminal:',
        `  export TEMPORAL_ADDRESS=${server.address}`,
        '  captcha-dlq solve --type recaptcha-v2 --sitekey 6Le-demo-sitekey-0001 --page-url https://example.com/login',
        '  captcha-dlq dlq stats',
        '',
        'Ctrl-C stops everything.',
      ].join('\n'),
    );
    // the worker shuts down gracefully on SIGINT / SIGTERM (its default shutdown signals)
    await worker.run();
    note('stopping …');
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// main

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

/** The exit code of an error that escaped a command. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof CommanderError) {
    return ['commander.helpDisplayed', 'commander.version'].includes(err.code) ? EXIT.OK : EXIT.USAGE;
  }
  if (isError(err, 'ConfigError') || isError(err, 'TaskValidationError') || isError(err, 'InvalidIdError') || isError(err, 'WorkflowIdTakenError')) return EXIT.USAGE;
  if (isError(err, 'WorkflowNotFoundError') || isError(err, 'ScheduleNotFoundError')) return EXIT.NOT_FOUND;
  if (isError(err, 'TemporalUnreachableError') || isUnreachable(err)) return EXIT.UNREACHABLE;
  return EXIT.FAILED;
}

function isUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === 14) return true; // gRPC UNAVAILABLE
    if (/Failed to connect before the deadline|ECONNREFUSED/.test(message(e))) return true;
  }
  return false;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    const code = exitCodeOf(err);
    // commander has already printed its own errors and help
    if (!(err instanceof CommanderError)) {
      const plain = ['TaskValidationError', 'ConfigError', 'InvalidIdError', 'WorkflowIdTakenError', 'TemporalUnreachableError'].some((name) => isError(err, name));
      const prefix = err instanceof CliError || plain ? '' : 'error: ';
      note(`${prefix}${message(err)}`);
      if (code === EXIT.FAILED && process.env.CAPTCHA_DLQ_DEBUG && err instanceof Error) note(err.stack ?? '');
    }
    return code;
  } finally {
    await session?.close();
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
