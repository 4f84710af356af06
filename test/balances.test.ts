// The balance check and the low-balance alert over every configured provider (CAPTCHA_PROVIDERS): two simulators, one
// worker routing over both; each provider's balance is read, each alerts once per crossing on its own, and
// `captcha-dlq balance` shows them all. Plus the pure rule (src/domain/balance.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CaptchaSolver } from '../src/client';
import { loadConfig } from '../src/config';
import { judgeBalances } from '../src/domain/balance';
import { startSimulator } from '../src/simulator/server';
import { createRouter, createWorker } from '../src/worker';
import type { BalanceCheck } from '../workflows/messages';
import { expectCode, runCli } from './helpers/cli';
import { FAST_ENV, SENTINEL_KEY, allHistoriesText } from './helpers/stack';
import { bundleWorkflows, startTestEnv, uniqueTaskQueue, type TestEnv } from './helpers/temporal';
import { startAlertHook } from './helpers/webhook';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

describe('balance rule', () => {
  test('each provider alerts once per crossing; an unread provider keeps its state', () => {
    const alerted: Record<string, boolean> = {};
    const first = judgeBalances([{ provider: 'a', balance: 100 }, { provider: 'b', balance: 5 }], 10, alerted);
    assert.deepEqual(first.map((p) => [p.provider, p.low, p.alerted]), [['a', false, false], ['b', true, true]]);
    const again = judgeBalances([{ provider: 'a', balance: 9 }, { provider: 'b', error: 'down' }], 10, alerted);
    assert.deepEqual(again.map((p) => [p.provider, p.low, p.alerted]), [['a', true, true], ['b', false, false]]);
    assert.deepEqual(alerted, { a: true, b: true }, 'b unread: still counted as alerted');
    const back = judgeBalances([{ provider: 'b', balance: 10 }], 10, alerted);
    assert.deepEqual([back[0]!.low, alerted.b], [false, false], 're-armed at the threshold');
    assert.equal(judgeBalances([{ provider: 'a', balance: 0 }], undefined, {})[0]!.low, false, 'no threshold: never low');
  });
});

describe('balances of several providers', () => {
  test('every configured provider is read and alerts on its own; the CLI shows each', async () => {
    const hook = await startAlertHook();
    const { alerts } = hook;
    const [rich, poor] = await Promise.all([
      startSimulator({ provider: '2captcha', timeScale: 0.004, apiKey: SENTINEL_KEY, balance: 1000 }),
      startSimulator({ provider: 'capsolver', timeScale: 0.004, apiKey: SENTINEL_KEY, balance: 5 }),
    ]);
    const taskQueue = uniqueTaskQueue('balances');
    const accountId = `account-${taskQueue}`;
    const config = loadConfig({
      ...FAST_ENV,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DLQ_WORKFLOW_ID: `dlq-${taskQueue}`,
      ACCOUNT_WORKFLOW_ID: accountId,
      CAPTCHA_LOW_BALANCE: '10',
      ALERT_WEBHOOK_URL: hook.url,
      CAPTCHA_PROVIDERS: JSON.stringify([
        { name: 'main', provider: '2captcha', apiKey: SENTINEL_KEY, baseUrl: rich.url },
        { name: 'backup', provider: 'capsolver', apiKey: SENTINEL_KEY, baseUrl: poor.url },
      ]),
    });
    const router = createRouter(config);
    const worker = await createWorker({ config, connection: env.nativeConnection, client: env.client, provider: router.client('main'), router, workflowBundle: await bundleWorkflows() });
    try {
      await worker.runUntil(async () => {
        const account = new CaptchaSolver(env.client, config).account();
        const row = (c: BalanceCheck) => c.providers?.map((p) => [p.provider, p.balance, p.low, p.alerted]);

        // the second provider is low: its alert, not the first's; before, only the first one was read
        const first = await account.checkBalance('test');
        assert.deepEqual(row(first), [['main', 1000, false, false], ['backup', 5, true, true]]);
        assert.deepEqual([first.provider, first.balance, first.low, first.alerted], ['main', 1000, true, true]);
        const still = await account.checkBalance('test');
        assert.deepEqual(row(still), [['main', 1000, false, false], ['backup', 5, true, false]], 'still low: no second alert');

        // the first runs low too: its own alert, the second's stays raised once
        rich.setScenarios({ schedule: [{ afterMs: 0, set: { type: 'balance', balance: 2 } }] });
        const both = await account.checkBalance('test');
        assert.deepEqual(row(both), [['main', 2, true, true], ['backup', 5, true, false]]);

        const cli = await runCli(['balance'], {
          env: { PATH: process.env.PATH, HOME: process.env.HOME, TEMPORAL_ADDRESS: env.env.address, TEMPORAL_NAMESPACE: env.namespace, TEMPORAL_TASK_QUEUE: taskQueue, ACCOUNT_WORKFLOW_ID: accountId },
        });
        expectCode(cli, 0, 'balance');
        assert.match(cli.stdout, /main\s+│ 2\s+│ yes \(alert already raised\)/);
        assert.match(cli.stdout, /backup\s+│ 5\s+│ yes \(alert already raised\)/);
        assert.match(cli.stdout, /main: balance 2 is below 10 \(alert already raised for this crossing\)/);
        assert.match(cli.stdout, /backup: balance 5 is below 10/);
      });
    } finally {
      await router.close();
      await Promise.all([rich.close(), poor.close()]);
      hook.close();
    }
    assert.deepEqual(
      alerts.map((a) => [a.kind, a.provider, a.value, a.threshold]),
      [
        ['low-balance', 'backup', 5, 10],
        ['low-balance', 'main', 2, 10],
      ],
    );
    const histories = await allHistoriesText(env.client);
    assert.ok(!histories.text.includes(SENTINEL_KEY), 'the provider key reached a history');
  });
});
