// Money as a figure: the cost of every paid submit by the price table, in solve results, batch progress and summary,
// DLQ stats and metrics — equal to the simulator's ledger, which charges by the same table — and budgets that stop a
// batch or refuse a DLQ retry order before the money is spent.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { BudgetError } from '../src/client';
import { loadConfig } from '../src/config';
import { resolveSolvePolicy } from '../src/domain/policies';
import { DEFAULT_PRICES, formatUsd, parseBudgetUsd, submitCostMicros } from '../src/domain/prices';
import { createWorkerMetrics } from '../src/metrics';
import { batchProgressQuery, batchResumeUpdate, dlqRetrySignal, type BatchProgress } from '../workflows/messages';
import { FAST_ENV, withStack as withTestStack, type Stack, type StackOptions } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';

let env: TestEnv;
const env0 = () => ({ address: env.env.address, namespace: env.namespace });
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

const withStack = <T>(options: StackOptions, fn: (s: Stack) => Promise<T>): Promise<T> => withTestStack(env, options, fn);

async function untilValue<T>(get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const task = (type: 'recaptcha-v2' | 'hcaptcha', sitekey: string, i: number) => ({ type, sitekey, pageUrl: `https://example.com/page/${i}`, key: `t${i}` });
const PRICE_V2 = submitCostMicros(DEFAULT_PRICES, '2captcha', 'recaptcha-v2');
const MAX_RESUBMITS = resolveSolvePolicy().maxResubmits;
const scenarios = {
  sitekeys: {
    'sk-unsolvable': { outcome: { type: 'unsolvable' as const, afterMs: 5 } },
    'sk-bad-pageurl': { submit: [{ type: 'error' as const, code: 'ERROR_PAGEURL' }] },
  },
};

describe('prices', () => {
  test('the table is in integer micro-USD, overridable by CAPTCHA_PRICES, and a bad override is one sentence', () => {
    assert.equal(PRICE_V2, 2990); // 2captcha: $2.99 per 1000
    const config = loadConfig({ CAPTCHA_PRICES: '{"capsolver":{"image":0.45}}' });
    assert.equal(config.prices.capsolver?.image, 450);
    assert.equal(config.prices.capsolver?.['recaptcha-v2'], DEFAULT_PRICES.capsolver?.['recaptcha-v2']);
    assert.throws(() => loadConfig({ CAPTCHA_PRICES: '{"nope":{"image":1}}' }), /CAPTCHA_PRICES: unknown provider "nope"/);
    assert.throws(() => loadConfig({ CAPTCHA_PRICES: '{"2captcha":{"image":-1}}' }), /CAPTCHA_PRICES: 2captcha.image must be USD per 1000 submits/);
    assert.throws(() => loadConfig({ CAPTCHA_PRICES: 'cheap' }), /CAPTCHA_PRICES: not JSON/);
    assert.deepEqual(parseBudgetUsd('5.00'), { micros: 5_000_000 });
    assert.deepEqual(parseBudgetUsd('$0.000001'), { micros: 1 });
    for (const bad of ['-1', 'five', '', '1e3', '0.0000001']) assert.ok('error' in parseBudgetUsd(bad), bad);
    assert.equal(formatUsd(5_000_000), '$5.00');
    assert.equal(formatUsd(2990), '$0.002990');
  });
});

describe('money', () => {
  test('costs in solve results, batch progress and summary, DLQ stats and metrics equal the simulator ledger', async () => {
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    await withStack(
      { name: 'ledger', provider: '2captcha', simulator: { scenarios }, workerExtras: { activityEvents: metrics.activityEvents } },
      async (s) => {
        const tasks = [
          ...Array.from({ length: 20 }, (_, i) => task('recaptcha-v2', '6Le-SITEKEY-fine', i)),
          ...Array.from({ length: 5 }, (_, i) => task('hcaptcha', 'sk-unsolvable', 20 + i)),
          ...Array.from({ length: 3 }, (_, i) => task('recaptcha-v2', 'sk-bad-pageurl', 25 + i)),
        ];
        const { handle, batchId } = await s.solver.startBatch({ tasks, concurrency: 8 });
        const summary = await handle.result();
        const ledger = s.sim.stats();
        const priceH = submitCostMicros(DEFAULT_PRICES, '2captcha', 'hcaptcha');
        // the ledger itself: 20 solved once, 5 unsolvable paid 1 + maxResubmits times, 3 refused at submit (unpaid)
        assert.equal(ledger.spentMicros, 20 * PRICE_V2 + 5 * (1 + MAX_RESUBMITS) * priceH);
        assert.deepEqual([summary.solved, summary.deadLettered], [20, 8]);
        assert.equal(summary.money?.spentMicros, ledger.spentMicros);
        assert.equal(summary.money?.wastedMicros, ledger.spentMicrosByType.hcaptcha);
        assert.equal(summary.money?.perSolveMicros, Math.round(ledger.spentMicros / 20));
        const progress = await handle.query(batchProgressQuery);
        assert.equal(progress.money?.spentMicros, ledger.spentMicros);
        const page = await s.solver.batch(batchId).results(0, 500);
        assert.ok(page.results.length > 0);
        for (const r of page.results) assert.equal(r.spentMicros, PRICE_V2 * r.paidSubmits, r.taskKey);

        const spentMetric = await metrics.registry.getSingleMetric('captcha_spent_micro_usd_total')!.get();
        assert.equal(spentMetric.values.reduce((n, v) => n + v.value, 0), ledger.spentMicros);

        const dlq = s.solver.dlq();
        const stats = await untilValue(() => dlq.stats(), (st) => st.total === 8);
        assert.equal(stats.spentMicrosOnDead, ledger.spentMicrosByType.hcaptcha);
        assert.deepEqual(stats.spentMicrosOnDeadByCode, { ERROR_CAPTCHA_UNSOLVABLE: ledger.spentMicrosByType.hcaptcha });

        // a dry run of a bulk retry says what it would cost, by class, and warns about permanent-class entries
        const dry = await dlq.retry({ all: true, dryRun: true, reason: 'price check', by: 'test' });
        assert.equal(dry.matched, 8);
        assert.deepEqual(dry.cost?.byClass, { resubmit: 5 * priceH, permanent: 3 * PRICE_V2 });
        assert.equal(dry.cost?.totalMicros, 5 * priceH + 3 * PRICE_V2);
        // and at worst, every retry unsolvable: each entry pays its submit and every resubmit
        assert.equal(dry.cost?.submitsPerEntry, 1 + MAX_RESUBMITS);
        assert.deepEqual(dry.cost?.worstByClass, { resubmit: 5 * priceH * (1 + MAX_RESUBMITS), permanent: 3 * PRICE_V2 * (1 + MAX_RESUBMITS) });
        assert.equal(dry.cost?.worstMicros, (5 * priceH + 3 * PRICE_V2) * (1 + MAX_RESUBMITS));
        assert.match(dry.cost?.warning ?? '', /permanent-class entries is money thrown away/);
        // over its budget: the validator refuses it, with the worst case; nothing is retried
        const cost = formatUsd(5 * priceH);
        const worst = formatUsd(5 * priceH * (1 + MAX_RESUBMITS));
        await assert.rejects(
          dlq.retry({ errorCodes: ['ERROR_CAPTCHA_UNSOLVABLE'], reason: 'too dear', by: 'test' }, { budget: '0.01' }),
          (err: Error) => {
            const text = `${err.message} ${String((err as { cause?: unknown }).cause)}`;
            assert.match(text, new RegExp(`retrying 5 entries could cost up to \\${worst} at worst \\(${1 + MAX_RESUBMITS} paid submits each when every retry comes back unsolvable: resubmit \\${worst}\\), over its budget of \\$0\\.01; \\${cost} at one submit each`));
            return true;
          },
        );
        assert.equal((await dlq.stats()).byStatus.retrying, 0);
        // within budget it passes the validator
        const fits = await dlq.retry({ errorCodes: ['ERROR_CAPTCHA_UNSOLVABLE'], dryRun: true, reason: 'fits', by: 'test' }, { budget: '1.00' });
        assert.equal(fits.matched, 5);
        await assert.rejects(dlq.retry({ all: true, reason: 'x', by: 'test' }, { budget: '-3' }), BudgetError);
      },
    );
  });

  test('a retry order\'s budget holds at worst: one that fits at one submit each but not at worst is refused; one that fits at worst stays within it when every retry is unsolvable', async (t) => {
    await withStack({ name: 'retry-worst', provider: '2captcha', simulator: { scenarios } }, async (s) => {
      // four resubmit-class entries whose retries come back unsolvable again: each retry pays 1 + maxResubmits submits
      const { handle } = await s.solver.startBatch({ tasks: Array.from({ length: 4 }, (_, i) => task('recaptcha-v2', 'sk-unsolvable', i)), concurrency: 4 });
      await handle.result();
      const dlq = s.solver.dlq();
      await untilValue(() => dlq.stats(), (st) => st.byStatus.dead === 4);
      const expected = 4 * PRICE_V2; // $0.01196
      const worst = expected * (1 + MAX_RESUBMITS); // $0.03588
      const filter = { errorCodes: ['ERROR_CAPTCHA_UNSOLVABLE'], by: 'test' };

      // $0.02 covers one submit each, not the worst case: refused with the worst-case figure and the budget
      const before = s.sim.stats().spentMicros;
      await assert.rejects(dlq.retry({ ...filter, reason: 'seems to fit' }, { budget: '0.02' }), (err: Error) => {
        const text = `${err.message} ${String((err as { cause?: unknown }).cause)}`;
        assert.match(text, new RegExp(`retrying 4 entries could cost up to \\${formatUsd(worst)} at worst .*over its budget of \\$0\\.02; \\${formatUsd(expected)} at one submit each`));
        return true;
      });
      const unchanged = await dlq.stats();
      assert.deepEqual([unchanged.byStatus.dead, unchanged.byStatus.retrying], [4, 0]);
      assert.equal((await dlq.audit()).filter((r) => r.operation === 'retry').length, 0, 'a refused order is not recorded');
      assert.equal(s.sim.stats().spentMicros, before, 'nothing paid');
      // the same order by signal (no validator: its handler checks, at worst too) is ignored; a dry run after it still
      // finds the four entries dead, none retrying
      const signalled = { ...filter, reason: 'by signal', requestId: 'retry-worst-signal', prices: { 'recaptcha-v2': PRICE_V2 }, budgetMicros: 20_000 };
      await s.client.workflow.getHandle(s.config.dlqWorkflowId).signal(dlqRetrySignal, signalled);
      const after = await dlq.retry({ ...filter, dryRun: true, reason: 'after the signal' });
      assert.deepEqual([after.matched, after.skipped], [4, 0]);
      assert.equal((await dlq.audit()).some((r) => r.requestId === signalled.requestId), false);

      // its worst case fits $0.036: it runs, every retry unsolvable on every submit, and the ledger stays within it
      const budgetMicros = 36_000;
      const ran = await dlq.retry({ ...filter, reason: 'fits at worst' }, { budget: '0.036' });
      assert.equal(ran.matched, 4);
      assert.deepEqual([ran.cost?.totalMicros, ran.cost?.worstMicros], [expected, worst]);
      // the order's own tally: its four retries ended, failed (dead again) — every submit they made is in the ledger
      const record = await untilValue(async () => (await dlq.audit()).find((r) => r.requestId === ran.requestId), (r) => r?.outcomes?.failed === 4, 120_000);
      assert.equal(record?.outcomes?.failed, 4);
      const spent = s.sim.stats().spentMicros - before;
      assert.equal(spent, worst, 'four retries, each unsolvable on every submit: the worst case, paid in full');
      assert.ok(spent <= budgetMicros, `spent ${formatUsd(spent)}, over the $0.036 budget`);
      t.diagnostic(`budget ${budgetMicros} µUSD: 4 retries at ${PRICE_V2} a submit, ${1 + MAX_RESUBMITS} submits each, spent ${spent} (at one submit each they would have been counted ${expected})`);
    });
  });

  test('a budget stops a batch within one in-flight window of the cap; resume with a higher budget finishes it', async (t) => {
    await withStack({ name: 'budget', provider: '2captcha', simulator: { scenarios } }, async (s) => {
      // every 5th task unsolvable: its child may resubmit past its reservation (the overspend bound)
      const tasks = Array.from({ length: 40 }, (_, i) => task('recaptcha-v2', i % 5 === 4 ? 'sk-unsolvable' : '6Le-SITEKEY-fine', i));
      const concurrency = 5;
      const budget = 50_000; // $0.05
      const { handle, batchId } = await s.solver.startBatch({ tasks, concurrency, budget: '0.05' });
      const paused = await untilValue(
        () => handle.query(batchProgressQuery),
        (p: BatchProgress) => p.money?.paused !== undefined && p.inFlight === 0,
      );
      assert.ok(paused.money?.paused, `never paused: ${JSON.stringify(paused)}`);
      assert.match(paused.money.paused.message, /would pass the budget of \$0\.05/);
      assert.ok(paused.started < 40, `all ${paused.started} tasks started`);
      const spent = paused.money.spentMicros;
      assert.equal(spent, s.sim.stats().spentMicros, 'progress and ledger differ');
      // it stopped because the next submit would not fit, and passed the cap by at most the window's resubmits
      assert.ok(spent + PRICE_V2 > budget, `stopped early: spent ${spent}`);
      const bound = concurrency * MAX_RESUBMITS * PRICE_V2;
      assert.ok(spent - budget <= bound, `overspent ${spent - budget} > bound ${bound}`);
      t.diagnostic(`budget ${budget} µUSD: spent ${spent} at the pause (overspend ${Math.max(0, spent - budget)}, bound ${bound}), ${paused.started} of 40 started`);

      // a bad budget is refused at the client and by the workflow's validator; the batch is unchanged
      await assert.rejects(s.solver.batch(batchId).resume(undefined, { budget: 'lots' }), BudgetError);
      await assert.rejects(handle.executeUpdate(batchResumeUpdate, { args: [{ budgetMicros: -5 }] }), (err: Error) => {
        assert.match(`${err.message} ${String((err as { cause?: unknown }).cause)}`, /budgetMicros must be a whole number of micro-USD/);
        return true;
      });
      assert.equal((await handle.query(batchProgressQuery)).money?.budgetMicros, budget);

      const resumed = await s.solver.batch(batchId).resume('more money', { budget: '1.00' });
      assert.equal(resumed.money?.budgetMicros, 1_000_000);
      const summary = await handle.result();
      assert.equal(summary.solved + summary.deadLettered, 40);
      assert.equal(summary.money?.spentMicros, s.sim.stats().spentMicros);
      assert.equal(summary.money?.spentMicros, 32 * PRICE_V2 + 8 * (1 + MAX_RESUBMITS) * PRICE_V2);
    });
  });

  test('a negative or non-numeric budget is refused before anything starts', async () => {
    await withStack({ name: 'bad-budget', provider: '2captcha' }, async (s) => {
      for (const [budget, batchId] of [['-1', 'bad-budget-neg'], ['five dollars', 'bad-budget-nan']] as const) {
        await assert.rejects(s.solver.startBatch({ batchId, tasks: [task('recaptcha-v2', 'sk', 1)], budget }), (err: Error) => {
          assert.ok(err instanceof BudgetError);
          assert.match(err.message, /is not an amount in USD: give a number of dollars that is not negative, such as 5\.00/);
          return true;
        });
        await assert.rejects(s.client.workflow.getHandle(batchId).describe(), WorkflowNotFoundError);
      }
      assert.equal(s.sim.stats().paidSubmits, 0);
    });
  });

  test('the CLI: --budget checked before start, money in status, resume --budget, summary, dlq stats, a priced dry run and a refused retry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'captcha-money-'));
    await withStack({ name: 'money-cli', provider: '2captcha', simulator: { scenarios } }, async (s) => {
      const env = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: env0().address,
        TEMPORAL_NAMESPACE: env0().namespace,
        TEMPORAL_TASK_QUEUE: s.taskQueue,
        DLQ_WORKFLOW_ID: s.config.dlqWorkflowId,
        CAPTCHA_PROVIDER: '2captcha',
        ...FAST_ENV,
      };
      const cli = (args: string[]) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
          execFile(process.execPath, [resolve(__dirname, '../bin/captcha-dlq.js'), ...args], { env, timeout: 60_000 }, (err, stdout, stderr) =>
            res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) }),
          );
        });
      const file = join(dir, 'tasks.json');
      const tasks = [
        ...Array.from({ length: 12 }, (_, i) => task('recaptcha-v2', '6Le-SITEKEY-fine', i)),
        ...Array.from({ length: 2 }, (_, i) => task('recaptcha-v2', 'sk-unsolvable', 12 + i)),
        ...Array.from({ length: 2 }, (_, i) => task('recaptcha-v2', 'sk-bad-pageurl', 14 + i)),
      ];
      await writeFile(file, JSON.stringify(tasks));

      for (const bad of ['--budget=-1', '--budget=abc']) {
        const run = await cli(['batch', 'start', file, '--batch-id', 'money-cli-bad', bad]);
        assert.equal(run.code, 2, `${bad}: ${run.stdout}${run.stderr}`);
        assert.match(run.stderr, /--budget: budget "[^"]*" is not an amount in USD/);
      }
      await assert.rejects(s.client.workflow.getHandle('money-cli-bad').describe(), WorkflowNotFoundError);

      const start = await cli(['batch', 'start', file, '--batch-id', 'money-cli', '--concurrency', '3', '--budget', '0.02']);
      assert.equal(start.code, 0, start.stderr);
      assert.match(start.stdout, /budget \$0\.02/);
      const handle = s.client.workflow.getHandle('money-cli');
      await untilValue(() => handle.query(batchProgressQuery), (p: BatchProgress) => p.money?.paused !== undefined && p.inFlight === 0);
      const status = await cli(['batch', 'status', 'money-cli']);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /spent[\s│]+\$0\.0\d+/);
      assert.match(status.stdout, /budget[\s│]+\$0\.02/);
      assert.match(status.stdout, /would pass the budget of \$0\.02/);
      const resumed = await cli(['batch', 'resume', 'money-cli', '--budget', '1.00']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, /of \$1\.00/);
      const watched = await cli(['batch', 'watch', 'money-cli']);
      assert.equal(watched.code, 0, watched.stderr);
      const ledger = s.sim.stats().spentMicros;
      assert.match(watched.stdout, new RegExp(`spent[\\s│]+\\${formatUsd(ledger)}`));
      assert.match(watched.stdout, new RegExp(`wasted on failures[\\s│]+\\${formatUsd(2 * (1 + MAX_RESUBMITS) * PRICE_V2)}`));

      const dlqStats = await untilValue(() => cli(['dlq', 'stats']), (r) => r.stdout.includes('money spent on held entries'));
      assert.match(dlqStats.stdout, new RegExp(`money spent on held entries[\\s│]+\\${formatUsd(2 * (1 + MAX_RESUBMITS) * PRICE_V2)}`));
      assert.match(dlqStats.stdout, /ERROR_CAPTCHA_UNSOLVABLE[\s│]+\$0\.017940/);
      // the CLI's bulk retry leaves permanent-class entries out: its cost is the resubmit-class ones only
      const bulk = await cli(['dlq', 'retry', '--all', '--dry-run']);
      assert.equal(bulk.code, 0, bulk.stderr);
      assert.match(bulk.stdout, /would cost \$0\.005980 at one submit per entry \(resubmit \$0\.005980\)/);
      assert.match(bulk.stdout, /up to \$0\.017940 at worst, 3 paid submits per entry if every retry comes back unsolvable \(resubmit \$0\.017940\): what a --budget is checked against/);
      // named, they are priced too, with the warning
      const dry = await cli(['dlq', 'retry', '--class', 'resubmit,permanent', '--dry-run']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /would cost \$0\.011960 at one submit per entry \((resubmit \$0\.005980, permanent \$0\.005980|permanent \$0\.005980, resubmit \$0\.005980)\)/);
      assert.match(dry.stdout, /warning: retrying permanent-class entries is money thrown away/);
      // $0.01 covers the two entries at one submit each ($0.00598) but not at worst ($0.01794): refused, naming both
      const refused = await cli(['dlq', 'retry', '--code', 'ERROR_CAPTCHA_UNSOLVABLE', '--reason', 'too dear', '--budget', '0.01']);
      assert.equal(refused.code, 2, refused.stdout + refused.stderr);
      assert.match(
        refused.stderr,
        /the DLQ refused: retry order refused: retrying 2 entries could cost up to \$0\.017940 at worst \(3 paid submits each when every retry comes back unsolvable: resubmit \$0\.017940\), over its budget of \$0\.01[0-9]*; \$0\.005980 at one submit each/,
      );
    });
    await rm(dir, { recursive: true, force: true });
  });
});
