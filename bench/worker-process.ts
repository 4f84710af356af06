// The product's worker in a process of its own, started by bench/stack.ts `spawnWorker`: the benchmark SIGKILLs it
// mid-poll (duplicate paid submits) and reads its memory apart from the simulator and the driver (batch scale).
// Input: BENCH_WORKER_SPEC = { env, bundlePath }. Talks to its parent over IPC: `ready`, `rss` samples; `shutdown` in.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { createProvider } from '../src/providers';
import { createWorker } from '../src/worker';

interface Spec {
  env: Record<string, string>;
  bundlePath: string;
}

const RSS_SAMPLE_MS = 200;

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_WORKER_SPEC ?? '') as Spec;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const config = loadConfig(spec.env);
  const provider = createProvider({ ...config.provider, apiKey: config.provider.apiKey! });
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const client = new Client({ connection: await Connection.connect({ address: config.temporal.address }), namespace: config.temporal.namespace });
  const worker = await createWorker({ config, connection, client, provider, workflowBundle: { codePath: spec.bundlePath } });
  const send = (message: object) => process.connected && process.send?.(message);
  const sampler = setInterval(() => send({ type: 'rss', rss: process.memoryUsage().rss }), RSS_SAMPLE_MS);
  process.on('message', (m) => {
    if (m === 'shutdown') worker.shutdown();
  });
  process.on('disconnect', () => worker.getState() === 'RUNNING' && worker.shutdown());
  const running = worker.run();
  send({ type: 'ready' });
  try {
    await running;
  } finally {
    clearInterval(sampler);
    await provider.close();
    await client.connection.close();
    await connection.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('bench worker process:', err);
    process.exit(1);
  },
);
