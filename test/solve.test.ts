// One captcha through the real pipeline: solve workflow → submit/poll activities → provider client → simulator (HTTP).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CaptchaSolveError } from '../src/client';
import { ConfigError, loadConfig } from '../src/config';
import type { ScenarioSpec } from '../src/simulator/server';
import { allHistoriesText, SENTINEL_KEY, withStack as withTestStack, type Stack, type StackOptions } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

const task = (sitekey: string, page = 0) => ({ type: 'recaptcha-v2', sitekey, pageUrl: `https://example.com/page/${page}` });

/** A fresh simulator and worker for one test; `scenarios` scripts the simulator. */
async function withStack<T>(name: string, scenarios: ScenarioSpec | undefined, fn: (s: Stack) => Promise<T>, options: Partial<StackOptions> = {}): Promise<T> {
  return withTestStack(env, { name, ...options, simulator: { ...options.simulator, ...(scenarios && { scenarios }) } }, fn);
}

async function solveFailure(s: Stack, t: unknown): Promise<CaptchaSolveError> {
  const err = await s.solver.solve(t, { deadLetter: false }).then(
    () => assert.fail('expected the solve to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CaptchaSolveError, `expected CaptchaSolveError, got ${String(err)}`);
  return err;
}

describe('solve one captcha', () => {
  test('success returns the token with its provider task id, attempts, paid submits and elapsed time', async () => {
    await withStack('ok', undefined, async (s) => {
      const result = await s.solver.solve(task('6Le-SITEKEY-ok'));
      assert.match(result.token, /^03AGdBq2/);
      assert.ok(result.providerTaskId.length > 0);
      assert.equal(result.attempts, 1);
      assert.equal(result.paidSubmits, 1);
      assert.ok(result.elapsedMs >= 0);
      assert.equal(s.sim.stats().paidSubmits, 1);
    });
  });

  test('not ready, then ready: polls again at the interval', async () => {
    await withStack('not-ready', { sitekeys: { 'sk-slow-solve': { outcome: { type: 'solve', afterMs: 300 } } } }, async (s) => {
      const result = await s.solver.solve(task('sk-slow-solve'));
      assert.match(result.token, /^03AGdBq2/);
      const stats = s.sim.stats();
      assert.ok((stats.outcomes['res.php'].CAPCHA_NOT_READY ?? 0) >= 2, JSON.stringify(stats.outcomes));
      assert.equal(stats.outcomes['res.php'].READY, 1);
      assert.equal(stats.paidSubmits, 1);
    });
  });

  test('no slot twice, then accepted: one paid submit', async () => {
    await withStack('no-slot', { sitekeys: { 'sk-no-slot': { noSlot: 2 } } }, async (s) => {
      const result = await s.solver.solve(task('sk-no-slot'));
      assert.equal(result.attempts, 3);
      assert.equal(result.paidSubmits, 1);
      const stats = s.sim.stats();
      assert.equal(stats.outcomes['in.php'].ERROR_NO_SLOT_AVAILABLE, 2);
      assert.equal(stats.paidSubmits, 1);
    });
  });

  test('unsolvable, then a new submit solves it: two paid submits', async () => {
    const script: ScenarioSpec = { all: [{ type: 'error', code: 'ERROR_CAPTCHA_UNSOLVABLE', endpoint: 'res.php', times: 1 }] };
    await withStack('resubmit', script, async (s) => {
      const result = await s.solver.solve(task('sk-resubmit'));
      assert.equal(result.paidSubmits, 2);
      assert.equal(s.sim.stats().paidSubmits, 2);
      assert.equal(s.sim.stats().outcomes['res.php'].ERROR_CAPTCHA_UNSOLVABLE, 1);
    });
  });

  test('unsolvable every time: fails as resubmit class after the bounded resubmits', async () => {
    await withStack('unsolvable', { sitekeys: { 'sk-unsolvable': { outcome: { type: 'unsolvable', afterMs: 10 } } } }, async (s) => {
      const err = await solveFailure(s, task('sk-unsolvable'));
      assert.equal(err.failureClass, 'resubmit');
      assert.equal(err.details?.code, 'ERROR_CAPTCHA_UNSOLVABLE');
      assert.equal(err.details?.paidSubmits, 3); // 1 + maxResubmits (2)
      assert.equal(err.details?.providerTaskIds.length, 3);
      assert.equal(s.sim.stats().paidSubmits, 3);
    });
  });

  test('a permanent error fails at once: one submit, no retry', async () => {
    await withStack('permanent', { sitekeys: { 'sk-bad-page': { submit: [{ type: 'error', code: 'ERROR_PAGEURL' }] } } }, async (s) => {
      const err = await solveFailure(s, task('sk-bad-page'));
      assert.equal(err.failureClass, 'permanent');
      assert.equal(err.details?.code, 'ERROR_PAGEURL');
      assert.equal(err.details?.attempts, 1);
      assert.equal(err.details?.paidSubmits, 0);
      assert.equal(s.sim.stats().requests['in.php'], 1);
    });
  });

  test('an account error is not retried', async () => {
    await withStack('account', { all: [{ type: 'error', code: 'ERROR_WRONG_USER_KEY', endpoint: 'in.php' }] }, async (s) => {
      const err = await solveFailure(s, task('sk-account'));
      assert.equal(err.failureClass, 'account');
      assert.equal(err.details?.code, 'ERROR_WRONG_USER_KEY');
      assert.equal(s.sim.stats().requests['in.php'], 1);
    });
  });

  test('a task that never becomes ready ends at the deadline with its own failure type', async () => {
    await withStack('never-ready', { sitekeys: { 'sk-never': { outcome: { type: 'never-ready' } } } }, async (s) => {
      const started = Date.now();
      const err = await solveFailure(s, task('sk-never'));
      assert.equal(err.failureClass, 'timeout');
      assert.equal(err.details?.code, 'POLL_DEADLINE');
      assert.equal(err.details?.paidSubmits, 1);
      assert.ok(Date.now() - started >= 1_500, 'ended before the 1.5 s deadline');
    });
  });

  test('a poll attempt that fails after a heartbeat resumes the same provider task', async () => {
    const script: ScenarioSpec = {
      sitekeys: { 'sk-flaky-poll': { outcome: { type: 'solve', afterMs: 100 }, poll: [{ type: 'http', status: 503, times: 2 }] } },
    };
    await withStack('resume', script, async (s) => {
      const result = await s.solver.solve(task('sk-flaky-poll'));
      assert.equal(result.paidSubmits, 1);
      assert.equal(s.sim.stats().paidSubmits, 1);
      assert.equal(s.sim.stats().outcomes['res.php'].FAULT_HTTP_503, 2);
      const history = await s.client.workflow.getHandle(`solve/${result.taskKey}`).fetchHistory();
      const failedPolls = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes?.attempt && e.activityTaskStartedEventAttributes.attempt > 1);
      assert.ok(failedPolls.length >= 1, 'the poll activity was retried');
    });
  });

  test('malformed, HTML and 5xx answers are retried and classified as transient', async () => {
    const flaky: ScenarioSpec = {
      sitekeys: { 'sk-flaky-submit': { submit: [{ type: 'bad-json', times: 1 }, { type: 'html', times: 1 }, { type: 'http', status: 502, times: 1 }] } },
    };
    await withStack('transient', flaky, async (s) => {
      const result = await s.solver.solve(task('sk-flaky-submit'));
      assert.equal(result.attempts, 4);
      assert.equal(result.paidSubmits, 1);
    });
    await withStack('transient-final', { sitekeys: { 'sk-down-503': { submit: [{ type: 'http', status: 503 }] } } }, async (s) => {
      const err = await solveFailure(s, task('sk-down-503'));
      assert.equal(err.failureClass, 'transient');
      assert.equal(err.details?.code, 'HTTP_503');
      assert.equal(err.details?.attempts, 4); // the seed: 3 retries
      assert.equal(s.sim.stats().requests['in.php'], 4);
    });
  });

  test('a bad configuration value gives a clear error naming it', () => {
    assert.throws(() => loadConfig({ CAPTCHA_REQUEST_TIMEOUT_MS: 'soon' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /CAPTCHA_REQUEST_TIMEOUT_MS="soon"/);
      return true;
    });
    assert.throws(() => loadConfig({ CAPTCHA_PROVIDER: 'acme' }), /CAPTCHA_PROVIDER="acme"/);
    assert.throws(() => loadConfig({ CAPTCHA_BASE_URL: 'ftp://x' }), /CAPTCHA_BASE_URL/);
    assert.throws(() => loadConfig({ CAPTCHA_API_KEY: '' }), (err: unknown) => {
      assert.match(String(err), /CAPTCHA_API_KEY=\(hidden\)/);
      return true;
    });
  });

  test('the API key appears nowhere in the history of any workflow these tests ran', async () => {
    const { count, text } = await allHistoriesText(env.client);
    assert.ok(count >= 10, `expected the histories of this file's workflows, found ${count}`);
    assert.ok(text.includes('03AGdBq2'), 'the scan reads decoded payloads');
    assert.ok(!text.includes(SENTINEL_KEY), 'the provider key leaked into a workflow history');
  });
});
