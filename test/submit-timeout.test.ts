// A sent submit is paid whether or not its answer arrives (issue 12.2): slow submit answers must not be paid twice.
//   - the provider clients tell a request that never left (connect refused) from one that may have been paid (a
//     timeout after sending), and a submit waits CAPTCHA_SUBMIT_TIMEOUT_MS, not the poll's request timeout;
//   - submit answers up to 45 s, with the default submit timeout, are paid once each (the simulator's ledger);
//   - what remains (an answer lost after the provider was paid) is counted as a possible duplicate;
//   - without a heartbeat before the request (one server write per paid submit): an attempt that left no record may
//     have been paid, an answered one records so; a quick solve heartbeats neither in its submit nor in its poll;
//   - the first submit as a local activity keeps those records in the worker, and counts a workflow task done again.
// The worker SIGKILLed mid-submit is in test/faults.test.ts (d).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config';
import { createWorkerMetrics } from '../src/metrics';
import { ProviderTransientError, createProvider } from '../src/providers';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { unsettledLocalSubmits, unsettledSubmits } from '../activities/solve';
import { LocalSubmitRecords } from '../activities/local-submits';
import { LOCAL_SUBMIT_RESTART_MS } from '../src/domain/policies';
import { startSimulator } from '../src/simulator/server';
import { SENTINEL_KEY, startStack, type Stack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

const task = (sitekey: string, page = 0) => ({ type: 'recaptcha-v2', sitekey, pageUrl: `https://example.com/slow/${page}` });

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function submitError(provider: ReturnType<typeof createProvider>, t: unknown): Promise<ProviderTransientError> {
  const err = await provider.submit(t as never).then(
    () => assert.fail('expected the submit to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ProviderTransientError, `expected a ProviderTransientError, got ${String(err)}`);
  return err;
}

describe('a slow submit is paid once', () => {
  test('configuration: the submit waits 60 s by default, apart from the request timeout, and the activity outlasts it', () => {
    const config = loadConfig({});
    assert.equal(config.provider.submitTimeoutMs, 60_000);
    assert.equal(config.provider.requestTimeoutMs, 15_000);
    assert.ok(config.solvePolicy.submit.timeoutMs >= 60_000 + 30_000, `submit activity timeout ${config.solvePolicy.submit.timeoutMs}`);
    const longer = loadConfig({ CAPTCHA_SUBMIT_TIMEOUT_MS: '120000' });
    assert.equal(longer.provider.submitTimeoutMs, 120_000);
    assert.equal(longer.solvePolicy.submit.timeoutMs, 150_000);
    assert.throws(() => loadConfig({ CAPTCHA_SUBMIT_TIMEOUT_MS: '10' }), /CAPTCHA_SUBMIT_TIMEOUT_MS="10"/);
  });

  test('transport faults are classified: connect refused never left, a timeout after sending has an unknown outcome', async () => {
    for (const name of ['captchaai', 'anticaptcha'] as const) {
      const refused = createProvider({ name, apiKey: SENTINEL_KEY, baseUrl: `http://127.0.0.1:${await closedPort()}`, limits: false });
      try {
        const err = await submitError(refused, task('sk-refused'));
        assert.equal(err.code, 'ECONNREFUSED');
        assert.equal(err.requestOutcome, 'not-sent', `${name}: ${err.message}`);
      } finally {
        await refused.close();
      }

      const sim = await startSimulator({
        provider: name,
        scenarios: { sitekeys: { 'sk-late': { submit: [{ type: 'slow', delayMs: 2_500 }] } } },
      });
      // the request timeout (polls) is shorter than the answer; only the submit timeout applies to a submit
      const slow = createProvider({ name, apiKey: SENTINEL_KEY, baseUrl: sim.url, requestTimeoutMs: 500, submitTimeoutMs: 1_000, limits: false });
      try {
        const err = await submitError(slow, task('sk-late'));
        assert.equal(err.code, 'TIMEOUT');
        assert.equal(err.requestOutcome, 'unknown', `${name}: ${err.message}`);
        assert.match(err.message, /no answer within 1000 ms/);
        assert.equal(sim.stats().paidSubmits, 1, 'the simulator was paid for the submit it never answered in time');
        sim.setScenarios({ sitekeys: { 'sk-in-time': { submit: [{ type: 'slow', delayMs: 700 }] } } });
        assert.ok((await slow.submit(task('sk-in-time') as never)).length > 0, 'a submit answered after the request timeout but within the submit timeout');
      } finally {
        await slow.close();
        await sim.close();
      }
    }
  });

  test('submit answers up to 45 s with the default submit timeout: every task solved, each paid exactly once', async () => {
    const delays = [5_000, 16_000, 30_000, 45_000];
    const run = async (provider: 'captchaai' | 'anticaptcha'): Promise<void> => {
      const sitekeys = Object.fromEntries(delays.map((delayMs) => [`sk-${provider}-${delayMs}`, { submit: [{ type: 'slow' as const, delayMs }] }]));
      const stack: Stack = await startStack(env, { name: `slow-submit-${provider}`, provider, simulator: { scenarios: { sitekeys } } });
      try {
        // the request timeout of the stack is 2 s (polls); the submit timeout is the default
        assert.equal(stack.config.provider.submitTimeoutMs, 60_000);
        assert.ok(stack.config.provider.requestTimeoutMs < delays[0]!);
        const results = await stack.run(() => Promise.all(delays.map((delayMs, i) => stack.solver.solve(task(`sk-${provider}-${delayMs}`, i)))));
        for (const result of results) {
          assert.equal(result.paidSubmits, 1);
          assert.equal(result.attempts, 1, 'no submit was retried');
          assert.equal(result.possibleDuplicateSubmits, undefined);
        }
        const stats = stack.sim.stats();
        assert.equal(stats.solved, delays.length);
        assert.equal(stats.paidSubmits, delays.length, JSON.stringify(stats.mostPaidTasks));
        assert.equal(stats.duplicatePaidSubmits, 0, JSON.stringify(stats.mostPaidTasks));
        assert.equal(stats.tasksPaidMoreThanOnce, 0);
        assert.equal(stats.faults.slow, delays.length);
        console.log(`${provider}: ${delays.length} submits answered after ${delays.map((d) => d / 1000).join(', ')} s: ${stats.paidSubmits} paid, ${stats.duplicatePaidSubmits} double payments`);
      } finally {
        await stack.close();
      }
    };
    await Promise.all([run('captchaai'), run('anticaptcha')]);
  });

  // the first submit is a local activity by default (its record stays in the worker); the activity task form keeps it
  // on the server as heartbeat details
  for (const local of [true, false]) {
    test(`an answer lost after the provider was paid is counted as a possible duplicate; an answered failure is not (${local ? 'local submit' : 'submit activity'})`, async () => {
      const metrics = createWorkerMetrics({ defaultMetrics: false });
      const stack = await startStack(env, {
        name: `possible-duplicate-${local}`,
        // a short submit timeout, so that the lost answer (the remaining case) happens quickly
        env: { CAPTCHA_SUBMIT_TIMEOUT_MS: '1000', SOLVE_SUBMIT_LOCAL: String(local) },
        simulator: {
          scenarios: {
            sitekeys: {
              'sk-lost-answer': { submit: [{ type: 'slow', delayMs: 3_000, times: 1 }] },
              'sk-answered-503': { submit: [{ type: 'http', status: 503, times: 1 }] },
            },
          },
        },
        workerExtras: { activityEvents: metrics.activityEvents },
      });
      try {
        const [lost, answered] = await stack.run(() =>
          Promise.all([stack.solver.solve(task('sk-lost-answer', 1)), stack.solver.solve(task('sk-answered-503', 2))]),
        );
        assert.equal(lost.paidSubmits, 1);
        assert.equal(lost.attempts, 2);
        assert.equal(lost.possibleDuplicateSubmits, 1);
        assert.equal(answered.attempts, 2);
        assert.equal(answered.possibleDuplicateSubmits, undefined, 'a 503 answer paid nothing');
        const scrape = await metrics.registry.metrics();
        assert.match(scrape, /^captcha_possible_duplicate_submits_total\{provider="captchaai"\} 1$/m, 'the worker metric counts it');
        const stats = stack.sim.stats();
        assert.equal(stats.duplicatePaidSubmits, 1, 'the ledger agrees: one task paid twice');
        assert.equal(stats.mostPaidTasks.length, 1);
        assert.match(stats.mostPaidTasks[0]!.task, /sk-lost-answer/);
      } finally {
        await stack.close();
      }
    });
  }

  test('possible duplicates without a pre-send heartbeat: an attempt that left no record may have been paid, an answered one did not', () => {
    assert.equal(unsettledSubmits(undefined, 1), 0, 'the first attempt');
    assert.equal(unsettledSubmits(undefined, 2), 1, 'attempt 1 died or lost its answer before any heartbeat');
    assert.equal(unsettledSubmits(undefined, 4), 3);
    assert.equal(unsettledSubmits({ attempt: 1, sending: false, unsettled: 0 }, 2), 0, 'attempt 1 was answered (a 503)');
    assert.equal(unsettledSubmits({ attempt: 1, sending: true, unsettled: 0 }, 2), 1, 'attempt 1 died while its request was out');
    assert.equal(unsettledSubmits({ attempt: 1, sending: false, unsettled: 0 }, 3), 1, 'attempt 2 left no record');
    assert.equal(unsettledSubmits({ attempt: 2, sending: true, unsettled: 1 }, 3), 2, 'the count carries over');
    assert.equal(unsettledSubmits({ attempt: 2, sending: false, unsettled: 1 }, 3), 1);
    assert.equal(unsettledSubmits({ attempt: 7, sending: true, unsettled: -3 }, 3), 1, 'a malformed record counts what it can');
  });

  test('possible duplicates of a local submit: its records in the worker, and a workflow task done again', () => {
    const at = 1_000_000;
    assert.equal(unsettledLocalSubmits(undefined, 1, { scheduledAt: at }, at + 20), 0, 'a first attempt, started at once');
    assert.equal(unsettledLocalSubmits({ attempt: 1, sending: true, unsettled: 0 }, 2, { scheduledAt: at }), 1, 'attempt 1 lost its answer');
    assert.equal(unsettledLocalSubmits({ attempt: 1, sending: false, unsettled: 0 }, 2, { scheduledAt: at }), 0, 'attempt 1 was answered');
    assert.equal(unsettledLocalSubmits(undefined, 1, { scheduledAt: at, taskRepeated: true }, at + 20), 1, 'the task failed once (its worker died): that try may have paid');
    assert.equal(unsettledLocalSubmits(undefined, 1, { scheduledAt: at }, at + LOCAL_SUBMIT_RESTART_MS + 1), 1, 'started long after its task began: a heartbeat-completed task redone elsewhere');
    assert.equal(unsettledLocalSubmits(undefined, 1, {}, at), 0, 'no workflow context (a worker before it): nothing to go by');
    assert.equal(unsettledLocalSubmits({ attempt: 1, sending: true, unsettled: 0 }, 1, { scheduledAt: at }, at + 5), 1, 'the task redone in this worker: the recorded attempt 1 came first');
    assert.equal(unsettledLocalSubmits({ attempt: 2, sending: false, unsettled: 1 }, 1, {}), 1, 'redone after an answered attempt: its count carries over');
    assert.equal(unsettledLocalSubmits(undefined, 3, {}), 2, 'attempts that left no record');
  });

  test('local submit records: one per activity of a run, bounded, oldest out first', () => {
    const records = new LocalSubmitRecords(2);
    const key = (run: string, id: string) => LocalSubmitRecords.keyOf({ workflowExecution: { workflowId: 'wf', runId: run }, activityId: id })!;
    assert.notEqual(key('r1', '1'), key('r2', '1'));
    assert.equal(LocalSubmitRecords.keyOf({ activityId: '1' }), undefined);
    records.set(key('r1', '1'), { attempt: 1, sending: true, unsettled: 0 });
    records.set(key('r1', '2'), { attempt: 1, sending: true, unsettled: 0 });
    records.set(key('r1', '1'), { attempt: 2, sending: false, unsettled: 1 });
    records.set(key('r1', '3'), { attempt: 1, sending: true, unsettled: 0 });
    assert.equal(records.size, 2);
    assert.equal(records.get(key('r1', '2')), undefined, 'the oldest written went first');
    assert.deepEqual(records.get(key('r1', '1')), { attempt: 2, sending: false, unsettled: 1 });
    records.delete(key('r1', '1'));
    assert.equal(records.size, 1);
  });

  test('a quick solve sends no heartbeat: the submit beats only while a slow request is out, the poll not in its first slice', async () => {
    const beats: Record<string, number> = {};
    // counts every heartbeat the activities ask for (the SDK sends the first of each attempt to the server at once)
    const countBeats: ActivityInterceptorsFactory = (ctx) => {
      const heartbeat = ctx.heartbeat.bind(ctx);
      Object.assign(ctx, {
        heartbeat: (details?: unknown) => {
          beats[ctx.info.activityType] = (beats[ctx.info.activityType] ?? 0) + 1;
          heartbeat(details);
        },
      });
      return {};
    };
    const stack = await startStack(env, {
      name: 'no-heartbeat',
      simulator: { scenarios: { sitekeys: { 'sk-instant': { outcome: { type: 'solve', afterMs: 0 } } } } },
      worker: { interceptors: { activity: [countBeats] } },
    });
    try {
      const results = await stack.run(() => Promise.all([0, 1, 2].map((i) => stack.solver.solve(task('sk-instant', i)))));
      for (const result of results) assert.equal(result.paidSubmits, 1);
      assert.deepEqual(beats, {}, 'no activity heartbeat');
    } finally {
      await stack.close();
    }
  });
});
