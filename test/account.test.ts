// Issue 14, points 3 and 4, through the real pipeline (dev server, worker, simulator over HTTP, the CLI as a
// subprocess): a task type the provider does not solve is refused before anything starts; token reports reach the
// provider once (refund recorded by the simulator), are counted by provider, type and sitekey and shown by `dlq stats`;
// the balance and thread plan are read on the worker; a low balance alerts once per crossing through the webhook.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { CaptchaSolveError, CaptchaSolver, TokenReportError } from '../src/client';
import { TaskValidationError } from '../src/tasks/schema';
import type { BalanceCheck, DlqStats, FeedbackStats, TokenReportResult } from '../workflows/messages';
import { SENTINEL_KEY, allHistoriesText, startStack, type Stack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';
import { cliEnvOf, expectCode, runCli, type CliRun as Run } from './helpers/cli';
import { startAlertHook } from './helpers/webhook';

if (!Runtime._instance) Runtime.install({ logger: new DefaultLogger((process.env.TEMPORAL_TEST_LOG_LEVEL as 'ERROR' | undefined) ?? 'ERROR') });

const PAGE = 'https://example.com/login';
const ACCOUNT_ID = 'account-users-test';

let t: TestEnv;
let stack: Stack;
let stopWorker: () => void;
let workerDone: Promise<unknown>;
let dir: string;

async function workflowsOnQueue(s: Stack): Promise<number> {
  let n = 0;
  for await (const _ of s.client.workflow.list({ query: `TaskQueue = '${s.taskQueue}'` })) n++;
  return n;
}

const recaptcha = (sitekey: string, key: string) => ({ type: 'recaptcha-v2', sitekey, pageUrl: PAGE, key });

const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
  runCli(args, { env: { ...cliEnvOf(t, stack, { ACCOUNT_WORKFLOW_ID: ACCOUNT_ID }), ...env } });


before(async () => {
  t = await startTestEnv();
  stack = await startStack(t, { name: 'users', provider: 'captchaai', env: { ACCOUNT_WORKFLOW_ID: ACCOUNT_ID } });
  dir = await mkdtemp(join(tmpdir(), 'captcha-users-'));
  const stopped = new Promise<void>((res) => {
    stopWorker = res;
  });
  workerDone = stack.run(() => stopped);
});
after(async () => {
  stopWorker?.();
  await workerDone;
  await stack?.close();
  await t?.teardown();
});

describe('refuse early what the provider cannot do', () => {
  test('batch start with hCaptcha lines on CaptchaAI: exit 2 naming the lines, the type and the providers that solve it; nothing started', async () => {
    const file = join(dir, 'mixed.ndjson');
    const lines = [recaptcha('6Le-SITEKEY-mixed', 'a'), { type: 'hcaptcha', sitekey: 'hc-SITEKEY-0001', pageUrl: PAGE, key: 'b' }, recaptcha('6Le-SITEKEY-mixed', 'c'), { type: 'hcaptcha', sitekey: 'hc-SITEKEY-0002', pageUrl: PAGE, key: 'd' }];
    await writeFile(file, lines.map((l) => JSON.stringify(l)).join('\n'));
    const run = await cli(['batch', 'start', file]);
    expectCode(run, 2, 'batch start with unsupported types');
    assert.match(run.stderr, /line 2: type: type "hcaptcha" is not solved by captchaai \(CAPTCHA_PROVIDER\); providers that solve it: 2captcha, 2captcha-v2, anticaptcha, capsolver, capmonster/);
    assert.match(run.stderr, /line 4: type: "hcaptcha" is not solved by captchaai/);
    assert.doesNotMatch(run.stderr, /line [13]:/);
    const solve = await cli(['solve', '--type', 'hcaptcha', '--sitekey', 'hc-SITEKEY-0003', '--page-url', PAGE]);
    expectCode(solve, 2, 'solve of an unsupported type');
    assert.match(solve.stderr, /type "hcaptcha" is not solved by captchaai/);
    // the client library refuses the same way
    await assert.rejects(stack.solver.solve({ type: 'hcaptcha', sitekey: 'hc-SITEKEY-0004', pageUrl: PAGE }), TaskValidationError);
    await assert.rejects(stack.solver.startBatch({ tasks: lines }), (err: unknown) => err instanceof TaskValidationError && /item 1: type:/.test(err.message));
    assert.equal(await workflowsOnQueue(stack), 0);
    assert.equal(stack.sim.stats().paidSubmits, 0);
  });

  test('a worker whose provider differs from the client\'s still dead-letters the task as permanent UNSUPPORTED_TYPE, unpaid', async () => {
    // a client that believes the deployment runs 2captcha (which solves hCaptcha): the worker's CaptchaAI refuses it
    const believer = new CaptchaSolver(stack.client, { ...stack.config, provider: { ...stack.config.provider, name: '2captcha' } });
    const err = await believer.solve({ type: 'hcaptcha', sitekey: 'hc-SITEKEY-0005', pageUrl: PAGE, key: 'hc-changed' }).then(
      () => assert.fail('expected the solve to fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CaptchaSolveError);
    assert.equal(err.failureClass, 'permanent');
    assert.equal(err.details?.code, 'UNSUPPORTED_TYPE');
    assert.match(err.message, /not solved by captchaai/);
    assert.equal(err.details?.dlqEntryId, 'solve/hc-changed');
    assert.equal(stack.sim.stats().paidSubmits, 0);
  });
});

describe('refunds: token reports', () => {
  test('report bad → the simulator records the refund → stats show acceptance < 100 %; a repeated report sends nothing', async () => {
    const before = (await stack.solver.account().checkBalance('test')).balance;
    const good = await stack.solver.solve(recaptcha('6Le-SITEKEY-feedback', 'fb-good'));
    const bad = await stack.solver.solve(recaptcha('6Le-SITEKEY-feedback', 'fb-bad'));
    const spent = (await stack.solver.account().checkBalance('test')).balance;
    assert.ok(spent < before);

    // bad through the CLI, by task key
    const run = await cli(['report', 'fb-bad', '--bad']);
    expectCode(run, 0, 'report --bad');
    assert.match(run.stdout, new RegExp(`reported provider task ${bad.providerTaskId} bad to captchaai \\(refund requested\\)`));
    assert.deepEqual(stack.sim.stats().reports, { good: 0, bad: 1 });
    const refunded = (await stack.solver.account().checkBalance('test')).balance;
    // the simulator answers the balance to 4 decimals
    assert.ok(Math.abs(refunded - (spent + 0.00299)) < 1e-4, `balance ${spent} → ${refunded}`);

    // good through the client library, by provider task id
    const sent = await stack.solver.reportToken({ providerTaskId: good.providerTaskId }, 'good');
    assert.equal(sent.status, 'sent');
    assert.equal(sent.repeated, false);
    assert.deepEqual(stack.sim.stats().reports, { good: 1, bad: 1 });

    // repeated: answered from the record, nothing sent (the simulator's counters do not move)
    const again = await stack.solver.reportToken('fb-bad', 'bad');
    assert.equal(again.repeated, true);
    assert.equal((again as TokenReportResult & { status: 'sent' }).provider, 'captchaai');
    const againCli = await cli(['report', bad.providerTaskId, '--good']);
    expectCode(againCli, 0, 'a repeated report');
    assert.match(againCli.stdout, /already reported bad at .*: nothing sent again/);
    assert.deepEqual(stack.sim.stats().reports, { good: 1, bad: 1 });

    // counted where operators look: one bad (by key, with its type and sitekey), one good (by provider task id alone)
    const stats = await cli(['dlq', 'stats', '--json']);
    expectCode(stats, 0, 'dlq stats');
    const feedback = (JSON.parse(stats.stdout) as DlqStats & { tokenFeedback: FeedbackStats }).tokenFeedback;
    assert.deepEqual(feedback.total, { good: 1, bad: 1, acceptance: 0.5 });
    assert.deepEqual(feedback.byProvider.captchaai, { good: 1, bad: 1, acceptance: 0.5 });
    assert.deepEqual(feedback.byType['recaptcha-v2'], { good: 0, bad: 1, acceptance: 0 });
    assert.ok(feedback.bySitekey.some((r) => r.sitekey === '6Le-SITEKEY-feedback' && r.bad === 1 && r.acceptance === 0));
    const table = await cli(['dlq', 'stats']);
    expectCode(table, 0, 'dlq stats (table)');
    assert.match(table.stdout, /token feedback since .*: acceptance 50\.0 % \(1 good, 1 bad\)/);
  });

  test('a report after the provider\'s window is refused with a clear message, nothing sent', async () => {
    const windowed = new CaptchaSolver(stack.client, { ...stack.config, account: { ...stack.config.account, reportWindowMs: 1_000 } });
    const solved = await windowed.solve(recaptcha('6Le-SITEKEY-late', 'late'));
    const reports = { ...stack.sim.stats().reports };
    // wait until the token is older than the window
    while (Date.now() <= Date.parse(solved.solvedAt) + 1_500) await sleep(100);
    await assert.rejects(windowed.reportToken('late', 'bad'), (err: unknown) => {
      assert.ok(err instanceof TokenReportError);
      assert.match(err.message, /was refused: the report window has closed: the token was solved \d+ s ago and the provider accepts reports for 1 s after a solve; nothing was sent/);
      return true;
    });
    assert.deepEqual(stack.sim.stats().reports, reports);
    const run = await cli(['report', 'late', '--bad']);
    expectCode(run, 2, 'a late report');
    assert.match(run.stderr, /report window has closed/);
  });
});

describe('balance', () => {
  test('balance and thread plan from the CLI', async () => {
    const run = await cli(['balance', '--json']);
    expectCode(run, 0, 'balance');
    const check = JSON.parse(run.stdout) as BalanceCheck;
    assert.equal(check.provider, 'captchaai');
    assert.ok(check.balance > 999 && check.balance <= 1000, String(check.balance));
    assert.deepEqual(check.threads, { threads: 10, workingThreads: 0, freeThreads: 10 });
    assert.equal(check.low, false);
    const table = await cli(['balance']);
    expectCode(table, 0, 'balance (table)');
    assert.match(table.stdout, /thread plan\s+│ 10 threads: 0 working, 10 free/);
    expectCode(await cli(['report', 'x', '--good', '--bad']), 2, 'both verdicts');
    const capmonster = await cli(['report', '12345', '--bad'], { CAPTCHA_PROVIDER: 'capmonster' });
    expectCode(capmonster, 2, 'a report on a provider without reports');
    assert.match(capmonster.stderr, /capmonster has no report endpoint/);
    // reports, feedback and balance checks ran on the worker: the key is in no history
    const histories = await allHistoriesText(stack.client);
    assert.ok(histories.count > 0);
    assert.ok(!histories.text.includes(SENTINEL_KEY), 'the provider key reached a history');
  });

  test('a low balance alerts once per crossing, through the alert webhook, and before a batch starts', async () => {
    const hook = await startAlertHook();
    const { alerts } = hook;
    // 1000 at the start, 0.00299 a solve: above 999.996 after one solve, below it after two
    // 2captcha: its own provider task ids (a second simulator counts ids from the same start)
    const low = await startStack(t, {
      name: 'low-balance',
      provider: '2captcha',
      env: { ACCOUNT_WORKFLOW_ID: 'account-low-balance', CAPTCHA_LOW_BALANCE: '999.996', ALERT_WEBHOOK_URL: hook.url },
    });
    try {
      await low.run(async () => {
        const account = low.solver.account();
        await low.solver.solve(recaptcha('6Le-SITEKEY-low', 'low-1'));
        assert.equal((await account.checkBalance()).low, false);
        await low.solver.solve(recaptcha('6Le-SITEKEY-low', 'low-2'));
        const crossed = await account.checkBalance();
        assert.equal(crossed.low, true);
        assert.equal(crossed.alerted, true);
        assert.equal((await account.checkBalance()).alerted, false, 'still low: no second alert');
        // a batch start reads the balance first: low, already alerted
        const started = await low.solver.startBatch({ tasks: [recaptcha('6Le-SITEKEY-low', 'b-1')] });
        assert.equal(started.balance?.low, true);
        assert.equal(started.balance?.alerted, false);
        await started.handle.result();
        // a refund brings it back above (re-armed, no alert); the next solve crosses again: a second alert
        await low.solver.reportToken('low-2', 'bad');
        await low.solver.reportToken(`${started.batchId}/b-1`, 'bad');
        assert.equal((await account.checkBalance()).low, false);
        await low.solver.solve(recaptcha('6Le-SITEKEY-low', 'low-3'));
        assert.equal((await account.checkBalance()).alerted, true);
      });
      assert.equal(alerts.length, 2, JSON.stringify(alerts));
      for (const alert of alerts) {
        assert.equal(alert.kind, 'low-balance');
        assert.equal(alert.threshold, 999.996);
        assert.equal(alert.accountWorkflowId, 'account-low-balance');
        assert.equal(alert.source, 'captcha-dlq');
      }
    } finally {
      await low.close();
      hook.close();
    }
  });
});
