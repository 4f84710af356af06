// The worker's Prometheus endpoint after a small batch on a real server and simulator: our counters hold exactly what
// happened (solved, failures by class, dead-lettered, provider calls by endpoint and outcome, DLQ depth), and the SDK's
// runtime metrics are served by its exporter and relayed into the same scrape.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { createWorkerMetrics, resolveBindAddress, sdkMetricsUrlOf, startMetricsServer, type MetricsServer, type WorkerMetrics } from '../src/metrics';
import { installRuntime } from '../src/temporal';
import { dlqStatsQuery } from '../workflows/messages';
import { startStack, type Stack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';

let env: TestEnv;
let sdkBind: string;
before(async () => {
  // the runtime is per process and must exist before the test server's connections: install it with the exporter
  sdkBind = await resolveBindAddress('127.0.0.1:0');
  installRuntime((process.env.TEMPORAL_TEST_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN', { metrics: { prometheusBindAddress: sdkBind } });
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

/** `name{a="x",b="y"} 3` lines → value of the series whose labels include `labels` (summed over the others). */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      sum += Number(m[3]);
      found = true;
    }
  }
  return found ? sum : NaN;
}

async function scrape(url: string): Promise<{ status: number; type: string; text: string }> {
  const response = await fetch(url);
  return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
}

test('a small batch: our counters match what happened, DLQ depth included, and the SDK metrics are on the same scrape', async () => {
  let running = false;
  // eslint-disable-next-line prefer-const -- assigned after dlqStats, which reads it lazily
  let stack!: Stack;
  const dlqStats = () =>
    stack.client.workflow
      .getHandle(stack.config.dlqWorkflowId)
      .query(dlqStatsQuery, { top: 1 })
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      });
  const metrics: WorkerMetrics = createWorkerMetrics({ dlqStats, dlqRefreshMs: 0 });
  stack = await startStack(env, {
    name: 'metrics',
    providerOptions: { onCall: metrics.providerCall },
    workerExtras: { activityEvents: metrics.activityEvents },
    simulator: {
      scenarios: {
        sitekeys: {
          'sk-metrics-no-slot': { noSlot: 1 },
          'sk-metrics-bad-page': { submit: [{ type: 'error', code: 'ERROR_PAGEURL' }] },
        },
      },
    },
  });
  const server: MetricsServer = await startMetricsServer({ metrics, host: '127.0.0.1', port: 0, sdkMetricsUrl: sdkMetricsUrlOf(sdkBind), healthy: () => running });
  try {
    assert.equal((await scrape(`${server.url}/healthz`)).status, 503, 'not healthy before the worker runs');
    const before = await scrape(`${server.url}/metrics`);
    assert.equal(value(before.text, 'captcha_dlq_depth'), 0, 'no DLQ yet: depth 0');
    assert.equal(value(before.text, 'captcha_dlq_stats_up'), 1);

    const task = (sitekey: string, key: string) => ({ type: 'recaptcha-v2', sitekey, pageUrl: `https://example.com/${key}`, key });
    const tasks = [task('sk-metrics-a', 'a'), task('sk-metrics-b', 'b'), task('sk-metrics-no-slot', 'c'), task('sk-metrics-bad-page', 'd')];
    // scraped while the worker runs: the DLQ answers its stats query through a worker
    const { summary, scraped } = await stack.run(async () => {
      running = true;
      assert.equal((await scrape(`${server.url}/healthz`)).status, 200);
      const { handle } = await stack.solver.startBatch({ tasks, concurrency: 4 });
      const result = await handle.result();
      // the dead-letter report is a signal: wait (bounded) until the DLQ has taken it
      for (let i = 0; i < 50 && ((await dlqStats())?.total ?? 0) < 1; i++) await new Promise((r) => setTimeout(r, 100));
      return { summary: result, scraped: await scrape(`${server.url}/metrics`) };
    });
    running = false;
    assert.equal(summary.solved, 3);
    assert.equal(summary.deadLettered, 1);

    const { status, type, text } = scraped;
    assert.equal(status, 200);
    assert.match(type, /^text\/plain/);
    const provider = 'captchaai';
    assert.equal(value(text, 'captcha_solved_total', { provider }), 3);
    assert.equal(value(text, 'captcha_failures_total', { provider, stage: 'submit', class: 'transient' }), 1, 'the no-slot answer');
    assert.equal(value(text, 'captcha_failures_total', { provider, stage: 'submit', class: 'permanent' }), 1, 'the bad page');
    assert.ok(Number.isNaN(value(text, 'captcha_failures_total', { stage: 'poll' })), 'no poll failed');
    assert.equal(value(text, 'captcha_dead_lettered_total', { provider, class: 'permanent' }), 1);
    assert.equal(value(text, 'captcha_provider_calls_total', { provider, endpoint: 'in.php', outcome: 'ok' }), 3);
    assert.equal(value(text, 'captcha_provider_calls_total', { provider, endpoint: 'in.php', outcome: 'transient' }), 1);
    assert.equal(value(text, 'captcha_provider_calls_total', { provider, endpoint: 'in.php', outcome: 'permanent' }), 1);
    assert.equal(value(text, 'captcha_provider_calls_total', { provider, endpoint: 'res.php', outcome: 'ready' }), 3);
    // every request the simulator saw was counted once, with its endpoint
    const sim = stack.sim.stats();
    assert.equal(value(text, 'captcha_provider_calls_total', { endpoint: 'in.php' }), sim.requests['in.php']);
    assert.equal(value(text, 'captcha_provider_calls_total', { endpoint: 'res.php' }), sim.requests['res.php']);
    assert.equal(value(text, 'captcha_provider_call_duration_seconds_count', { endpoint: 'in.php' }), sim.requests['in.php']);
    assert.equal(value(text, 'captcha_dlq_depth'), 1);
    assert.equal(value(text, 'captcha_dlq_entries', { status: 'dead' }), 1);
    assert.ok(value(text, 'process_resident_memory_bytes') > 0, 'prom-client defaults');

    // the SDK's runtime metrics: on its own exporter, and relayed after ours
    const sdk = await scrape(sdkMetricsUrlOf(sdkBind));
    assert.equal(sdk.status, 200);
    for (const name of ['temporal_workflow_completed', 'temporal_activity_execution_latency_count', 'temporal_worker_task_slots_available']) {
      assert.ok(value(sdk.text, name) >= 0, `${name} on the SDK exporter`);
      assert.ok(value(text, name) >= 0, `${name} relayed on /metrics`);
    }
    assert.ok(value(text, 'temporal_workflow_completed', { task_queue: stack.taskQueue }) >= 1, 'the SDK counted our workflows');
  } finally {
    await server.close();
    await stack.close();
  }
});
