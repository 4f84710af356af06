// Batches through the real pipeline: fan-out window, conservation of every task, continue-as-new with children in
// flight, idempotent start, cancel, and input validation.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { WORKFLOW_TYPES } from '../src/domain/names';
import { TaskValidationError } from '../src/tasks/schema';
import { resolveTemporalCli } from '../src/dev/temporal-cli';
import { dlqStatsQuery } from '../workflows/messages';
import { allDlqEntries, withStack as withTestStack, type Stack, type StackOptions } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';

let env: TestEnv;
before(async () => {
  // low thresholds so that continue-as-new happens in the suite, not only at production scale
  env = await startTestEnv({ dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 400 } });
});
after(async () => {
  await env?.teardown();
});

const withStack = <T>(options: StackOptions, fn: (s: Stack) => Promise<T>): Promise<T> => withTestStack(env, options, fn);

const recaptcha = (sitekey: string, i: number) => ({ type: 'recaptcha-v2', sitekey, pageUrl: `https://example.com/page/${i}`, key: `t${i}` });

/** Each task's child workflow status, read from the workflow itself (visibility lags). */
async function childStatuses(s: Stack, batchId: string, tasks: { key: string }[]): Promise<string[]> {
  return Promise.all(
    tasks.map((t) =>
      s.client.workflow
        .getHandle(`${batchId}/${t.key}`)
        .describe()
        .then((d) => d.status.name as string, () => 'not started'),
    ),
  );
}

function signalNames(history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>): string[] {
  return (history.events ?? []).flatMap((e) => (e.workflowExecutionSignaledEventAttributes ? [e.workflowExecutionSignaledEventAttributes.signalName ?? ''] : []));
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

describe('batch', () => {
  test('the window never exceeds the configured concurrency (the simulator gauge)', async () => {
    await withStack({ name: 'window', simulator: { timeScale: 0.003 } }, async (s) => {
      const tasks = Array.from({ length: 60 }, (_, i) => recaptcha('6Le-SITEKEY-window', i));
      const { handle } = await s.solver.startBatch({ tasks, concurrency: 7 });
      const summary = await handle.result();
      assert.equal(summary.solved, 60);
      const stats = s.sim.stats();
      assert.ok(stats.peakActiveTasks <= 7, `peak ${stats.peakActiveTasks} > 7`);
      assert.ok(stats.peakActiveTasks >= 5, `the window was not used: peak ${stats.peakActiveTasks}`);
    });
  });

  test('200 tasks with mixed outcomes: every task is conserved and the DLQ holds exactly the failed ones, once', async () => {
    const scenarios = {
      sitekeys: {
        'sk-unsolvable': { outcome: { type: 'unsolvable' as const, afterMs: 5 } },
        'sk-bad-pageurl': { submit: [{ type: 'error' as const, code: 'ERROR_PAGEURL' }] },
        'sk-never-ready': { outcome: { type: 'never-ready' as const } },
        'sk-flaky': { poll: [{ type: 'http' as const, status: 503, times: 1 }] },
      },
    };
    const kinds = ['6Le-SITEKEY-fine', 'sk-unsolvable', 'sk-bad-pageurl', 'sk-never-ready', 'sk-flaky'];
    await withStack({ name: 'mix', simulator: { scenarios }, env: { SOLVE_POLL_DEADLINE_MS: '400' } }, async (s) => {
      const tasks = Array.from({ length: 200 }, (_, i) => recaptcha(kinds[i % kinds.length]!, i));
      const { handle, batchId } = await s.solver.startBatch({ tasks, concurrency: 25 });
      const summary = await handle.result();
      assert.equal(summary.total, 200);
      assert.equal(summary.solved + summary.deadLettered + summary.cancelled, 200);
      assert.equal(summary.solved, 80);
      assert.equal(summary.deadLettered, 120);
      const entries = await allDlqEntries(s.solver);
      const ids = entries.map((e) => e.id);
      assert.equal(new Set(ids).size, ids.length, 'duplicate DLQ entries');
      const expected = tasks.filter((t) => ['sk-unsolvable', 'sk-bad-pageurl', 'sk-never-ready'].includes(t.sitekey)).map((t) => `${batchId}/${t.key}`);
      assert.deepEqual(ids.sort(), expected.sort());
      const stats = await s.client.workflow.getHandle(s.config.dlqWorkflowId).query(dlqStatsQuery);
      assert.equal(stats.byCode.ERROR_CAPTCHA_UNSOLVABLE, 40);
      assert.equal(stats.byCode.ERROR_PAGEURL, 40);
      assert.equal(stats.byCode.POLL_DEADLINE, 40);
      assert.equal(stats.byBatch[batchId], 120);

      // the plain `temporal` CLI, with the names the README documents
      const address = ['--address', env.env.address, '--namespace', env.namespace];
      const query = `CaptchaBatchId='${batchId}' AND CaptchaOutcome='dead-lettered'`;
      const failed = await untilValue(async () => {
        const out = await temporalCli(['workflow', 'list', '--query', query, '--limit', '500', '-o', 'json', ...address]);
        return (JSON.parse(out || '[]') as { execution: { workflowId: string } }[]).map((w) => w.execution.workflowId);
      }, (ids) => ids.length === 120);
      assert.deepEqual(failed.sort(), expected.sort());
      const progress = JSON.parse(await temporalCli(['workflow', 'query', '--workflow-id', batchId, '--type', 'progress', '-o', 'json', ...address])) as {
        queryResult: [{ solved: number; deadLettered: number }];
      };
      assert.deepEqual([progress.queryResult[0].solved, progress.queryResult[0].deadLettered], [80, 120]);
    });
  });

  test('continue-as-new runs with children in flight; nothing is lost or duplicated', async () => {
    await withStack({ name: 'can', simulator: { timeScale: 0.004 } }, async (s) => {
      const tasks = Array.from({ length: 150 }, (_, i) => recaptcha('6Le-SITEKEY-can', i));
      const { handle } = await s.solver.startBatch({ tasks, concurrency: 20, tuning: { maxChildrenPerRun: 40 } });
      const summary = await handle.result();
      assert.ok(summary.runs >= 3, `expected several runs, got ${summary.runs}`);
      assert.equal(summary.solved, 150);
      assert.equal(s.sim.stats().paidSubmits, 150, 'a task was paid for twice');
      // a handed-over child signals its batch just before it completes: the last ones may still be closing
      const statuses = await untilValue(async () => countBy(await childStatuses(s, summary.batchId, tasks)), (c) => c.COMPLETED === 150);
      assert.deepEqual(statuses, { COMPLETED: 150 });
      // most children were heard through their completion events; those still running at a continue-as-new were
      // asked to report by signal, and each of those sent exactly one outcome signal, to a later run
      const childSignals = await Promise.all(tasks.map(async (t) => signalNames(await s.client.workflow.getHandle(`${summary.batchId}/${t.key}`).fetchHistory())));
      const handedOver = childSignals.filter((names) => names.includes('reportBySignal')).length;
      assert.ok(handedOver > 0 && handedOver < 150, `${handedOver} children handed over to signals`);
      const runs: string[] = [];
      for await (const w of s.client.workflow.list({ query: `WorkflowId = '${summary.batchId}'` })) runs.push(w.runId);
      assert.equal(runs.length, summary.runs);
      const batchSignals = (await Promise.all(runs.map(async (r) => signalNames(await s.client.workflow.getHandle(summary.batchId, r).fetchHistory())))).flat();
      assert.equal(batchSignals.filter((n) => n === 'solveOutcome').length, handedOver);
    });
  });

  test('starting the same batch id twice does not double the work', async () => {
    await withStack({ name: 'idem' }, async (s) => {
      const tasks = Array.from({ length: 20 }, (_, i) => recaptcha('6Le-SITEKEY-idem', i));
      const first = await s.solver.startBatch({ tasks, batchId: `idem-${s.taskQueue}`, concurrency: 5 });
      const second = await s.solver.startBatch({ tasks, batchId: `idem-${s.taskQueue}`, concurrency: 5 });
      assert.equal(first.existing, false);
      assert.equal(second.existing, true);
      const summary = await first.handle.result();
      // a finished batch id is not run again: refused, naming its status
      await assert.rejects(s.solver.startBatch({ tasks, batchId: `idem-${s.taskQueue}` }), (err: Error) => {
        assert.equal(err.name, 'WorkflowIdTakenError');
        assert.match(err.message, /already ran and is completed: it is not started again/);
        return true;
      });
      assert.equal(summary.solved, 20);
      assert.equal(s.sim.stats().paidSubmits, 20);
    });
  });

  test('cancel stops in-flight children and their activities and reports what was left', async () => {
    await withStack({ name: 'cancel', simulator: { scenarios: { sitekeys: { 'sk-slow-solve': { outcome: { type: 'solve', afterMs: 60_000 } } } } } }, async (s) => {
      const tasks = Array.from({ length: 30 }, (_, i) => recaptcha('sk-slow-solve', i));
      const { handle, batchId } = await s.solver.startBatch({ tasks, concurrency: 10 });
      const batch = s.solver.batch(batchId);
      for (let i = 0; i < 100 && (await batch.progress()).inFlight < 10; i++) await new Promise((r) => setTimeout(r, 100));
      await batch.cancel();
      const summary = await handle.result();
      assert.equal(summary.status, 'cancelled');
      assert.equal(summary.solved, 0);
      assert.equal(summary.cancelled, 30);
      assert.equal(summary.notStarted, 20);
      const statuses = await untilValue(async () => countBy(await childStatuses(s, batchId, tasks)), (c) => c.CANCELLED === 10);
      assert.deepEqual(statuses, { CANCELLED: 10, 'not started': 20 });
      let dlqRuns = 0;
      for await (const _ of s.client.workflow.list({ query: `WorkflowId = '${s.config.dlqWorkflowId}'` })) dlqRuns++;
      assert.equal(dlqRuns, 0, 'a cancelled task was dead-lettered');
    });
  });

  test('invalid input is rejected with the item index and field, before anything starts', async () => {
    await withStack({ name: 'invalid' }, async (s) => {
      const tasks = [recaptcha('6Le-SITEKEY-ok', 0), { type: 'recaptcha-v2', sitekey: '6Le-SITEKEY-ok', pageUrl: 'not a url' }, { type: 'puzzle' }];
      await assert.rejects(s.solver.startBatch({ tasks }), (err: unknown) => {
        assert.ok(err instanceof TaskValidationError);
        assert.match(err.message, /item 1: pageUrl: must be an http\(s\) URL/);
        assert.match(err.message, /item 2: type:/);
        return true;
      });
      const dir = await mkdtemp(join(tmpdir(), 'batch-'));
      const file = join(dir, 'tasks.ndjson');
      await writeFile(file, `${JSON.stringify(recaptcha('6Le-SITEKEY-ok', 0))}\n{"type":"turnstile","sitekey":"0x4AAAAAAA","pageUrl":"https://x.example"}\n{"type":"hcaptcha","pageUrl":"https://x.example"}\n`);
      await assert.rejects(s.solver.startBatch({ file }), /line 3: sitekey:/);
      let started = 0;
      for await (const _ of s.client.workflow.list({ query: `TaskQueue = '${s.taskQueue}'` })) started++;
      assert.equal(started, 0);
    });
  });

  test('a batch read page by page from a file', async () => {
    await withStack({ name: 'file' }, async (s) => {
      const dir = await mkdtemp(join(tmpdir(), 'batch-'));
      const file = join(dir, 'tasks.ndjson');
      await writeFile(file, Array.from({ length: 45 }, (_, i) => JSON.stringify(recaptcha('6Le-SITEKEY-file', i))).join('\n'));
      const { handle } = await s.solver.startBatch({ file, concurrency: 10, tuning: { pageSize: 10 } });
      const summary = await handle.result();
      assert.equal(summary.total, 45);
      assert.equal(summary.solved, 45);
    });
  });

  test('results are pageable by cursor the moment they are solved', async () => {
    await withStack({ name: 'results' }, async (s) => {
      const tasks = Array.from({ length: 12 }, (_, i) => recaptcha('6Le-SITEKEY-res', i));
      const { batchId, handle } = await s.solver.startBatch({ tasks, concurrency: 4 });
      await handle.result();
      const batch = s.solver.batch(batchId);
      const first = await batch.results(0, 5);
      assert.equal(first.results.length, 5);
      const rest = await batch.results(first.nextCursor, 100);
      assert.equal(rest.results.length, 7);
      const keys = [...first.results, ...rest.results].map((r) => r.taskKey);
      assert.equal(new Set(keys).size, 12);
      assert.ok(rest.results.every((r) => r.token.startsWith('03AGdBq2')));
    });
  });

  test('circuit breaker: account errors stop the submits, hold the rest, and an operator resumes the batch', async () => {
    const banned = { all: [{ type: 'error' as const, code: 'ERROR_WRONG_USER_KEY', endpoint: 'in.php' as const }] };
    await withStack({ name: 'breaker', simulator: { scenarios: banned } }, async (s) => {
      const tasks = Array.from({ length: 40 }, (_, i) => recaptcha('6Le-SITEKEY-breaker', i));
      const { batchId, handle } = await s.solver.startBatch({ tasks, concurrency: 4 });
      const batch = s.solver.batch(batchId);
      await until(async () => (await batch.progress()).circuit.open);
      await until(async () => (await batch.progress()).inFlight === 0);
      const spent = s.sim.stats().requests['in.php'];
      assert.ok(spent <= 4, `submitted ${spent} times with a bad key`);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(s.sim.stats().requests['in.php'], spent, 'kept submitting while the circuit was open');
      const held = await batch.progress();
      assert.equal(held.started, spent);
      assert.equal(held.circuit.code, 'ERROR_WRONG_USER_KEY');

      s.sim.setScenarios({ replace: true }); // the operator fixes the key
      const resumed = await batch.resume('key rotated');
      assert.equal(resumed.circuit.open, false);
      const summary = await handle.result();
      assert.equal(summary.deadLettered, spent);
      assert.equal(summary.solved, 40 - spent);
    });
  });

  test('circuit breaker in dead-letter mode: the rest is dead-lettered as account-class without provider calls', async () => {
    const broke = { all: [{ type: 'error' as const, code: 'IP_BANNED', endpoint: 'in.php' as const }] };
    await withStack({ name: 'breaker-dl', simulator: { scenarios: broke } }, async (s) => {
      const tasks = Array.from({ length: 30 }, (_, i) => recaptcha('6Le-SITEKEY-breaker', i));
      const { handle } = await s.solver.startBatch({ tasks, concurrency: 3, onAccountFailure: 'dead-letter' });
      const summary = await handle.result();
      assert.equal(summary.deadLettered, 30);
      assert.ok(s.sim.stats().requests['in.php'] <= 3);
      const stats = await s.client.workflow.getHandle(s.config.dlqWorkflowId).query(dlqStatsQuery);
      assert.equal(stats.byClass.account, 30);
      assert.equal(stats.byCode.IP_BANNED, 30);
    });
  });

  test('a provider outage shrinks the window instead of hammering; successes grow it back', async () => {
    const outage = { sitekeys: { 'sk-outage-503': { submit: [{ type: 'http' as const, status: 503 }] } } };
    await withStack({ name: 'aimd', simulator: { scenarios: outage, timeScale: 0.01 } }, async (s) => {
      const tasks = Array.from({ length: 40 }, (_, i) => recaptcha(i < 10 ? 'sk-outage-503' : '6Le-SITEKEY-aimd', i));
      const { batchId, handle } = await s.solver.startBatch({ tasks, concurrency: 10 });
      const batch = s.solver.batch(batchId);
      let minWindow = Infinity;
      let done = false;
      void handle.result().finally(() => (done = true));
      while (!done) {
        minWindow = Math.min(minWindow, (await batch.progress()).window);
        await new Promise((r) => setTimeout(r, 20));
      }
      const summary = await handle.result();
      assert.equal(summary.deadLettered, 10);
      assert.equal(summary.solved, 30);
      assert.ok(minWindow <= 2, `the window only went down to ${minWindow}`);
    });
  });

  test('a child that cannot start fails the batch with a sentence naming it, not its workflow task over and over', async () => {
    await withStack({ name: 'start-fails' }, async (s) => {
      const batchId = `start-fails-${s.taskQueue}`;
      // started past the client's validation: a sitekey that is not a string is no search attribute value
      const handle = await s.client.workflow.start(WORKFLOW_TYPES.batch, {
        workflowId: batchId,
        taskQueue: s.taskQueue,
        args: [{ batchId, source: { kind: 'inline', tasks: [{ type: 'recaptcha-v2', sitekey: 12345, pageUrl: 'https://example.com/', key: 't0' }] } }],
      });
      // before: the rejection was unhandled; the workflow task failed and was retried, the batch never closed
      let closed = false;
      const taskFailed = (async () => {
        while (!closed) {
          const { events } = await handle.fetchHistory();
          if (events?.some((e) => e.workflowTaskFailedEventAttributes)) return 'a workflow task failed';
          await new Promise((r) => setTimeout(r, 200));
        }
        return 'closed';
      })();
      const outcome = await Promise.race([handle.result().then(() => 'completed', (err: unknown) => err), taskFailed]);
      closed = true;
      assert.ok(outcome instanceof WorkflowFailedError, `the batch did not fail: ${String(outcome)}`);
      assert.ok(outcome.cause instanceof ApplicationFailure);
      assert.equal(outcome.cause.type, 'BatchChildStartFailed');
      assert.match(outcome.cause.message, new RegExp(`solve child ${batchId}/t0 could not start: .*search attribute`, 'i'));
    });
  });
});

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function untilValue<T>(get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The real `temporal` binary that the project provisions. */
async function temporalCli(args: string[]): Promise<string> {
  const cli = await resolveTemporalCli({ allowInstall: false });
  return new Promise((resolve, reject) => {
    execFile(cli.path!, args, { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}
