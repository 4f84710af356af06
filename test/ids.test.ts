// Workflow ids that could collide, and the errors a user meets before anything runs (issue 12, points 3 and 5):
//   - a batch that holds the DLQ's id never has its failures counted as dead-lettered (no DLQ holds them);
//   - `batch start` attaches to a running batch, and refuses (exit 2, naming what holds the id) a finished batch or a
//     workflow of another type; `dlq` commands refuse a DLQ_WORKFLOW_ID that is not a DLQ; nothing is changed;
//   - a bad --batch-id is refused before the server is asked; an unreachable or silent server gets one sentence.
// The CLI runs as a subprocess against a real dev server; a real worker (in this process) talks to the simulator.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { dlqStatsQuery, type BatchInput, type BatchSummary } from '../workflows/messages';
import { WORKFLOW_TYPES } from '../src/domain/names';
import { resolveSolvePolicy } from '../src/domain/policies';
import { startStack, type Stack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';
import { cliEnvOf, expectCode, runCli, type CliRun as Run } from './helpers/cli';

if (!Runtime._instance) Runtime.install({ logger: new DefaultLogger((process.env.TEMPORAL_TEST_LOG_LEVEL as 'ERROR' | undefined) ?? 'ERROR') });

const SITE_OK = '6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI';
const SITE_UNSOLVABLE = '6LfD3PIbAAAAAJs_eEHvoOl75_83eXSqpPSRFJ_u';
const SITE_HANG = '6Lf7UL0cAAAAAIt_m-d24WG9mlw7KwhmpKDKvVsq';
const SCENARIOS = {
  sitekeys: {
    [SITE_UNSOLVABLE]: { outcome: { type: 'unsolvable' as const, afterMs: 5 } },
    [SITE_HANG]: { outcome: { type: 'never-ready' as const } },
  },
};

let t: TestEnv;
let stack: Stack;
let cliEnv: NodeJS.ProcessEnv;
let dir: string;
let stopWorker: () => void;
let workerDone: Promise<unknown>;
let silent: Server;
const silentSockets = new Set<Socket>();

/** One clear sentence: a single line, no stack trace, no SDK or transport internals. */
function oneSentence(run: Run, what: string): void {
  const text = run.stderr.trim();
  assert.equal(text.split('\n').length, 1, `${what}: one line expected:\n${text}`);
  assert.doesNotMatch(text, /\n\s+at |tonic|Registered queries|did not register|Failed to start Workflow/, `${what}: ${text}`);
}

const task = (sitekey: string, key: string) => ({ type: 'recaptcha-v2', sitekey, pageUrl: 'https://example.com/login', key });

async function taskFile(name: string, tasks: unknown[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify(tasks));
  return file;
}

async function typeOf(workflowId: string): Promise<string | undefined> {
  try {
    return (await stack.client.workflow.getHandle(workflowId).describe()).type;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> => runCli(args, { env: { ...cliEnv, ...env }, identity: 'tester@ids-test' });


before(async () => {
  t = await startTestEnv();
  stack = await startStack(t, { name: 'ids', simulator: { scenarios: SCENARIOS } });
  dir = await mkdtemp(join(tmpdir(), 'captcha-ids-'));
  cliEnv = cliEnvOf(t, stack);
  const stopped = new Promise<void>((res) => {
    stopWorker = res;
  });
  workerDone = stack.run(() => stopped);
  // a server that accepts connections and never answers
  silent = createServer((socket) => {
    silentSockets.add(socket);
    socket.on('close', () => silentSockets.delete(socket));
  });
  await new Promise<void>((res) => silent.listen(0, '127.0.0.1', res));
});

after(async () => {
  stopWorker?.();
  await workerDone?.catch(() => undefined);
  for (const socket of silentSockets) socket.destroy();
  await new Promise((res) => silent?.close(res));
  await stack?.close();
  await t?.teardown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

void describe('workflow ids and start-up errors', () => {
  void test('a batch holding the DLQ id: its failures are not counted as dead-lettered, each says why, no DLQ starts', async () => {
    const dlqId = stack.config.dlqWorkflowId;
    // started by a raw client: the library refuses this id (next test)
    const tasks = [task(SITE_UNSOLVABLE, 'u-1'), task(SITE_UNSOLVABLE, 'u-2')];
    const input: BatchInput = {
      batchId: dlqId,
      source: { kind: 'inline', tasks: tasks as never },
      concurrency: 2,
      policy: resolveSolvePolicy(stack.config.solvePolicy),
      dlqWorkflowId: dlqId,
    };
    const handle = await stack.client.workflow.start(WORKFLOW_TYPES.batch, { workflowId: dlqId, taskQueue: stack.taskQueue, args: [input] });
    const summary = (await handle.result()) as BatchSummary;
    assert.equal(summary.deadLettered, 0, 'no DLQ holds them: not dead-lettered');
    assert.equal(summary.total, 2);
    for (const { key } of tasks) {
      const err = await stack.client.workflow.getHandle(`${dlqId}/${key}`).result().then(
        () => assert.fail('the solve should have failed'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError);
      const messages: string[] = [];
      for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) messages.push((e as Error).message);
      assert.ok(
        messages.some((m) => m.includes(`the DLQ's id "${dlqId}" is held by a running ${WORKFLOW_TYPES.batch}, not the DLQ: nothing was dead-lettered`)),
        messages.join(' | '),
      );
    }
    assert.equal(await typeOf(dlqId), WORKFLOW_TYPES.batch, 'the id still names the batch: no DLQ was started in its place');
  });

  void test('batch start under the DLQ id, or an id of another running type: exit 2, nothing started or signalled', async () => {
    const file = await taskFile('ok.json', [task(SITE_OK, 'ok-1')]);
    const freshDlq = `${stack.taskQueue}-fresh-dlq`;
    const reserved = await cli(['batch', 'start', file, '--batch-id', freshDlq], { DLQ_WORKFLOW_ID: freshDlq });
    expectCode(reserved, 2, 'the DLQ id as a batch id');
    oneSentence(reserved, 'the DLQ id as a batch id');
    assert.match(reserved.stderr, new RegExp(`the batch id "${freshDlq}" is the DLQ's id \\(DLQ_WORKFLOW_ID\\): pick another batch id`));
    assert.equal(await typeOf(freshDlq), undefined, 'nothing started under it');

    // a DLQ of another deployment runs under the id: the batch is refused, the DLQ is untouched
    const otherDlq = `${stack.taskQueue}-other-dlq`;
    await stack.client.workflow.start(WORKFLOW_TYPES.dlq, { workflowId: otherDlq, taskQueue: stack.taskQueue, args: [{}] });
    const before = await stack.client.workflow.getHandle(otherDlq).query(dlqStatsQuery, {});
    for (const json of [[], ['--json']]) {
      const run = await cli(['batch', 'start', file, '--batch-id', otherDlq, ...json]);
      expectCode(run, 2, `a batch under a running DLQ's id ${json.join('')}`);
      oneSentence(run, 'a batch under a running DLQ id');
      assert.match(run.stderr, new RegExp(`"${otherDlq}" is the id of a running ${WORKFLOW_TYPES.dlq}, not a batch: nothing was started`));
      assert.equal(run.stdout, '');
    }
    const after = await stack.client.workflow.getHandle(otherDlq).query(dlqStatsQuery, {});
    assert.equal(after.total, before.total);
    assert.equal(after.received ?? 0, before.received ?? 0);
    assert.equal(await typeOf(otherDlq), WORKFLOW_TYPES.dlq);
    assert.equal(await typeOf(`${otherDlq}/ok-1`), undefined, 'no task of the refused batch started');
  });

  void test('batch start tells the truth: a running batch is attached, a completed or cancelled one refused (exit 2)', async () => {
    const ok = await taskFile('done.json', [task(SITE_OK, 'd-1')]);
    const id = `${stack.taskQueue}-done`;
    expectCode(await cli(['batch', 'start', ok, '--batch-id', id, '--watch', '--interval', '200ms']), 0, 'the first run');
    for (const json of [[], ['--json']]) {
      const again = await cli(['batch', 'start', ok, '--batch-id', id, ...json]);
      expectCode(again, 2, `a completed batch started again ${json.join('')}`);
      oneSentence(again, 'a completed batch');
      assert.match(again.stderr, new RegExp(`batch "${id}" already ran and is completed: it is not started again; start the tasks as a new batch under another id`));
      assert.equal(again.stdout, '');
    }

    const hang = await taskFile('hang.json', [task(SITE_HANG, 'h-1')]);
    const running = `${stack.taskQueue}-running`;
    const slow = { SOLVE_POLL_DEADLINE_MS: '120000' };
    expectCode(await cli(['batch', 'start', hang, '--batch-id', running], slow), 0, 'start the batch');
    const attach = await cli(['batch', 'start', hang, '--batch-id', running, '--json'], slow);
    expectCode(attach, 0, 'start a running batch again');
    assert.equal((JSON.parse(attach.stdout) as { existing: boolean }).existing, true);
    expectCode(await cli(['batch', 'cancel', running, '--wait']), 0, 'cancel it');
    const cancelled = await cli(['batch', 'start', hang, '--batch-id', running], slow);
    expectCode(cancelled, 2, 'a cancelled batch started again');
    assert.match(cancelled.stderr, /already ran and is cancelled: it is not started again/);
    const summary = (await stack.client.workflow.getHandle(running).result()) as BatchSummary;
    assert.equal(summary.runs, 1, 'not run again');
  });

  void test('dlq commands against a workflow that is not a DLQ: exit 2 naming it and DLQ_WORKFLOW_ID; it is untouched', async () => {
    const file = await taskFile('not-dlq.json', [task(SITE_OK, 'n-1')]);
    const batchId = `${stack.taskQueue}-not-a-dlq`;
    expectCode(await cli(['batch', 'start', file, '--batch-id', batchId, '--watch', '--interval', '200ms']), 0, 'a batch');
    const expected = new RegExp(`"${batchId}" is a ${WORKFLOW_TYPES.batch} \\(completed\\), not the DLQ: check DLQ_WORKFLOW_ID`);
    for (const args of [['dlq', 'stats'], ['dlq', 'list'], ['dlq', 'audit'], ['dlq', 'retry', '--all', '--reason', 'typo test']]) {
      const run = await cli(args, { DLQ_WORKFLOW_ID: batchId });
      expectCode(run, 2, args.join(' '));
      oneSentence(run, args.join(' '));
      assert.match(run.stderr, expected, args.join(' '));
    }
    const summary = (await stack.client.workflow.getHandle(batchId).result()) as BatchSummary;
    assert.deepEqual([summary.solved, summary.runs], [1, 1]);
  });

  void test('--batch-id empty, too long or malformed: exit 2 with one sentence, before the server is asked', async () => {
    const file = await taskFile('bad-id.json', [task(SITE_OK, 'b-1')]);
    // an unreachable address: a refusal that needed the server would exit 3
    const nowhere = { TEMPORAL_ADDRESS: '127.0.0.1:9' };
    const cases: [string, RegExp][] = [
      ['', /the batch id is empty: give a non-empty id, or none for a generated one/],
      ['x'.repeat(2_000), /the batch id "x{60}…" has 2000 characters: at most 200 are allowed/],
      ['a/b', /the batch id "a\/b" may contain only letters, digits and \. _ : @ -/],
      ['bell\u0007', /the batch id "bell\\u0007" may contain only letters/],
    ];
    for (const [id, message] of cases) {
      const run = await cli(['batch', 'start', file, '--batch-id', id], nowhere);
      expectCode(run, 2, `--batch-id ${JSON.stringify(id.slice(0, 20))}`);
      oneSentence(run, 'a bad batch id');
      assert.match(run.stderr, message);
    }
    // the commands that take an existing batch's id bound it too
    for (const command of ['status', 'watch', 'cancel', 'resume', 'results']) {
      const run = await cli(['batch', command, 'x'.repeat(2_000)], nowhere);
      expectCode(run, 2, `batch ${command} with a 2,000-character id`);
      assert.match(run.stderr, /has 2000 characters: batch ids have at most 200\./);
    }
  });

  void test('an unreachable or silent server: one sentence naming the address and the variable (worker and client), exit 3', async () => {
    const key = { CAPTCHA_API_KEY: 'abcdefabcdefabcdefabcdefabcdefab' };
    for (const args of [['worker'], ['dlq', 'stats']]) {
      const refused = await cli(args, { ...key, TEMPORAL_ADDRESS: '127.0.0.1:9' });
      expectCode(refused, 3, `${args.join(' ')}: refused`);
      oneSentence(refused, `${args.join(' ')}: refused`);
      assert.match(refused.stderr, /^cannot reach Temporal at 127\.0\.0\.1:9 \(namespace \S+\): connection refused; is the server running\? Set TEMPORAL_ADDRESS/);

      const address = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const quiet = await cli(args, { ...key, TEMPORAL_ADDRESS: address, TEMPORAL_CONNECT_TIMEOUT_MS: '1000' });
      expectCode(quiet, 3, `${args.join(' ')}: silent`);
      oneSentence(quiet, `${args.join(' ')}: silent`);
      assert.match(quiet.stderr, new RegExp(`^cannot reach Temporal at ${address.replace(/\./g, '\\.')} \\(namespace \\S+\\): no answer within 1 s \\(TEMPORAL_CONNECT_TIMEOUT_MS\\)`));
    }
  });
});

