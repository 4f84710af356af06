// The DLQ against forgery and blocking (issue 12, point 4), on a real server with a real worker: snapshots only from the
// DLQ's own shards and an operator reset of a shard's contribution (update and CLI), oversized arguments rejected in a
// sentence without blocking the workflow, mistyped signal names counted, the deployment's settings on every start, and
// a state-size alert delivered exactly once per crossing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowUpdateFailedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { deadLetterQueueWorkflow } from '../workflows/dlq';
import { dlqShardOf, dlqShardWorkflowId } from '../src/domain/dlq-routing';
import { deadLetterSignal, dlqDiscardUpdate, dlqListQuery, dlqResetShardUpdate, dlqRetryUpdate, dlqShardSnapshotSignal, dlqStatsQuery, type DlqInput, type DlqShardSnapshot, type DlqStats } from '../workflows/messages';
import { WORKFLOW_TYPES } from '../src/domain/names';
import type { DeadLetterReport } from '../src/domain/types';
import { FAST_ENV, withStack as withTestStack, type Stack, type StackOptions } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

const SITE_FAIL = '6LfD3PIbAAAAAJs_eEHvoOl75_83eXSqpPSRFJ_u';
const SCENARIOS = { sitekeys: { [SITE_FAIL]: { outcome: { type: 'unsolvable' as const, afterMs: 5 } } } };

async function withStack<T>(name: string, fn: (s: Stack) => Promise<T>, options: Partial<StackOptions> = {}): Promise<T> {
  return withTestStack(env, { name, simulator: { scenarios: SCENARIOS }, ...options, env: { SOLVE_MAX_RESUBMITS: '0', ...options.env } }, fn);
}

type DlqHandle = WorkflowHandleWithFirstExecutionRunId<typeof deadLetterQueueWorkflow>;

function startDlq(s: Stack, settings: DlqInput = {}, workflowId = s.config.dlqWorkflowId): Promise<DlqHandle> {
  return s.client.workflow.start<typeof deadLetterQueueWorkflow>(WORKFLOW_TYPES.dlq, {
    workflowId,
    taskQueue: s.taskQueue,
    args: [{ solvePolicy: s.config.solvePolicy, ...settings }],
  });
}

function report(prefix: string, i: number, o: { padding?: number } = {}): DeadLetterReport {
  const key = `task-${String(i).padStart(5, '0')}`;
  const failedAt = new Date().toISOString();
  return {
    entryId: `${prefix}/b1/${key}`,
    task: { type: 'recaptcha-v2', sitekey: SITE_FAIL, pageUrl: `https://shop.example.com/p/${i}?${'q'.repeat(o.padding ?? 0)}`, key },
    taskKey: key,
    batchId: 'b1',
    provider: 'captchaai',
    failureClass: 'resubmit',
    code: 'ERROR_CAPTCHA_UNSOLVABLE',
    message: 'ERROR_CAPTCHA_UNSOLVABLE: could not be solved',
    attempts: 1,
    paidSubmits: 1,
    providerTaskIds: [String(500 + i)],
    history: [],
    failedAt,
  };
}

function forged(workflowId: string, shard: number, seq: number, total: number): DlqShardSnapshot {
  return {
    workflowId,
    shard,
    seq,
    asOf: new Date().toISOString(),
    total,
    byStatus: { dead: total, retrying: 0, parked: 0 },
    byCode: { FORGED_CODE: total },
    byClass: { permanent: total },
    bySitekey: { forged: total },
    byHour: { '00': total },
    byBatch: {},
    oldestFailedAt: '2020-01-01T00:00:00.000Z',
    recovered: 0,
    discarded: 0,
    purged: 0,
    paidSubmitsOnDead: 0,
    retriesInFlight: 0,
    retriesQueued: 0,
    received: 0,
    duplicateReports: 0,
  };
}

async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 1500)} ${lastError ? String(lastError).slice(0, 500) : ''}`);
    await sleep(100);
  }
}

const stats = (h: { query: DlqHandle['query'] }): Promise<DlqStats> => h.query(dlqStatsQuery, {});

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof WorkflowUpdateFailedError, `expected an update rejection, got ${String(err).slice(0, 300)}`);
    return String(err.cause?.message ?? err.message);
  }
  assert.fail('the update was accepted');
}

async function failedWorkflowTasks(h: DlqHandle): Promise<number> {
  const history = await h.fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes).length;
}

function runCli(args: string[], s: Stack): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = resolve(__dirname, '../bin/captcha-dlq.js');
  const cliEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_NAMESPACE: env.namespace,
    TEMPORAL_TASK_QUEUE: s.taskQueue,
    DLQ_WORKFLOW_ID: s.config.dlqWorkflowId,
    ...FAST_ENV,
  };
  return new Promise((res) => {
    execFile(process.execPath, [bin, '--identity', 'tester@guard', ...args], { env: cliEnv, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

void describe('DLQ: forged and blocking messages', () => {
  void test('a well-formed snapshot from a shard that does not exist changes nothing', async () => {
    await withStack('guard-forge', async (s) => {
      const dlq = await startDlq(s, {});
      await dlq.signal(dlqShardSnapshotSignal, forged(`${dlq.workflowId}/shard-7`, 7, 1, 1_000_000));
      // a snapshot claiming to be shard 0 (the front itself), or naming an id outside the DLQ, is no better
      await dlq.signal(dlqShardSnapshotSignal, forged(`${dlq.workflowId}/shard-0`, 0, 1, 1_000_000));
      await dlq.signal(dlqShardSnapshotSignal, forged('somebody-else/shard-1', 1, 1, 1_000_000));
      await dlq.signal(deadLetterSignal, report('guard-forge', 1)); // signals arrive in order: this one is the barrier
      const st = await eventually('the report', () => stats(dlq), (x) => x.received === 1);
      assert.equal(st.total, 1);
      assert.deepEqual(st.byCode, { ERROR_CAPTCHA_UNSOLVABLE: 1 });
      assert.deepEqual(st.alerts, []);
      assert.equal(st.shards, undefined);
      assert.deepEqual(st.unknownSignals, { count: 0, lastName: null });
    });
  });

  void test('a shard whose contribution is wrong is reset by an operator (update and CLI); its next snapshot counts again', async () => {
    await withStack('guard-reset', async (s) => {
      const front = s.config.dlqWorkflowId;
      const dlq = await startDlq(s, { shardCount: 2, snapshotIntervalMs: 100 });
      const shard1 = dlqShardWorkflowId(front, 1);
      // a snapshot under shard 1's own name with a seq no real shard reaches for ages: it would shadow every real one
      await dlq.signal(dlqShardSnapshotSignal, forged(shard1, 1, 1_000_000_000, 5_000));
      await eventually('the forged contribution', () => stats(dlq), (x) => x.total === 5_000);

      const bad = await rejection(dlq.executeUpdate(dlqResetShardUpdate, { args: [{ shard: 9, reason: 'wrong' }] }));
      assert.match(bad, /shard 9/);
      const reset = await dlq.executeUpdate(dlqResetShardUpdate, { args: [{ shard: 1, reason: 'forged snapshot' }] });
      assert.deepEqual([reset.workflowId, reset.removedTotal], [shard1, 5_000]);
      let st = await stats(dlq);
      assert.equal(st.total, 0);
      assert.equal(st.byCode.FORGED_CODE, undefined);

      // the real shard's next snapshot (seq 1) counts again
      const i = Array.from({ length: 50 }, (_, n) => n).find((n) => dlqShardOf(2, report('guard-reset', n).entryId) === 1)!;
      const r = report('guard-reset', i);
      await s.client.workflow.signalWithStart(WORKFLOW_TYPES.dlq, {
        workflowId: shard1,
        taskQueue: s.taskQueue,
        args: [{ shardCount: 2, snapshotIntervalMs: 100, role: 'shard', front, shard: 1 }],
        signal: deadLetterSignal,
        signalArgs: [r],
      });
      st = await eventually('the shard counted again', () => stats(dlq), (x) => x.total === 1);
      assert.deepEqual(st.byCode, { ERROR_CAPTCHA_UNSOLVABLE: 1 });

      // the CLI: forge again, reset by `dlq reset-shard`
      await dlq.signal(dlqShardSnapshotSignal, forged(shard1, 1, 2_000_000_000, 7_000));
      await eventually('the forged contribution again', () => stats(dlq), (x) => x.total === 7_000);
      const run = await runCli(['dlq', 'reset-shard', '1', '--reason', 'forged again', '--json'], s);
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
      assert.equal((JSON.parse(run.stdout) as { removedTotal: number }).removedTotal, 7_000);
      const usage = await runCli(['dlq', 'reset-shard', '0', '--reason', 'x'], s);
      assert.equal(usage.code, 2, `${usage.stdout}\n${usage.stderr}`);
      assert.equal((await stats(dlq)).byCode.FORGED_CODE, undefined);
    });
  });

  void test('oversized arguments (a 3 MB reason, a huge filter, a huge field name) are refused in one short sentence and block nothing', async () => {
    await withStack('guard-size', async (s) => {
      const dlq = await startDlq(s, {});
      await dlq.signal(deadLetterSignal, report('guard-size', 1));
      await eventually('the report', () => stats(dlq), (x) => x.total === 1);
      const huge = 'r'.repeat(3_000_000);
      // over 2 MiB the SDK cannot even deliver a rejection (it quotes the request): our client refuses to send it
      await assert.rejects(async () => s.solver.dlq().discard({ all: true, reason: huge }), (err: Error) => err.name === 'DlqRequestTooLargeError' && err.message.length <= 300 && /"reason"/.test(err.message));
      const run = await runCli(['dlq', 'discard', '--all', '--reason', huge.slice(0, 120_000)], s);
      assert.equal(run.code, 2, `${run.stdout}\n${run.stderr.slice(0, 500)}`);
      assert.ok(run.stderr.length < 1_000 && /at most 100,000/.test(run.stderr), run.stderr.slice(0, 500));
      const messages = [
        await rejection(dlq.executeUpdate(dlqDiscardUpdate, { args: [{ all: true, reason: huge.slice(0, 1_500_000) }] })),
        await rejection(dlq.executeUpdate(dlqRetryUpdate, { args: [{ errorCodes: Array.from({ length: 5_000 }, (_, i) => `CODE_${i}_${'x'.repeat(300)}`) }] })),
        await rejection(dlq.executeUpdate(dlqRetryUpdate, { args: [{ all: true, [huge.slice(0, 1_000_000)]: 1 } as never] })),
        await rejection(dlq.executeUpdate(dlqRetryUpdate, { args: [{ ids: Array.from({ length: 2_000 }, (_, i) => `id-${i}`) }] })),
      ];
      for (const m of messages) assert.ok(m.length <= 400, `a rejection of ${m.length} characters: ${m.slice(0, 200)}`);
      assert.match(messages[0]!, /reason/);
      assert.match(messages[1]!, /errorCodes/);
      // the query argument too, and the signal: ignored, the state intact
      await assert.rejects(dlq.query(dlqListQuery, { batchIds: [huge.slice(0, 1_500_000)] }), (err: Error) => err.message.length <= 600 && /batchIds/.test(err.message));
      await dlq.signal(deadLetterSignal, { ...report('guard-size', 2), batchId: huge.slice(0, 1_500_000) });
      await dlq.signal(deadLetterSignal, report('guard-size', 3));
      await eventually('the next report', async () => (await dlq.query(dlqListQuery, {})).entries.map((e) => e.id), (ids) => ids.includes(report('guard-size', 3).entryId));
      const st = await stats(dlq);
      assert.equal(st.total, 2, 'the oversized report was recorded');
      // nothing blocked: a valid order goes through at once, and no workflow task ever failed
      const ok = await dlq.executeUpdate(dlqDiscardUpdate, { args: [{ all: true, reason: 'cleanup', dryRun: true }] });
      assert.equal(ok.matched, 2);
      assert.equal(await failedWorkflowTasks(dlq), 0);
    });
  });

  void test('a signal with a mistyped name is logged and counted in stats', async () => {
    await withStack('guard-typo', async (s) => {
      const dlq = await startDlq(s, {});
      await dlq.signal('retryAll', { all: true });
      await dlq.signal('retyr', { all: true });
      await dlq.signal(deadLetterSignal, report('guard-typo', 1));
      const st = await eventually('the report', () => stats(dlq), (x) => x.received === 1);
      assert.deepEqual(st.unknownSignals, { count: 2, lastName: 'retyr' });
    });
  });

  void test('a DLQ front first started by a shard snapshot runs on the deployment settings', async () => {
    const deployment = { DLQ_SHARD_COUNT: '2', DLQ_SOFT_LIMIT: '2', DLQ_RETRY_CAP: '1' };
    await withStack(
      'guard-settings',
      async (s) => {
        const front = s.config.dlqWorkflowId;
        // tasks whose entries all live on shard 1: the front is started by the shard's snapshot, never by a report
        const batchId = 'settings-batch';
        const keys = Array.from({ length: 200 }, (_, i) => `k${i}`).filter((k) => dlqShardOf(2, `${batchId}/${k}`) === 1).slice(0, 3);
        const tasks = keys.map((key, i) => ({ type: 'recaptcha-v2' as const, sitekey: SITE_FAIL, pageUrl: `https://shop.example.com/p/${i}`, key }));
        const { handle } = await s.solver.startBatch({ batchId, tasks, concurrency: 3 });
        const summary = await handle.result();
        assert.equal(summary.deadLettered, 3);
        const dlq = s.client.workflow.getHandle(front);
        const st = await eventually('the shard snapshot at the front', () => stats(dlq as DlqHandle), (x) => x.total === 3, 60_000);
        assert.deepEqual(
          st.alerts.map((a) => [a.kind, a.threshold]),
          [['depth', 2]],
          'the front did not run on the deployment soft limit',
        );
      },
      { env: deployment },
    );
  });

  void test('a state-size alert raised as the DLQ continues as new is delivered, once per crossing', async () => {
    const received: { kind: string; threshold: number }[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body) as (typeof received)[number]);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((ok) => hook.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
    try {
      await withStack(
        'guard-state-size',
        async (s) => {
          const dlq = await startDlq(s, { stateSizeAlertChars: 20_000, maxMessagesPerRun: 40 });
          const runs = async () => {
            let n = 0;
            for await (const _ of s.client.workflow.list({ query: `WorkflowId = '${dlq.workflowId}'` })) n++;
            return n;
          };
          let sent = 0;
          const send = async (n: number) => {
            for (const end = sent + n; sent < end; ) await dlq.signal(deadLetterSignal, report('guard-state-size', sent++, { padding: 900 }));
          };
          // entries of ~1 KB: the state passes 20,000 characters at the first continue-as-new and stays above it
          await send(60);
          await eventually('the first continue-as-new', runs, (n) => n >= 2);
          await eventually('the state-size alert at the webhook', async () => received.filter((a) => a.kind === 'state-size').length, (n) => n >= 1);
          await send(60);
          await eventually('a second continue-as-new', runs, (n) => n >= 3);
          await eventually('every entry', () => stats(dlq), (x) => x.total === sent);
          assert.deepEqual(
            received.filter((a) => a.kind === 'state-size').map((a) => a.threshold),
            [20_000],
            'one alert for one crossing',
          );
          const st = await stats(dlq);
          assert.deepEqual(st.alerts.filter((a) => a.kind === 'state-size').length, 1);
        },
        { env: { ALERT_WEBHOOK_URL: url } },
      );
    } finally {
      hook.close();
    }
  });
});
