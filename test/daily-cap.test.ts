// The daily account cap across batches: its state in the account workflow, leased by batches in chunks. Two batches
// running together against one cap both pause with the reason, the simulator's ledger within the cap; a raised cap
// wakes them and they finish. Plus the pure lease rules (src/domain/daily-cap.ts): partial grants, idempotent
// requests, the UTC rollover, the waiters told of a new cap.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config';
import { grantLease, newDailyCap, nextUtcMidnight, rollOver, setCap } from '../src/domain/daily-cap';
import { DEFAULT_PRICES, submitCostMicros } from '../src/domain/prices';
import { resolveSolvePolicy } from '../src/domain/policies';
import { batchProgressQuery, type BatchProgress } from '../workflows/messages';
import { startStack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';
import { untilValue } from './helpers/wait';

const PRICE = submitCostMicros(DEFAULT_PRICES, '2captcha', 'recaptcha-v2');

describe('daily cap rules', () => {
  test('leases grant what fits, once per request id, and a new UTC day starts from nothing', () => {
    const t0 = Date.parse('2026-11-30T23:00:00Z');
    const cap = newDailyCap(t0);
    const lease = (requestId: string, micros: number, at = t0) => grantLease(cap, { requestId, holder: 'b1', micros, capMicros: 100 }, at);
    assert.equal(lease('b1/cap-1', 60).grantedMicros, 60);
    const short = lease('b1/cap-2', 60);
    assert.deepEqual([short.grantedMicros, short.leasedMicros, short.resetsAt], [40, 100, '2026-12-01T00:00:00.000Z']);
    assert.equal(short.message, 'daily cap of $0.000100 reached at 2026-11-30T23:00:00.000Z; resets at 00:00 UTC');
    assert.equal(lease('b1/cap-2', 60).grantedMicros, 40, 'a repeated request: the same answer, nothing more leased');
    assert.equal(lease('b1/cap-3', 60).grantedMicros, 0);
    assert.deepEqual(cap.waiters, ['b1']);
    // raised: the refused batches are returned to be told
    assert.deepEqual(setCap(cap, 200, t0), ['b1']);
    assert.equal(lease('b1/cap-4', 60).grantedMicros, 60);
    // the next UTC day: nothing leased, the operator's cap stays
    const t1 = Date.parse('2026-12-01T00:00:01Z');
    rollOver(cap, t1);
    assert.deepEqual([cap.day, cap.leasedMicros, cap.capMicros, cap.reachedAt], ['2026-12-01', 0, 200, undefined]);
    assert.equal(nextUtcMidnight(t1), '2026-12-02T00:00:00.000Z');
    assert.throws(() => loadConfig({ CAPTCHA_DAILY_CAP_USD: '-5' }), /CAPTCHA_DAILY_CAP_USD.*must be an amount in USD that is not negative/);
    assert.equal(loadConfig({ CAPTCHA_DAILY_CAP_USD: '2.50' }).account.dailyCapMicros, 2_500_000);
  });
});

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

describe('daily cap', () => {
  test('two batches together against a cap: both pause with the reason within the cap; a raised cap finishes them', async (t) => {
    const CAP = 50_000; // $0.05: 16 submits at $0.00299, for 30 tasks
    const stack = await startStack(env, {
      name: 'daily-cap',
      provider: '2captcha',
      env: { CAPTCHA_DAILY_CAP_USD: '0.05', CAPTCHA_DAILY_CAP_CHUNK_SUBMITS: '2', ACCOUNT_WORKFLOW_ID: `account-daily-cap-${Date.now()}` },
    });
    try {
      await stack.run(async () => {
        const tasks = (b: string) => Array.from({ length: 15 }, (_, i) => ({ type: 'recaptcha-v2' as const, sitekey: '6Le-SITEKEY-cap', pageUrl: `https://example.com/${b}/${i}`, key: `${b}-${i}` }));
        const [a, b] = await Promise.all([
          stack.solver.startBatch({ batchId: 'cap-a', tasks: tasks('a'), concurrency: 3 }),
          stack.solver.startBatch({ batchId: 'cap-b', tasks: tasks('b'), concurrency: 3 }),
        ]);
        const pausedBoth = async (): Promise<BatchProgress[]> => Promise.all([a.handle.query(batchProgressQuery), b.handle.query(batchProgressQuery)]);
        const paused = await untilValue('both batches paused by the cap', pausedBoth, (ps) => ps.every((p) => p.dailyCap?.paused !== undefined && p.inFlight === 0));
        for (const p of paused) assert.match(p.dailyCap!.paused!.message, /^paused: daily cap of \$0\.05 reached at \d{4}-\d\d-\d\dT[\d:.]+Z; resets at 00:00 UTC$/);
        const spent = stack.sim.stats().spentMicros;
        t.diagnostic(`ledger ${spent} micro-USD (${spent / PRICE} submits) against a cap of ${CAP}`);
        // no resubmits here (every task solves first time), so the bound adds nothing: the ledger is within the cap,
        // and short of it by less than one submit per batch (the unspent end of each lease)
        assert.ok(spent <= CAP, `spent ${spent} over the cap ${CAP}`);
        assert.ok(spent > CAP - 2 * PRICE, `spent ${spent}: the cap stopped the batches too early`);
        const leased = paused.reduce((n, p) => n + p.dailyCap!.leasedMicros, 0);
        assert.ok(leased <= CAP, `leased ${leased}`);
        const view = await stack.solver.account().dailyCap();
        assert.equal(view?.leasedMicros, leased);
        assert.ok(view?.reachedAt);
        assert.equal(paused.reduce((n, p) => n + p.solved, 0), spent / PRICE);

        // raised: the account tells both, they lease again and finish
        const raised = await stack.solver.account().setDailyCap('1.00', 'test');
        assert.equal(raised.capMicros, 1_000_000);
        const [sa, sb] = await Promise.all([a.handle.result(), b.handle.result()]);
        assert.deepEqual([sa.solved, sb.solved], [15, 15]);
        assert.equal(stack.sim.stats().spentMicros, 30 * PRICE);
        assert.ok(stack.sim.stats().spentMicros <= 1_000_000);
      });
    } finally {
      await stack.close();
    }
  });

  test('the overspend bound: children in flight that resubmit pass the cap by at most window × maxResubmits × price', async (t) => {
    const CAP = 20_000; // $0.02
    const WINDOW = 3;
    const BOUND = WINDOW * resolveSolvePolicy().maxResubmits * PRICE;
    const stack = await startStack(env, {
      name: 'daily-cap-bound',
      provider: '2captcha',
      simulator: { scenarios: { sitekeys: { 'sk-unsolvable': { outcome: { type: 'unsolvable', afterMs: 5 } } } } },
      env: { CAPTCHA_DAILY_CAP_USD: '0.02', CAPTCHA_DAILY_CAP_CHUNK_SUBMITS: '1', ACCOUNT_WORKFLOW_ID: `account-daily-cap-bound-${Date.now()}` },
    });
    try {
      await stack.run(async () => {
        // every task comes back unsolvable: each child pays 1 + maxResubmits submits, two more than it reserved
        const tasks = Array.from({ length: 20 }, (_, i) => ({ type: 'recaptcha-v2' as const, sitekey: 'sk-unsolvable', pageUrl: `https://example.com/u/${i}`, key: `u-${i}` }));
        const { handle } = await stack.solver.startBatch({ batchId: 'cap-bound', tasks, concurrency: WINDOW });
        const p = await untilValue('the batch paused by the cap', () => handle.query(batchProgressQuery), (q) => q.dailyCap?.paused !== undefined && q.inFlight === 0);
        assert.match(p.dailyCap!.paused!.message, /daily cap of \$0\.02 reached at/);
        const spent = stack.sim.stats().spentMicros;
        t.diagnostic(`ledger ${spent} micro-USD against a cap of ${CAP}: over by ${Math.max(0, spent - CAP)}, bound ${BOUND}`);
        assert.ok(spent <= CAP + BOUND, `spent ${spent} passes cap + bound ${CAP + BOUND}`);
        assert.ok(p.started < 20, 'the cap held tasks back');
        await handle.cancel();
        await handle.result().catch(() => undefined);
      });
    } finally {
      await stack.close();
    }
  });
});
