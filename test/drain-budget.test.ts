// The scheduled drain's budget per run: a Temporal Schedule run over a DLQ worth more than its budget retries the
// entries that failed longest ago while their worst case (every resubmit paid) fits, leaves the rest for the next
// run, and says so in its result and in the DLQ's audit; the simulator's ledger stays within the budget. A bad budget
// is refused before the schedule exists.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ScheduleNotFoundError } from '@temporalio/client';
import { BudgetError } from '../src/client';
import { resolveSolvePolicy } from '../src/domain/policies';
import { DEFAULT_PRICES, formatUsd, submitCostMicros } from '../src/domain/prices';
import type { DlqEntry, DrainResult } from '../workflows/messages';
import { allDlqEntries, startStack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';
import { untilValue } from './helpers/wait';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

const PRICE = submitCostMicros(DEFAULT_PRICES, '2captcha', 'recaptcha-v2');
const WORST = PRICE * (1 + resolveSolvePolicy().maxResubmits);
const oldestFirst = (a: DlqEntry, b: DlqEntry) => (a.lastFailedAt < b.lastFailedAt ? -1 : a.lastFailedAt > b.lastFailedAt ? 1 : a.seq - b.seq);

describe('drain budget', () => {
  test('a schedule run over a DLQ worth more than its budget retries the oldest entries that fit; the ledger stays within it', async () => {
    const stack = await startStack(env, {
      name: 'drain-budget',
      provider: '2captcha',
      simulator: { scenarios: { sitekeys: { 'sk-unsolvable': { outcome: { type: 'unsolvable', afterMs: 5 } } } } },
    });
    try {
      await stack.run(async () => {
        // ten resubmit-class entries: a retry of each pays up to three submits, as it comes back unsolvable again
        const tasks = Array.from({ length: 10 }, (_, i) => ({ type: 'recaptcha-v2' as const, sitekey: 'sk-unsolvable', pageUrl: `https://example.com/${i}`, key: `t${i}` }));
        const { handle } = await stack.solver.startBatch({ tasks, concurrency: 10 });
        await handle.result();
        const dlq = stack.solver.dlq();
        await untilValue('10 dead entries', () => dlq.stats(), (st) => st.byStatus.dead === 10);
        const entries = (await allDlqEntries(stack.solver)).sort(oldestFirst);

        // $0.04: four entries' worst case (4 × $0.00897 = $0.03588); ten at one submit each ($0.0299) would seem to fit
        const budget = '0.04';
        const id = `drain-budget-${stack.taskQueue}`;
        await assert.rejects(stack.solver.createDrainSchedule({ everyMs: 3_600_000, scheduleId: id, budget: 'lots', by: 'test' }), (err: Error) => {
          assert.ok(err instanceof BudgetError);
          assert.match(err.message, /^budget "lots" is not an amount in USD/);
          return true;
        });
        await assert.rejects(stack.solver.drainSchedule(id).describe(), ScheduleNotFoundError);
        const schedule = await stack.solver.createDrainSchedule({ everyMs: 3_600_000, scheduleId: id, budget, by: 'test' });
        const listed = await untilValue('the schedule to be listed', () => stack.solver.listDrainSchedules(), (l) => l.some((s) => s.scheduleId === id), 30_000);
        assert.equal(listed.find((s) => s.scheduleId === id)?.budgetMicros, 40_000);

        const runOnce = async (n: number): Promise<DrainResult> => {
          const before = stack.sim.stats().spentMicros;
          await schedule.trigger();
          const action = await untilValue(`run ${n} of the schedule`, () => schedule.describe(), (d) => d.info.recentActions.length >= n);
          const run = action.info.recentActions[n - 1]!.action.workflow;
          const result = await stack.client.workflow.getHandle<() => Promise<DrainResult>>(run.workflowId, undefined, { firstExecutionRunId: run.firstExecutionRunId }).result();
          // wait for the retries to come back dead, then read what they paid
          await untilValue('the retries to end', () => dlq.stats(), (st) => st.byStatus.retrying === 0 && st.byStatus.dead === 10);
          const spent = stack.sim.stats().spentMicros - before;
          assert.ok(spent <= 40_000, `run ${n} spent ${formatUsd(spent)}, over the $0.04 budget`);
          assert.equal(spent, 4 * WORST, `run ${n}: four retries, each unsolvable on every submit`);
          return result;
        };

        const first = await runOnce(1);
        assert.equal(first.matched, 4);
        assert.deepEqual([...first.sample].sort(), entries.slice(0, 4).map((e) => e.id).sort(), 'the four oldest');
        assert.deepEqual(first.budget, { budgetMicros: 40_000, submitsPerEntry: 3, reservedMicros: 4 * WORST, left: 6, leftCostMicros: 6 * PRICE });
        const audit = (await dlq.audit()).find((r) => r.requestId === first.requestId);
        assert.deepEqual(audit?.budget, first.budget);

        // the next run takes the next four: the retried ones failed again and went to the back
        const second = await runOnce(2);
        assert.deepEqual([...second.sample].sort(), entries.slice(4, 8).map((e) => e.id).sort(), 'the next four');
        assert.deepEqual([second.matched, second.budget?.left], [4, 6]);
        await schedule.delete();
      });
    } finally {
      await stack.close();
    }
  });

  test('`schedule create --budget` refuses a bad amount in one sentence before connecting', async () => {
    const run = await new Promise<{ code: number; stderr: string }>((res) => {
      execFile(
        process.execPath,
        [resolve(__dirname, '../bin/captcha-dlq.js'), 'schedule', 'create', '--every', '1h', '--budget=-2.50'],
        { env: { PATH: process.env.PATH, HOME: process.env.HOME, TEMPORAL_ADDRESS: '127.0.0.1:9' }, timeout: 60_000 },
        (err, _stdout, stderr) => res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr: String(stderr) }),
      );
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--budget: budget "-2\.50" is not an amount in USD: give a number of dollars that is not negative, such as 5\.00/);
  });
});
