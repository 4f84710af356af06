// The CLI as a user runs it: `node bin/captcha-dlq.js …` as a subprocess, with the environment pointing at a real dev
// server, and a real worker (in this process) on a unique task queue talking to the provider simulator. Batches from
// JSON, NDJSON and CSV files, bad files and bad flags, watch/status/results/cancel, solve, the DLQ commands (stats,
// list with filters and paging, retry/discard with --dry-run and the required --reason, export in three formats,
// audit) and the scheduled drain (create → it fires on its own → delete).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { DlqAuditRecord, DlqEntry, DlqListPage, DlqStats, BatchSummary, DlqOperationResult } from '../workflows/messages';
import { SENTINEL_KEY, startStack, type Stack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';
import { cliEnvOf, expectCode, runCli, until, type CliRun as Run } from './helpers/cli';

// expected failures (unsolvable captchas, cancelled solves) would log warnings by the dozen
if (!Runtime._instance) Runtime.install({ logger: new DefaultLogger((process.env.TEMPORAL_TEST_LOG_LEVEL as 'ERROR' | undefined) ?? 'ERROR') });


const SITE_OK = '6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI';
const SITE_UNSOLVABLE = '6LfD3PIbAAAAAJs_eEHvoOl75_83eXSqpPSRFJ_u';
const SITE_BADKEY = '6LcBADKEYAAAAPYrPe-HK_0RULO1aZM15ENyM-Mf';
const SITE_HANG = '6Lf7UL0cAAAAAIt_m-d24WG9mlw7KwhmpKDKvVsq';
const SITE_DRAIN = '6LdDRAINAAAAAJs_eEHvoOl75_83eXSqpPSRFJ_u';
const IDENTITY = 'tester@cli-test';

const SCENARIOS = {
  sitekeys: {
    [SITE_UNSOLVABLE]: { outcome: { type: 'unsolvable' as const, afterMs: 5 } },
    [SITE_DRAIN]: { outcome: { type: 'unsolvable' as const, afterMs: 5 } },
    [SITE_BADKEY]: { submit: [{ type: 'error' as const, code: 'ERROR_WRONG_GOOGLEKEY' }] },
    [SITE_HANG]: { outcome: { type: 'never-ready' as const } },
  },
};

let t: TestEnv;
let stack: Stack;
let cliEnv: NodeJS.ProcessEnv;
let dir: string;
let stopWorker: () => void;
let workerDone: Promise<unknown>;
/** started first: it waits out the client's 10 s connect deadline while the other tests run */
let unreachable: Promise<Run>;

function json<T>(run: Run): T {
  return JSON.parse(run.stdout) as T;
}

const task = (sitekey: string, key: string, page = 'https://example.com/login') => ({ type: 'recaptcha-v2', sitekey, pageUrl: page, key });

/** Runs the CLI as a subprocess; not a terminal (plain progress lines) unless `tty`: then inside script(1)'s pty. */
const cli = (args: string[], env: Record<string, string> = {}, tty = false): Promise<Run> =>
  runCli(args, { env: { ...cliEnv, ...env }, identity: IDENTITY, tty });


before(async () => {
  t = await startTestEnv();
  stack = await startStack(t, { name: 'cli', simulator: { scenarios: SCENARIOS } });
  dir = await mkdtemp(join(tmpdir(), 'captcha-cli-'));
  cliEnv = cliEnvOf(t, stack);
  const stopped = new Promise<void>((res) => {
    stopWorker = res;
  });
  workerDone = stack.run(() => stopped);
  unreachable = cli(['batch', 'status', 'x'], { TEMPORAL_ADDRESS: '127.0.0.1:9' });
});

after(async () => {
  stopWorker?.();
  await workerDone?.catch(() => undefined);
  await stack?.close();
  await t?.teardown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

void describe('captcha-dlq CLI', () => {
  const jsonBatch = 'cli-json-batch';

  void test('--help everywhere, with the exit codes', async () => {
    const top = await cli(['--help']);
    expectCode(top, 0, '--help');
    for (const word of ['batch', 'solve', 'dlq', 'schedule', 'worker', 'simulator', 'dev', 'Exit codes:', '4  not found']) {
      assert.ok(top.stdout.includes(word), `--help lacks ${word}:\n${top.stdout}`);
    }
    const sub = await cli(['dlq', 'export', '--help']);
    expectCode(sub, 0, 'dlq export --help');
    assert.match(sub.stdout, /--format <format>.*\n?.*json.*ndjson.*csv/s);
    assert.match(sub.stdout, /3 {2}cannot reach Temporal/);
  });

  void test('bad flags exit 2 and say what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['batch', 'start', 'x.json', '--concurrency', 'zero'], /--concurrency.*must be an integer from 1 to 500/],
      [['dlq', 'list', '--class', 'weird'], /weird: must be one of transient/],
      [['dlq', 'retry', '--code', 'ERROR_CAPTCHA_UNSOLVABLE'], /--reason is required to retry: it goes into the audit log \(a --dry-run needs none\)/],
      [['schedule', 'create', '--every', 'often'], /--every.*duration such as/],
      [['solve', '--sitekey', SITE_OK], /required option '--type <type>'/],
      [['nope'], /unknown command 'nope'/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    runs.forEach((run, i) => {
      expectCode(run, 2, cases[i]![0].join(' '));
      assert.match(run.stderr, cases[i]![1]);
    });
  });

  void test('a bad task file names the line and field, exits 2 and starts nothing', async () => {
    const ndjson = join(dir, 'bad.ndjson');
    await writeFile(ndjson, [JSON.stringify(task(SITE_OK, 'a')), '', JSON.stringify({ type: 'recaptcha-v2', sitekey: SITE_OK, pageUrl: 'ftp://x' }), '{oops'].join('\n'));
    const csv = join(dir, 'bad.csv');
    await writeFile(csv, `type,sitekey,pageUrl,key\nrecaptcha-v2,${SITE_OK},https://example.com,a\nrecaptcha-v9,${SITE_OK},https://example.com,b\nrecaptcha-v2,short,https://example.com,c\n`);
    const jsonFile = join(dir, 'bad.json');
    await writeFile(jsonFile, JSON.stringify([task(SITE_OK, 'a'), { ...task(SITE_OK, 'b'), extra: 1 }]));
    const [n, c, j, missing] = await Promise.all([
      cli(['batch', 'start', ndjson, '--batch-id', 'never-a']),
      cli(['batch', 'start', csv, '--batch-id', 'never-b']),
      cli(['batch', 'start', jsonFile, '--batch-id', 'never-c']),
      cli(['batch', 'start', join(dir, 'missing.json')]),
    ]);
    expectCode(n, 2, 'bad ndjson');
    assert.match(n.stderr, /line 4: \(line\): not JSON/); // a line that is not JSON stops the parse there
    expectCode(c, 2, 'bad csv');
    assert.match(c.stderr, /line 3: type: type must be one of/);
    assert.match(c.stderr, /line 4: sitekey: must be a sitekey/);
    expectCode(j, 2, 'bad json');
    // JSON has items, not lines: the second task is item 1 (as its default key would be)
    assert.match(j.stderr, /item 1: \(task\): .*extra|item 1: .*extra/i);
    assert.doesNotMatch(j.stderr, /line \d/);
    expectCode(missing, 2, 'missing file');
    assert.match(missing.stderr, /cannot read .*missing\.json \(ENOENT\)/);
    const status = await cli(['batch', 'status', 'never-a']);
    expectCode(status, 4, 'status of a batch that was never started');
    assert.match(status.stderr, /no batch never-a/);
  });

  void test('batch start from JSON --watch: plain progress lines, the summary, exit 1 with --fail-on-dead-letters', async () => {
    const file = join(dir, 'tasks.json');
    await writeFile(
      file,
      JSON.stringify([task(SITE_OK, 'ok-1'), task(SITE_OK, 'ok-2'), task(SITE_OK, 'ok-3'), task(SITE_UNSOLVABLE, 'lost-1'), task(SITE_BADKEY, 'bad-1', 'https://shop.example.com/')]),
    );
    const run = await cli(['batch', 'start', file, '--batch-id', jsonBatch, '--concurrency', '3', '--watch', '--fail-on-dead-letters', '--interval', '200ms']);
    expectCode(run, 1, 'a batch with dead letters and --fail-on-dead-letters');
    assert.match(run.stdout, new RegExp(`started batch ${jsonBatch}: 5 tasks`));
    assert.match(run.stdout, new RegExp(`batch ${jsonBatch} completed in`));
    assert.match(run.stdout, /solved\s+│ 3 \(60\.0%\)/);
    assert.match(run.stdout, /dead-lettered\s+│ 2 \(40\.0%\)/);
    assert.match(run.stdout, /ERROR_CAPTCHA_UNSOLVABLE\s+│ 1/);
    assert.match(run.stdout, new RegExp(`dlq list --batch ${jsonBatch}`));
    // not a terminal: plain periodic lines on stderr, the last one final
    assert.match(run.stderr, new RegExp(`\\] ${jsonBatch}: 5/5 done \\(100%\\) · solved 3 · dead-lettered 2`));

    const again = await cli(['batch', 'watch', jsonBatch, '--json']);
    expectCode(again, 0, 'watching a finished batch (no --fail-on-dead-letters)');
    const summary = json<BatchSummary>(again);
    assert.deepEqual([summary.status, summary.total, summary.solved, summary.deadLettered], ['completed', 5, 3, 2]);
  });

  void test('batch start from NDJSON, then watch, status and results', async () => {
    const file = join(dir, 'tasks.ndjson');
    await writeFile(file, `${[1, 2, 3, 4].map((i) => JSON.stringify(task(SITE_OK, `n-${i}`))).join('\n')}\n`);
    const start = await cli(['batch', 'start', file, '--batch-id', 'cli-ndjson', '--json']);
    expectCode(start, 0, 'batch start ndjson');
    assert.deepEqual(json(start), { batchId: 'cli-ndjson', total: 4, existing: false, source: 'inline' });

    // in a terminal: the live bar (█ solved, ▒ dead-lettered, ░ to do), then the summary
    const watch = await cli(['batch', 'watch', 'cli-ndjson', '--interval', '200ms'], {}, true);
    expectCode(watch, 0, 'batch watch in a terminal');
    assert.match(watch.stdout, new RegExp(`cli-ndjson █{30} 100% 4/4 \\| solved 4 · dead-lettered 0`));
    assert.match(watch.stdout, /batch cli-ndjson completed/);
    assert.match(watch.stdout, /solved\s+│ 4 \(100\.0%\)/);

    const status = await cli(['batch', 'status', 'cli-ndjson', '--json']);
    expectCode(status, 0, 'batch status');
    const s = json<{ workflowStatus: string; summary: BatchSummary }>(status);
    assert.equal(s.workflowStatus, 'COMPLETED');
    assert.equal(s.summary.solved, 4);

    const results = await cli(['batch', 'results', 'cli-ndjson', '--json']);
    expectCode(results, 0, 'batch results');
    const page = json<{ results: { seq: number; taskKey: string; token: string }[]; nextCursor: number }>(results);
    assert.deepEqual(page.results.map((r) => r.taskKey).sort(), ['n-1', 'n-2', 'n-3', 'n-4']);
    assert.ok(page.results.every((r) => r.token.length > 20));
    const second = page.results[1]!.seq;
    const rest = await cli(['batch', 'results', 'cli-ndjson', '--cursor', String(second)]);
    expectCode(rest, 0, 'batch results --cursor');
    assert.equal((rest.stdout.match(/│ n-\d/g) ?? []).length, 2, rest.stdout);
    // hints name the program as a clone runs it (`captcha-dlq` alone is not on PATH there)
    assert.match(rest.stdout, /next:\s+npx captcha-dlq batch results cli-ndjson --cursor \d+/);
  });

  void test('batch start from CSV --watch --json; cancel a running batch', async () => {
    const file = join(dir, 'tasks.csv');
    await writeFile(file, `type,sitekey,pageUrl,key,invisible\nrecaptcha-v2,${SITE_OK},https://example.com/a,c-1,true\nrecaptcha-v2,${SITE_OK},https://example.com/b,c-2,\n`);
    const run = await cli(['batch', 'start', file, '--batch-id', 'cli-csv', '--watch', '--json', '--interval', '200ms']);
    expectCode(run, 0, 'batch start csv --watch');
    const summary = json<BatchSummary>(run);
    assert.deepEqual([summary.total, summary.solved], [2, 2]);

    // tasks that never become ready, with a long poll deadline: the batch is running when we cancel it
    const hang = join(dir, 'hang.json');
    await writeFile(hang, JSON.stringify([1, 2, 3].map((i) => task(SITE_HANG, `h-${i}`))));
    const slow = { SOLVE_POLL_DEADLINE_MS: '120000' };
    expectCode(await cli(['batch', 'start', hang, '--batch-id', 'cli-cancel', '--concurrency', '1'], slow), 0, 'start the batch to cancel');
    const running = await cli(['batch', 'status', 'cli-cancel']);
    expectCode(running, 0, 'status of a running batch');
    assert.match(running.stdout, /batch cli-cancel running: 0\/3 done/);
    const cancel = await cli(['batch', 'cancel', 'cli-cancel', '--wait']);
    expectCode(cancel, 0, 'batch cancel --wait');
    assert.match(cancel.stdout, /cancellation of batch cli-cancel requested/);
    assert.match(cancel.stdout, /batch cli-cancel cancelled/);
    const watched = await cli(['batch', 'watch', 'cli-cancel']);
    expectCode(watched, 1, 'watching a cancelled batch');
    const again = await cli(['batch', 'cancel', 'cli-cancel']);
    expectCode(again, 0, 'cancel a finished batch');
    assert.match(again.stdout, /already completed: nothing to cancel/);
  });

  void test('solve: the token, or the failure with class, code and attempts (exit 1)', async () => {
    const [ok, failed, invalid] = await Promise.all([
      cli(['solve', '--type', 'recaptcha-v2', '--sitekey', SITE_OK, '--page-url', 'https://example.com/login']),
      cli(['solve', '--type', 'recaptcha-v2', '--sitekey', SITE_UNSOLVABLE, '--page-url', 'https://example.com/signup', '--key', 'cli-solve-lost']),
      cli(['solve', '--type', 'recaptcha-v2', '--sitekey', SITE_OK, '--page-url', 'not a url']),
    ]);
    expectCode(ok, 0, 'solve');
    assert.match(ok.stdout.trim(), /^\S{20,}$/);
    assert.match(ok.stderr, /solved in .*1 paid submit/);
    expectCode(failed, 1, 'a failed solve');
    assert.match(failed.stderr, /solve failed: resubmit ERROR_CAPTCHA_UNSOLVABLE after \d+ attempts \(3 paid\)/);
    assert.match(failed.stderr, /dead-lettered as solve\/cli-solve-lost:\s+npx captcha-dlq dlq list --id solve\/cli-solve-lost/);
    expectCode(invalid, 2, 'an invalid task');
    assert.match(invalid.stderr, /pageUrl: must be an http\(s\) URL/);
  });

  void test('dlq stats: readable tables and --json', async () => {
    const run = await cli(['dlq', 'stats', '--json']);
    expectCode(run, 0, 'dlq stats --json');
    const stats = json<DlqStats>(run);
    assert.equal(stats.total, 3);
    assert.deepEqual(stats.byCode, { ERROR_CAPTCHA_UNSOLVABLE: 2, ERROR_WRONG_GOOGLEKEY: 1 });
    assert.deepEqual(stats.byClass, { resubmit: 2, permanent: 1 });
    assert.equal(stats.byBatch[jsonBatch], 2);

    const tables = await cli(['dlq', 'stats']);
    expectCode(tables, 0, 'dlq stats');
    for (const heading of ['by error code', 'by failure class', 'top sitekeys', 'by UTC hour of the last failure', 'by batch', 'parked (retry cap reached)', 'paid submits']) {
      assert.ok(tables.stdout.includes(heading), `stats lack "${heading}":\n${tables.stdout}`);
    }
    assert.match(tables.stdout, /ERROR_CAPTCHA_UNSOLVABLE\s+│ 2\s+│ 66\.7%/);
    assert.match(tables.stdout, new RegExp(`${SITE_UNSOLVABLE}\\s+│ 2`));
    const hour = new Date().toISOString().slice(11, 13);
    assert.match(tables.stdout, new RegExp(`${hour}:00\\s+│ 3`));

    const none = await cli(['dlq', 'stats'], { DLQ_WORKFLOW_ID: 'no-such-dlq' });
    expectCode(none, 4, 'stats of a DLQ that never started');
    assert.match(none.stderr, /no-such-dlq.*is not running/);
  });

  void test('dlq list with filters and paging', async () => {
    const [byCode, byClass, byBatchAndSitekey, byStatusAndTime] = await Promise.all([
      cli(['dlq', 'list', '--code', 'ERROR_CAPTCHA_UNSOLVABLE', '--since', '10m', '--json']),
      cli(['dlq', 'list', '--class', 'permanent,account', '--json']),
      cli(['dlq', 'list', '--batch', jsonBatch, '--sitekey', SITE_UNSOLVABLE, '--sitekey', SITE_OK, '--json']),
      cli(['dlq', 'list', '--status', 'dead', '--until', '10m', '--json']),
    ]);
    const ids = (run: Run) => json<DlqListPage>(run).entries.map((e) => e.id).sort();
    assert.deepEqual(ids(byCode), [`${jsonBatch}/lost-1`, 'solve/cli-solve-lost']);
    assert.deepEqual(ids(byClass), [`${jsonBatch}/bad-1`]);
    assert.deepEqual(ids(byBatchAndSitekey), [`${jsonBatch}/lost-1`]);
    assert.deepEqual(ids(byStatusAndTime), []);

    const first = await cli(['dlq', 'list', '--limit', '2']);
    expectCode(first, 0, 'dlq list --limit 2');
    assert.match(first.stdout, /2 shown · 3 match in /);
    const cursor = /add --cursor (\S+)/.exec(first.stdout)?.[1];
    assert.ok(cursor, first.stdout);
    const second = await cli(['dlq', 'list', '--limit', '2', '--cursor', cursor]);
    expectCode(second, 0, 'dlq list --cursor');
    assert.match(second.stdout, /1 shown/);
    assert.doesNotMatch(second.stdout, /add --cursor/);
    const shown = (run: Run) => (run.stdout.match(/│ (cli-json-batch\/\S+|solve\/\S+)/g) ?? []).map((m) => m.slice(2));
    assert.deepEqual([...shown(first), ...shown(second)].sort(), [`${jsonBatch}/bad-1`, `${jsonBatch}/lost-1`, 'solve/cli-solve-lost']);
  });

  void test('dlq export: json (an array), ndjson and csv, page by page', async () => {
    const out = join(dir, 'dlq.json');
    const [asJson, asNdjson, asCsv, filtered] = await Promise.all([
      cli(['dlq', 'export', '--format', 'json', '--out', out, '--page-size', '1']),
      cli(['dlq', 'export', '--format', 'ndjson', '--page-size', '2']),
      cli(['dlq', 'export', '--format', 'csv']),
      cli(['dlq', 'export', '--code', 'ERROR_WRONG_GOOGLEKEY']),
    ]);
    expectCode(asJson, 0, 'export json');
    assert.match(asJson.stderr, /exported 3 entries to .*dlq\.json \(json\)/);
    const array = JSON.parse(await readFile(out, 'utf8')) as DlqEntry[];
    assert.ok(Array.isArray(array));
    assert.deepEqual(array.map((e) => e.code).sort(), ['ERROR_CAPTCHA_UNSOLVABLE', 'ERROR_CAPTCHA_UNSOLVABLE', 'ERROR_WRONG_GOOGLEKEY']);
    assert.ok(array.every((e) => e.attempts >= 1 && e.task.type === 'recaptcha-v2' && e.firstFailedAt));

    expectCode(asNdjson, 0, 'export ndjson');
    const lines = asNdjson.stdout.trim().split('\n').map((l) => JSON.parse(l) as DlqEntry);
    assert.deepEqual(lines.map((e) => e.id).sort(), array.map((e) => e.id).sort());

    expectCode(asCsv, 0, 'export csv');
    const rows = asCsv.stdout.trim().split('\n');
    assert.equal(rows[0], 'id,status,failureClass,code,message,type,sitekey,pageUrl,batchId,taskKey,provider,attempts,paidSubmits,dlqRetries,firstFailedAt,lastFailedAt');
    assert.equal(rows.length, 4);
    assert.ok(rows.some((r) => r.startsWith(`${jsonBatch}/bad-1,dead,permanent,ERROR_WRONG_GOOGLEKEY,`) && r.includes(`,${SITE_BADKEY},https://shop.example.com/,${jsonBatch},bad-1,`)), asCsv.stdout);

    expectCode(filtered, 0, 'export with a filter');
    assert.deepEqual((JSON.parse(filtered.stdout) as DlqEntry[]).map((e) => e.id), [`${jsonBatch}/bad-1`]);
    assert.equal(SENTINEL_KEY.length > 0 && (asJson.stdout + asNdjson.stdout + asCsv.stdout).includes(SENTINEL_KEY), false);
  });

  void test('dlq retry and discard: a filter or --all, --dry-run counts, --reason required, then they act', async () => {
    const noFilter = await cli(['dlq', 'discard', '--reason', 'cleanup']);
    expectCode(noFilter, 2, 'discard without a filter');
    assert.match(noFilter.stderr, /with a filter .* or pass --all/);

    const dryRetry = await cli(['dlq', 'retry', '--code', 'ERROR_CAPTCHA_UNSOLVABLE', '--dry-run', '--reason', 'provider fixed', '--json']);
    expectCode(dryRetry, 0, 'retry --dry-run');
    const dry = json<DlqOperationResult>(dryRetry);
    assert.deepEqual([dry.operation, dry.dryRun, dry.matched], ['retry', true, 2]);
    const dryAll = await cli(['dlq', 'retry', '--all', '--dry-run', '--reason', 'how many?']);
    expectCode(dryAll, 0, 'retry --all --dry-run');
    // the permanent-class entry (a rejected sitekey) is left out of a bulk retry unless named
    assert.match(dryAll.stdout, /dry run: would retry 2 entries; 1 permanent-class entry left out .*; nothing changed/);

    const dryDiscard = await cli(['dlq', 'discard', '--class', 'permanent', '--dry-run', '--reason', 'wrong sitekey']);
    expectCode(dryDiscard, 0, 'discard --dry-run');
    assert.match(dryDiscard.stdout, /dry run: would discard 1 entry; nothing changed/);
    assert.equal((await stack.solver.dlq().stats()).total, 3, 'a dry run changes nothing');

    // the provider now solves that sitekey: the retry recovers both entries
    stack.sim.setScenarios({ sitekeys: { [SITE_UNSOLVABLE]: { outcome: { type: 'solve', afterMs: 5 } } } });
    const retry = await cli(['dlq', 'retry', '--code', 'ERROR_CAPTCHA_UNSOLVABLE', '--reason', 'provider fixed']);
    expectCode(retry, 0, 'retry');
    assert.match(retry.stdout, new RegExp(`retrying 2 entries · request cli-\\S+ · audited as by ${IDENTITY}: "provider fixed"`));
    const discard = await cli(['dlq', 'discard', '--class', 'permanent', '--reason', 'wrong sitekey']);
    expectCode(discard, 0, 'discard');
    assert.match(discard.stdout, /discarded 1 entry/);

    await until('the retries to recover', async () => (await stack.solver.dlq().stats()).recovered === 2);
    const stats = json<DlqStats>(await cli(['dlq', 'stats', '--json']));
    assert.deepEqual([stats.total, stats.recovered, stats.discarded], [0, 2, 1]);
  });

  void test('dlq audit: who, why, when and how many', async () => {
    const run = await cli(['dlq', 'audit', '--json']);
    expectCode(run, 0, 'dlq audit');
    const records = json<DlqAuditRecord[]>(run);
    const real = records.filter((r) => r.by === IDENTITY);
    const retry = real.find((r) => r.operation === 'retry' && r.reason === 'provider fixed');
    const discard = real.find((r) => r.operation === 'discard' && r.reason === 'wrong sitekey');
    assert.ok(retry && discard, JSON.stringify(records, null, 2));
    assert.equal(retry.matched, 2);
    assert.deepEqual(retry.filter.errorCodes, ['ERROR_CAPTCHA_UNSOLVABLE']);
    assert.equal(discard.matched, 1);
    assert.ok(Date.parse(retry.at) <= Date.parse(discard.at));
    const table = await cli(['dlq', 'audit']);
    expectCode(table, 0, 'dlq audit table');
    // what became of the retried entries, per order: both recovered, none failed, none in flight
    assert.deepEqual([retry.inFlight, retry.outcomes?.recovered, retry.outcomes?.failed], [0, 2, 0]);
    assert.match(table.stdout, new RegExp(`retry\\s+│ ${IDENTITY}\\s+│ provider fixed\\s+│ 2\\s+│ 0\\s+│ 0\\s+│ 2\\s+│ 0\\s+│`));
    assert.match(table.stdout, /errorCodes=ERROR_CAPTCHA_UNSOLVABLE/);
  });

  void test('schedule create → it fires on its own and retries the retryable entries → delete', async () => {
    // a fresh retryable entry (resubmit class) for the drain to retry
    const lost = await cli(['solve', '--type', 'recaptcha-v2', '--sitekey', SITE_DRAIN, '--page-url', 'https://example.com/drain', '--key', 'cli-drain']);
    expectCode(lost, 1, 'a solve that fails');
    stack.sim.setScenarios({ sitekeys: { [SITE_DRAIN]: { outcome: { type: 'solve', afterMs: 5 } } } });

    const id = 'cli-drain-schedule';
    const create = await cli(['schedule', 'create', '--every', '2s', '--id', id, '--codes', 'ERROR_CAPTCHA_UNSOLVABLE']);
    expectCode(create, 0, 'schedule create');
    assert.match(create.stdout, new RegExp(`created schedule ${id}: every 2s, retry the transient, resubmit, timeout entries with codes ERROR_CAPTCHA_UNSOLVABLE`));
    assert.match(create.stdout, new RegExp(`run it now:\\s+npx captcha-dlq schedule trigger --id ${id}`));
    const dup = await cli(['schedule', 'create', '--every', '2s', '--id', id]);
    expectCode(dup, 1, 'a second schedule with the same id');
    assert.match(dup.stderr, new RegExp(`already exists: delete it first \\(npx captcha-dlq schedule delete --id ${id}\\)`));

    // no trigger: the schedule fires on its own within its 2 s interval
    const by = `schedule:${id} (created by ${IDENTITY})`;
    await until('the scheduled drain to retry the entry', async () => (await stack.solver.dlq().audit()).some((r) => r.by === by && r.matched === 1));
    await until('the drained entry to be recovered', async () => (await stack.solver.dlq().stats()).recovered === 3);
    const record = json<DlqAuditRecord[]>(await cli(['dlq', 'audit', '--json'])).find((r) => r.by === by && r.matched === 1);
    assert.ok(record);
    assert.deepEqual([record.operation, record.filter.classes, record.filter.errorCodes], ['retry', ['transient', 'resubmit', 'timeout'], ['ERROR_CAPTCHA_UNSOLVABLE']]);

    await until('the schedule to be visible', async () => (await stack.solver.listDrainSchedules()).some((s) => s.scheduleId === id), 15_000);
    const listed = json<{ scheduleId: string; every: string; createdBy: string }[]>(await cli(['schedule', 'list', '--json'])).find((s) => s.scheduleId === id);
    assert.deepEqual([listed?.every, listed?.createdBy], ['2s', IDENTITY]);
    const trigger = await cli(['schedule', 'trigger', '--id', id]);
    expectCode(trigger, 0, 'schedule trigger');

    expectCode(await cli(['schedule', 'delete', '--id', id]), 0, 'schedule delete');
    const gone = await cli(['schedule', 'delete', '--id', id]);
    expectCode(gone, 4, 'deleting it again');
    assert.match(gone.stderr, new RegExp(`no schedule ${id}`));
  });

  void test('cannot reach Temporal: exit 3', async () => {
    const run = await unreachable;
    expectCode(run, 3, 'unreachable server');
    assert.match(run.stderr, /cannot reach Temporal at 127\.0\.0\.1:9/);
  });
});
