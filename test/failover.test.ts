// Several providers with failover, on a real Temporal server and two simulators over real HTTP (one per dialect):
// a primary out of slots and back, a primary whose account runs dry, a resubmit elsewhere after an unsolvable answer,
// and routes refused before anything starts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CaptchaSolver, InvalidRouteError } from '../src/client';
import { loadConfig } from '../src/config';
import { startSimulator, type ScenarioSpec, type Simulator } from '../src/simulator/server';
import { createRouter, createWorker } from '../src/worker';
import type { ProviderRouter } from '../src/providers/routes';
import type { SolveResult } from '../src/domain/types';
import { DEFAULT_PRICES, submitCostMicros } from '../src/domain/prices';
import { batchProgressQuery } from '../workflows/messages';
import { FAST_ENV, SENTINEL_KEY } from './helpers/stack';
import { bundleWorkflows, startTestEnv, uniqueTaskQueue, type TestEnv } from './helpers/temporal';

const PRIMARY = 'primary';
/** the fallback account's key: 32 characters, like the sentinel */
const FALLBACK_KEY = 'FALLBACKKEY0123456789abcdef01234';
const FALLBACK = 'fallback';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

interface Failover {
  primary: Simulator;
  fallback: Simulator;
  solver: CaptchaSolver;
  router: ProviderRouter;
  taskQueue: string;
  /** what the activities told the metrics: submits that went past a provider */
  switchEvents: { from: string; to: string; reason: string }[];
}

/** Two simulators (2captcha v2 and CapSolver dialects), one worker routing over both, a client on the same config. */
async function withFailover<T>(
  name: string,
  opts: { primary?: ScenarioSpec; fallback?: ScenarioSpec; env?: Record<string, string> },
  fn: (f: Failover) => Promise<T>,
): Promise<T> {
  const [primary, fallback] = await Promise.all([
    startSimulator({ provider: '2captcha-v2', timeScale: 0.004, apiKey: SENTINEL_KEY, ...(opts.primary && { scenarios: opts.primary }) }),
    startSimulator({ provider: 'capsolver', timeScale: 0.004, apiKey: FALLBACK_KEY, ...(opts.fallback && { scenarios: opts.fallback }) }),
  ]);
  const taskQueue = uniqueTaskQueue(name);
  const config = loadConfig({
    ...FAST_ENV,
    TEMPORAL_TASK_QUEUE: taskQueue,
    DLQ_WORKFLOW_ID: `dlq-${taskQueue}`,
    FALLBACK_KEY,
    CAPTCHA_PROVIDERS: JSON.stringify([
      { name: PRIMARY, provider: '2captcha-v2', apiKey: SENTINEL_KEY, baseUrl: primary.url },
      { name: FALLBACK, provider: 'capsolver', apiKeyEnv: 'FALLBACK_KEY', baseUrl: fallback.url },
      // configured, never reached: no hCaptcha (the capability table)
      { name: 'legacy', provider: 'captchaai', apiKey: SENTINEL_KEY, baseUrl: primary.url },
    ]),
    ...opts.env,
  });
  const router = createRouter(config);
  const switchEvents: Failover['switchEvents'] = [];
  const worker = await createWorker({
    activityEvents: { providerSwitch: (e) => switchEvents.push(e) },
    config,
    connection: env.nativeConnection,
    client: env.client,
    provider: router.client(PRIMARY),
    router,
    workflowBundle: await bundleWorkflows(),
  });
  try {
    return await worker.runUntil(fn({ primary, fallback, solver: new CaptchaSolver(env.client, config), router, taskQueue, switchEvents }));
  } finally {
    await router.close();
    await Promise.all([primary.close(), fallback.close()]);
  }
}

const recaptcha = (i: number, sitekey = '6Le-FAILOVER') => ({ type: 'recaptcha-v2', sitekey, pageUrl: `https://example.com/p/${i}`, key: `t${i}` });

describe('provider failover', () => {
  test('a 200-task batch whose primary is out of slots after 50 tasks and back: every task solved, the switch and the switch back in progress and history, none paid twice', async () => {
    // the primary refuses three submits after its 50th (the two that open its circuit, and one half-open probe), then serves again
    const primarySpec: ScenarioSpec = {
      schedule: [
        { afterSubmits: 50, set: { type: 'down', code: 'ERROR_NO_SLOT_AVAILABLE' } },
        { afterSubmits: 53, set: { type: 'up' } },
      ],
    };
    const healthEnv = { CAPTCHA_HEALTH_CAPACITY_FAILURES: '2', CAPTCHA_HEALTH_COOLDOWN_MS: '100' };
    await withFailover('noslot', { primary: primarySpec, env: healthEnv }, async ({ primary, fallback, solver, router, switchEvents }) => {
      const tasks = Array.from({ length: 200 }, (_, i) => recaptcha(i));
      const { batchId, handle } = await solver.startBatch({ tasks, concurrency: 8, route: [PRIMARY, FALLBACK] });
      const summary = await handle.result();
      assert.equal(summary.solved, 200);
      assert.equal(summary.deadLettered, 0);
      const progress = await handle.query(batchProgressQuery);
      const by = progress.byProvider ?? {};
      const onPrimary = by[PRIMARY]?.solved ?? 0;
      const onFallback = by[FALLBACK]?.solved ?? 0;
      assert.equal(onPrimary + onFallback, 200, JSON.stringify(by));
      // the three refused submits went to the fallback in the same call; what the open circuit held back too
      assert.ok(onFallback >= 3, `fallback solved ${onFallback}`);
      assert.ok(onPrimary > 50, `the primary never took traffic back: ${onPrimary}`);
      const runs = progress.providerRuns ?? [];
      assert.equal(runs[0]?.provider, PRIMARY, JSON.stringify(runs));
      assert.ok(runs.some((r) => r.provider === FALLBACK), JSON.stringify(runs));
      assert.equal(runs.at(-1)?.provider, PRIMARY, `no switch back: ${JSON.stringify(runs)}`);
      assert.equal(router.healthOf(PRIMARY)?.state, 'closed');
      assert.ok((router.healthOf(PRIMARY)?.opened ?? 0) >= 1);

      // the simulators' ledgers: one paid submit per task, each on the provider that solved it
      const [p, f] = [primary.stats(), fallback.stats()];
      assert.equal(p.outcomes['in.php'].ERROR_NO_SLOT_AVAILABLE, 3);
      assert.equal(p.paidSubmits, onPrimary);
      assert.equal(f.paidSubmits, onFallback);
      assert.equal(p.duplicatePaidSubmits + f.duplicatePaidSubmits, 0);
      // the metrics' switch counter saw each switch: the refusals, and what the open circuit held back
      assert.equal(switchEvents.filter((e) => e.reason === 'ERROR_NO_SLOT_AVAILABLE').length, 3);
      assert.equal(switchEvents.length, onFallback);
      assert.ok(switchEvents.every((e) => e.from === PRIMARY && e.to === FALLBACK));

      // the switch in a solve's result, hence in its history
      let switched: SolveResult | undefined;
      for (const t of tasks) {
        const result = (await env.client.workflow.getHandle(`${batchId}/${t.key}`).result()) as SolveResult;
        if (result.switches?.length) {
          switched = result;
          break;
        }
      }
      assert.ok(switched, 'no solve recorded a switch');
      assert.equal(switched.provider, FALLBACK);
      assert.equal(switched.switches![0]!.from, PRIMARY);
      assert.match(switched.switches![0]!.reason, /ERROR_NO_SLOT_AVAILABLE/);
      // each paid submit priced by the provider that took it (the default price table: CapSolver is the cheaper)
      assert.equal(switched.spentMicros, switched.paidSubmits * submitCostMicros(DEFAULT_PRICES, 'capsolver', 'recaptcha-v2'));
      const first = (await env.client.workflow.getHandle(`${batchId}/${tasks[0]!.key}`).result()) as SolveResult;
      assert.equal(first.provider, PRIMARY);
      assert.equal(first.spentMicros, first.paidSubmits * submitCostMicros(DEFAULT_PRICES, '2captcha-v2', 'recaptcha-v2'));
    });
  });

  test('a primary whose account runs dry: the rest solved on the fallback, no submit to the dry account after its circuit opened', async () => {
    const primarySpec: ScenarioSpec = { schedule: [{ afterSubmits: 10, set: { type: 'balance', balance: 0 } }] };
    // a long cooldown: no half-open probe during the test
    await withFailover('dry', { primary: primarySpec, env: { CAPTCHA_HEALTH_COOLDOWN_MS: '600000' } }, async ({ primary, fallback, solver, router }) => {
      const concurrency = 4;
      const tasks = Array.from({ length: 40 }, (_, i) => recaptcha(i));
      const { handle } = await solver.startBatch({ tasks, concurrency, route: [PRIMARY, FALLBACK] });
      const summary = await handle.result();
      assert.equal(summary.solved, 40);
      const progress = await handle.query(batchProgressQuery);
      assert.equal(progress.byProvider?.[PRIMARY]?.solved, 10);
      assert.equal(progress.byProvider?.[FALLBACK]?.solved, 30);
      assert.equal(progress.circuit.open, false, 'the batch never saw the account error: the fallback took the task');
      const p = primary.stats();
      const refused = p.outcomes['in.php'].ERROR_ZERO_BALANCE ?? 0;
      // every submit the primary saw was paid, or refused while in flight when the circuit opened (at most the window)
      assert.ok(refused >= 1 && refused <= concurrency, `refused ${refused}`);
      assert.equal(p.requests['in.php'], 10 + refused);
      assert.equal(fallback.stats().paidSubmits, 30);
      assert.equal(router.healthOf(PRIMARY)?.state, 'open');
      assert.equal(router.healthOf(PRIMARY)?.code, 'ERROR_ZERO_BALANCE');
    });
  });

  test('a resubmit after an unsolvable answer goes to the other provider; the only task paid on two providers', async () => {
    const primarySpec: ScenarioSpec = { sitekeys: { '6Le-SK-HARD': { outcome: { type: 'unsolvable', afterMs: 5 } } } };
    await withFailover('unsolvable', { primary: primarySpec }, async ({ primary, fallback, solver }) => {
      const result = await solver.solve({ type: 'recaptcha-v2', sitekey: '6Le-SK-HARD', pageUrl: 'https://example.com/hard' }, { route: [PRIMARY, FALLBACK] });
      assert.equal(result.provider, FALLBACK);
      assert.equal(result.paidSubmits, 2);
      assert.deepEqual(
        result.switches?.map((s) => [s.from, s.to, s.reason]),
        [[PRIMARY, FALLBACK, 'ERROR_CAPTCHA_UNSOLVABLE']],
      );
      assert.equal(primary.stats().paidSubmits, 1);
      assert.equal(fallback.stats().paidSubmits, 1);
      // a token report (a refund) goes to the provider that solved the token, not the first of the roster
      const report = await solver.reportToken(result.taskKey, 'bad');
      assert.equal(report.status, 'sent');
      assert.equal(report.status === 'sent' && report.provider, FALLBACK);
      assert.deepEqual([primary.stats().reports, fallback.stats().reports], [{ good: 0, bad: 0 }, { good: 0, bad: 1 }]);
    });
  });

  test('a dead entry retried with a named provider (`dlq retry --provider`): solved there; the entry named the provider that failed', async () => {
    const primarySpec: ScenarioSpec = { sitekeys: { '6Le-SK-DEAD': { outcome: { type: 'unsolvable', afterMs: 5 } } } };
    await withFailover('dlqretry', { primary: primarySpec, env: { SOLVE_MAX_RESUBMITS: '0' } }, async ({ fallback, solver }) => {
      await assert.rejects(solver.solve({ type: 'recaptcha-v2', sitekey: '6Le-SK-DEAD', pageUrl: 'https://example.com/dead', key: 'dead-1' }, { route: [PRIMARY] }));
      const dlq = solver.dlq();
      const entries = async () => (await dlq.list({}).catch(() => ({ entries: [] }))).entries;
      for (let i = 0; (await entries()).length === 0; i++) {
        assert.ok(i < 600, 'the failure never reached the DLQ');
        await new Promise((r) => setTimeout(r, 100));
      }
      const [entry] = await entries();
      assert.equal(entry?.provider, PRIMARY);
      assert.equal(entry?.history[0]?.provider, PRIMARY);
      const order = await dlq.retry({ ids: [entry!.id], route: [FALLBACK], reason: 'another solver pool', requestId: 'retry-on-fallback' });
      assert.equal(order.matched, 1);
      for (let i = 0; ; i++) {
        const st = await dlq.stats({});
        if (st.recovered === 1) break;
        assert.ok(i < 600, `not recovered: ${JSON.stringify(st)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(fallback.stats().paidSubmits, 1);
      await assert.rejects(dlq.retry({ ids: [entry!.id], route: ['nosuch', 'nosuch'], reason: 'x' }), (err: Error) =>
        /route names a provider twice/.test(String((err.cause as Error | undefined)?.message)),
      );
    });
  });

  test('bad routes are refused before anything starts, with one sentence', async () => {
    await withFailover('badroute', {}, async ({ solver, taskQueue, primary }) => {
      await assert.rejects(
        solver.startBatch({ batchId: `bad-${taskQueue}`, tasks: [recaptcha(1)], route: [PRIMARY, 'nosuch'] }),
        (err: unknown) => err instanceof InvalidRouteError && /unknown provider "nosuch" in the route; configured: primary, fallback, legacy/.test(err.message),
      );
      await assert.rejects(
        solver.solve({ type: 'hcaptcha', sitekey: '6Le-SK-HCAPTCHA', pageUrl: 'https://example.com/h' }, { route: ['legacy'] }),
        (err: unknown) => err instanceof InvalidRouteError && err.message === 'no provider in the route legacy solves hcaptcha tasks',
      );
      await assert.rejects(solver.startBatch({ tasks: [recaptcha(1)], route: [] }), InvalidRouteError);
      // nothing started: no workflow on the task queue, no request to a provider
      const started: string[] = [];
      for await (const wf of env.client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) started.push(wf.workflowId);
      assert.deepEqual(started, []);
      assert.equal(primary.stats().requests['in.php'], 0);
    });
  });
});
