// Polls of many tasks in one request, end to end: real Temporal server, real worker, simulator over HTTP. The worker's
// poll activities each wait on their own task; their polls go out as `res.php?action=get&ids=` requests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SolveResult } from '../src/domain/types';
import type { ScenarioSpec } from '../src/simulator/server';
import { SENTINEL_KEY, withStack as withTestStack, type Stack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

const IN_FLIGHT = 50;

/**
 * reCAPTCHA solves of 1.5–6 s (the simulator's 15–60 s at ×0.1) and a poll every 200 ms after a first poll at 300 ms
 * (3 × 100 ms): one request per poll would make about a dozen polls a task.
 */
const ENV = {
  CAPTCHA_POLL_COALESCE_MS: '100',
  SOLVE_POLL_FIRST_DELAY_MS: '100',
  SOLVE_POLL_INTERVAL_MS: '200',
  SOLVE_POLL_DEADLINE_MS: '60000',
};

async function withStack<T>(name: string, scenarios: ScenarioSpec | undefined, fn: (s: Stack) => Promise<T>): Promise<T> {
  return withTestStack(env, { name, provider: '2captcha', env: ENV, simulator: { timeScale: 0.1, ...(scenarios && { scenarios }) } }, fn);
}

async function solveMany(s: Stack, n: number): Promise<SolveResult[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) => s.solver.solve({ type: 'recaptcha-v2', sitekey: `sk-many-${i}`, pageUrl: `https://example.com/many/${i}` })),
  );
}

/** res.php poll requests (one task or many), and the task polls they answered (the simulator's per-task count). */
function pollCounts(s: Stack, results: SolveResult[]) {
  const stats = s.sim.stats();
  const single = stats.resActions.get ?? 0;
  const multi = stats.resActions['get-multi'] ?? 0;
  const taskPolls = results.reduce((n, r) => n + (s.sim.task(r.providerTaskId)?.polls ?? 0), 0);
  return { single, multi, requests: single + multi, taskPolls, stats };
}

describe('polls of many tasks in one request', () => {
  test(`${IN_FLIGHT} in flight: every task solved with far fewer res.php requests than task polls`, async () => {
    await withStack('many', undefined, async (s) => {
      const results = await solveMany(s, IN_FLIGHT);
      assert.equal(results.length, IN_FLIGHT);
      for (const r of results) assert.match(r.token, /^03AGdBq2/);
      const { single, multi, requests, taskPolls, stats } = pollCounts(s, results);
      assert.equal(stats.paidSubmits, IN_FLIGHT, 'one paid submit per task');
      assert.equal(stats.solved, IN_FLIGHT);
      assert.ok(multi > 0, 'polled with ids=');
      assert.equal(single, 0, 'no poll of its own while the multi-poll answers');
      assert.ok(requests <= 1.5 * IN_FLIGHT, `${requests} poll requests for ${IN_FLIGHT} solves`);
      assert.ok(taskPolls >= 2 * requests, `${taskPolls} task polls answered by ${requests} requests`);
      console.log(`# ${IN_FLIGHT} solves: ${requests} poll requests (${(requests / IN_FLIGHT).toFixed(2)} a solve) answered ${taskPolls} task polls`);
    });
  });

  test('the multi-poll endpoint failing (HTTP 503) still solves every task, by polls of their own', async () => {
    await withStack('many-503', { multiPoll: [{ type: 'http', status: 503 }] }, async (s) => {
      const results = await solveMany(s, 20);
      for (const r of results) assert.match(r.token, /^03AGdBq2/);
      const { single, multi, stats } = pollCounts(s, results);
      assert.ok(multi >= 1, 'the multi-poll was tried');
      assert.equal(stats.outcomes['res.php'].FAULT_HTTP_503, multi, 'every multi-poll failed');
      assert.ok(single >= 20, 'each task was answered by a poll of its own');
      assert.equal(stats.paidSubmits, 20, 'nothing paid twice');
      assert.equal(stats.solved, 20);
    });
  });

  test('the API key is in no history', async () => {
    await withStack('many-key', { multiPoll: [{ type: 'http', status: 503, times: 1 }] }, async (s) => {
      const results = await solveMany(s, 5);
      assert.equal(results.length, 5);
      const handle = s.client.workflow.getHandle(`solve/${results[0]!.taskKey}`);
      const history = JSON.stringify(await handle.fetchHistory());
      assert.ok(history.length > 0);
      assert.ok(!history.includes(SENTINEL_KEY));
    });
  });
});
