// The CLI's rough edges a newcomer hit (issue 17, point 3) and its Temporal-style connection flags, as a user runs it:
// `node bin/captcha-dlq.js …` as a subprocess on a real dev server, with a real worker (in this process) talking to the
// provider simulator. A batch leaves two unsolvable entries (resubmit class) and one with a rejected sitekey
// (permanent class) in the DLQ; then:
//   - --address / --namespace / --profile / --config-file win over the environment, as the `temporal` CLI's do;
//   - `dlq list` shows type and a short message; a dry run needs no --reason and shows the selection by class; a bulk
//     retry leaves permanent-class entries out unless named; --class and --classes (--code, --codes) both work;
//   - a DLQ export (json and csv) starts a batch as it is;
//   - `batch results` marks expired tokens; `schedule pause` / `resume`; a non-terminal `batch watch` keeps its
//     elapsed time moving while nothing happens in the batch.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { BatchSummary, DlqOperationResult } from '../workflows/messages';
import { FAST_ENV, startStack, type Stack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';

if (!Runtime._instance) Runtime.install({ logger: new DefaultLogger((process.env.TEMPORAL_TEST_LOG_LEVEL as 'ERROR' | undefined) ?? 'ERROR') });

const BIN = resolve(__dirname, '../bin/captcha-dlq.js');
const SITE_OK = '6LeEDGESAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI';
const SITE_UNSOLVABLE = '6LeEDGESAAAAAJs_eEHvoOl75_83eXSqpPSRFJ_u';
const SITE_BADKEY = '6LeEDGESAAAAAPYrPe-HK_0RULO1aZM15ENyM-Mf';
const SITE_HANG = '6LeEDGESAAAAAIt_m-d24WG9mlw7KwhmpKDKvVsq';
const IDENTITY = 'tester@cli-edges';
const BATCH = 'edges-batch';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let t: TestEnv;
let stack: Stack;
let cliEnv: NodeJS.ProcessEnv;
let dir: string;
let stopWorker: () => void;
let workerDone: Promise<unknown>;

/** `env` over the test's environment; an undefined value unsets the variable. */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, '--identity', IDENTITY, ...args], { env: { ...cliEnv, ...env }, timeout: 90_000 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function expectCode(run: Run, code: number, what: string): void {
  assert.equal(run.code, code, `${what}: exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const task = (sitekey: string, key: string, page = 'https://example.com/login') => ({ type: 'recaptcha-v2', sitekey, pageUrl: page, key });

before(async () => {
  t = await startTestEnv();
  stack = await startStack(t, {
    name: 'cli-edges',
    simulator: {
      scenarios: {
        sitekeys: {
          [SITE_UNSOLVABLE]: { outcome: { type: 'unsolvable' as const, afterMs: 5 } },
          [SITE_BADKEY]: { submit: [{ type: 'error' as const, code: 'ERROR_WRONG_GOOGLEKEY' }] },
          [SITE_HANG]: { outcome: { type: 'never-ready' as const } },
        },
      },
    },
  });
  dir = await mkdtemp(join(tmpdir(), 'captcha-cli-edges-'));
  cliEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    TEMPORAL_ADDRESS: t.env.address,
    TEMPORAL_NAMESPACE: t.namespace,
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    DLQ_WORKFLOW_ID: stack.config.dlqWorkflowId,
    ...FAST_ENV,
  };
  const stopped = new Promise<void>((res) => {
    stopWorker = res;
  });
  workerDone = stack.run(() => stopped);
  const file = join(dir, 'tasks.json');
  await writeFile(file, JSON.stringify([task(SITE_OK, 'ok-1'), task(SITE_OK, 'ok-2'), task(SITE_UNSOLVABLE, 'lost-1'), task(SITE_UNSOLVABLE, 'lost-2'), task(SITE_BADKEY, 'bad-1')]));
  const run = await cli(['batch', 'start', file, '--batch-id', BATCH, '--watch', '--json', '--interval', '200ms']);
  expectCode(run, 0, 'the first batch');
  assert.deepEqual([(JSON.parse(run.stdout) as BatchSummary).solved, (JSON.parse(run.stdout) as BatchSummary).deadLettered], [2, 3]);
  await until('3 DLQ entries', async () => (await stack.solver.dlq().stats()).total === 3);
});

after(async () => {
  stopWorker?.();
  await workerDone?.catch(() => undefined);
  await stack?.close();
  await t?.teardown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

void describe('captcha-dlq CLI: connection flags and the rough edges', () => {
  void test('--address, --namespace, --profile and --config-file win over the environment, as the temporal CLI\'s do', async () => {
    const wrong = { TEMPORAL_ADDRESS: '127.0.0.1:9', TEMPORAL_NAMESPACE: 'no-such-namespace' };
    const flags = await cli(['--address', t.env.address, '--namespace', t.namespace, 'batch', 'status', BATCH, '--json'], wrong);
    expectCode(flags, 0, 'the flags before the command');
    assert.equal((JSON.parse(flags.stdout) as { workflowStatus: string }).workflowStatus, 'COMPLETED');
    const after = await cli(['batch', 'status', BATCH, '--address', t.env.address, '-n', t.namespace], wrong);
    expectCode(after, 0, 'the flags after the command');

    const toml = join(dir, 'temporal.toml');
    await writeFile(toml, `[profile.edges]\naddress = "${t.env.address}"\nnamespace = "${t.namespace}"\n`);
    const profile = await cli(['--config-file', toml, '--profile', 'edges', 'batch', 'status', BATCH], { TEMPORAL_ADDRESS: undefined, TEMPORAL_NAMESPACE: undefined });
    expectCode(profile, 0, 'a profile named by flags');
    assert.match(profile.stdout, new RegExp(`batch ${BATCH} completed`));
    const missing = await cli(['--config-file', toml, '--profile', 'nope', 'batch', 'status', BATCH]);
    expectCode(missing, 2, 'a profile not in the file');
    assert.match(missing.stderr, /profile "nope" \(--profile\) is not in .*temporal\.toml; its profiles: edges/);
    const unreachable = await cli(['--address', '127.0.0.1:9', 'batch', 'status', BATCH]);
    expectCode(unreachable, 3, '--address over a reachable TEMPORAL_ADDRESS');
    assert.match(unreachable.stderr, /cannot reach Temporal at 127\.0\.0\.1:9.*npx captcha-dlq dev/s);
  });

  void test('console: serves the DLQ on the CLI\'s connection flags; beyond loopback only with a token', async () => {
    const refused = await cli(['console', '--host', '0.0.0.0', '--port', '0']);
    expectCode(refused, 2, 'a non-loopback console without a token');
    assert.match(refused.stderr, /CONSOLE_HOST=0\.0\.0\.0 is beyond this machine: set CONSOLE_TOKEN/);
    const child = spawn(process.execPath, [BIN, '--address', t.env.address, 'console', '--port', '0'], { env: { ...cliEnv, TEMPORAL_ADDRESS: '127.0.0.1:9' } });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    try {
      const url = await until('the console to listen', async () => /captcha-dlq console on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1]);
      const stats = (await (await fetch(`${url}/api/stats`)).json()) as { numbers: { total: number } };
      assert.equal(stats.numbers.total, (await stack.solver.dlq().stats()).total);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, 'Ctrl-C stops it cleanly');
  });

  void test('dlq list: type and sitekey, and a short message, per entry', async () => {
    const run = await cli(['dlq', 'list', '--batch', BATCH]);
    expectCode(run, 0, 'dlq list');
    assert.match(run.stdout, /│ message\s+│ type \/ sitekey\s+│/);
    const row = run.stdout.split('\n').find((l) => l.includes(`${BATCH}/bad-1`));
    assert.ok(row, run.stdout);
    assert.match(row, new RegExp(`ERROR_WRONG_GOOGLEKEY\\s+│ \\S.{0,39}\\s+│ recaptcha-v2 ${SITE_BADKEY}`));
  });

  void test('a dry run needs no --reason and counts by class; a bulk retry leaves permanent-class entries out unless named', async () => {
    const dry = await cli(['dlq', 'retry', '--all', '--dry-run']);
    expectCode(dry, 0, 'retry --all --dry-run without --reason');
    assert.match(dry.stdout, /dry run: would retry 2 entries; 1 permanent-class entry left out .*--class permanent or --id\); nothing changed/);
    assert.match(dry.stdout, /selected, by class: resubmit 2 · permanent 1 \(cannot succeed as they are\)/);
    const asJson = JSON.parse((await cli(['dlq', 'retry', '--all', '--dry-run', '--json'])).stdout) as DlqOperationResult & { byClass: Record<string, number>; leftOut: { permanent: number } };
    assert.deepEqual([asJson.matched, asJson.byClass, asJson.leftOut], [2, { resubmit: 2, permanent: 1 }, { permanent: 1 }]);
    const named = JSON.parse((await cli(['dlq', 'retry', '--class', 'permanent', '--dry-run', '--json'])).stdout) as DlqOperationResult;
    assert.equal(named.matched, 1, 'named by class: retried');
    const byId = JSON.parse((await cli(['dlq', 'retry', '--id', `${BATCH}/bad-1`, '--dry-run', '--json'])).stdout) as DlqOperationResult;
    assert.equal(byId.matched, 1, 'named by id: retried');
    // one spelling everywhere: --classes and --codes as well as --class and --code
    const [classes, codes, discard] = await Promise.all([
      cli(['dlq', 'retry', '--classes', 'resubmit', '--dry-run', '--json']),
      cli(['dlq', 'list', '--codes', 'ERROR_WRONG_GOOGLEKEY', '--json']),
      cli(['dlq', 'discard', '--classes', 'permanent', '--dry-run']),
    ]);
    assert.equal((JSON.parse(classes.stdout) as DlqOperationResult).matched, 2);
    assert.deepEqual((JSON.parse(codes.stdout) as { entries: { id: string }[] }).entries.map((e) => e.id), [`${BATCH}/bad-1`]);
    expectCode(discard, 0, 'discard --dry-run without --reason');
    assert.match(discard.stdout, /dry run: would discard 1 entry; nothing changed/);
    const noReason = await cli(['dlq', 'discard', '--class', 'permanent']);
    expectCode(noReason, 2, 'a real discard without --reason');
    assert.match(noReason.stderr, /--reason is required to discard/);
    assert.equal((await stack.solver.dlq().stats()).total, 3, 'dry runs change nothing');
  });

  void test('a DLQ export, json or csv, starts a batch as it is', async () => {
    stack.sim.setScenarios({ sitekeys: { [SITE_UNSOLVABLE]: { outcome: { type: 'solve', afterMs: 5 } } } });
    const asJson = join(dir, 'failed.json');
    const asCsv = join(dir, 'failed.csv');
    expectCode(await cli(['dlq', 'export', '--code', 'ERROR_CAPTCHA_UNSOLVABLE', '--out', asJson]), 0, 'export json');
    expectCode(await cli(['dlq', 'export', '--code', 'ERROR_CAPTCHA_UNSOLVABLE', '--format', 'csv', '--out', asCsv]), 0, 'export csv');
    for (const [file, id] of [[asJson, 'edges-again-json'], [asCsv, 'edges-again-csv']] as const) {
      const run = await cli(['batch', 'start', file, '--batch-id', id, '--watch', '--json', '--interval', '200ms']);
      expectCode(run, 0, `batch start ${file}`);
      const summary = JSON.parse(run.stdout) as BatchSummary;
      assert.deepEqual([summary.total, summary.solved], [2, 2]);
      const results = JSON.parse((await cli(['batch', 'results', id, '--json'])).stdout) as { results: { taskKey: string }[] };
      assert.deepEqual(results.results.map((r) => r.taskKey).sort(), ['lost-1', 'lost-2'], 'keyed by the entries\' task keys');
    }
  });

  void test('batch results marks tokens older than the token lifetime as expired', async () => {
    const first = JSON.parse((await cli(['batch', 'results', BATCH, '--json'])).stdout) as { results: { solvedAt: string }[] };
    await until('the tokens to be over a second old', async () => first.results.every((r) => Date.now() - Date.parse(r.solvedAt) > 1500));
    const [short, long, table] = await Promise.all([
      cli(['batch', 'results', BATCH, '--json', '--token-ttl', '1s']),
      cli(['batch', 'results', BATCH, '--json', '--token-ttl', '1d']),
      cli(['batch', 'results', BATCH, '--token-ttl', '1s']),
    ]);
    const expired = (run: Run) => (JSON.parse(run.stdout) as { results: { expired: boolean }[] }).results.map((r) => r.expired);
    assert.deepEqual(expired(short), [true, true]);
    assert.deepEqual(expired(long), [false, false]);
    assert.equal((table.stdout.match(/EXPIRED/g) ?? []).length, 2, table.stdout);
    assert.match(table.stderr, /2 of these tokens are older than 1\.0s: expired/);
  });

  void test('schedule pause and resume (and create takes --class)', async () => {
    const id = 'edges-drain';
    const create = await cli(['schedule', 'create', '--every', '1h', '--id', id, '--class', 'resubmit', '--code', 'ERROR_CAPTCHA_UNSOLVABLE']);
    expectCode(create, 0, 'schedule create --class --code');
    assert.match(create.stdout, /retry the resubmit entries with codes ERROR_CAPTCHA_UNSOLVABLE/);
    const paused = async (): Promise<boolean | undefined> =>
      (JSON.parse((await cli(['schedule', 'list', '--json'])).stdout) as { scheduleId: string; paused: boolean }[]).find((s) => s.scheduleId === id)?.paused;
    const pause = await cli(['schedule', 'pause', '--id', id, '--reason', 'provider outage']);
    expectCode(pause, 0, 'schedule pause');
    assert.match(pause.stdout, new RegExp(`schedule ${id} paused: resume it with\\s+npx captcha-dlq schedule resume --id ${id}`));
    await until('the schedule to show paused', async () => (await paused()) === true, 20_000);
    const handle = await stack.solver.drainSchedule(id).describe();
    assert.match(handle.state.note ?? '', /provider outage \(tester@cli-edges\)/);
    expectCode(await cli(['schedule', 'resume', '--id', id]), 0, 'schedule resume');
    await until('the schedule to show running', async () => (await paused()) === false, 20_000);
    const missing = await cli(['schedule', 'pause', '--id', 'no-such-schedule']);
    expectCode(missing, 4, 'pausing a schedule that does not exist');
    expectCode(await cli(['schedule', 'delete', '--id', id]), 0, 'schedule delete');
  });

  void test('a non-terminal batch watch keeps its elapsed time moving while nothing happens in the batch', async () => {
    const file = join(dir, 'hang.json');
    await writeFile(file, JSON.stringify([task(SITE_HANG, 'h-1')]));
    const slow = { SOLVE_POLL_DEADLINE_MS: '600000' };
    expectCode(await cli(['batch', 'start', file, '--batch-id', 'edges-hang'], slow), 0, 'start a batch that hangs');
    const child = spawn(process.execPath, [BIN, 'batch', 'watch', 'edges-hang', '--interval', '300ms'], { env: cliEnv });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const elapsed = (): string[] => [...stderr.matchAll(/0\/1 done \(0%\).* in flight 1 · (\S+) elapsed/g)].map((m) => m[1]!);
    try {
      await until('four progress lines', async () => elapsed().length >= 4);
    } finally {
      await stack.solver.batch('edges-hang').cancel();
    }
    assert.equal(await exited, 1, 'a cancelled batch: exit 1');
    const seen = elapsed().slice(0, 4);
    assert.equal(new Set(seen).size, 4, `elapsed time stood still: ${seen.join(', ')}\n${stderr}`);
  });
});
