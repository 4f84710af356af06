// A simulator in a process of its own (bench/stack.ts spawnSimulator): a real provider is remote, so where the bench
// compares throughput the simulator must not share the worker's event loop. Input: BENCH_SIMULATOR_OPTIONS; output: one
// IPC message with its URL; it stops when told or when its parent goes away.
import { startBenchSimulator } from './stack';
import type { SimulatorOptions } from '../src/simulator/server';

async function main(): Promise<void> {
  const sim = await startBenchSimulator(JSON.parse(process.env.BENCH_SIMULATOR_OPTIONS ?? '{}') as SimulatorOptions);
  const stop = () => void sim.close().finally(() => process.exit(0));
  process.on('message', (m) => m === 'stop' && stop());
  process.on('disconnect', stop);
  process.send!({ url: sim.url });
}

main().catch((err: unknown) => {
  console.error('bench simulator process:', err);
  process.exit(1);
});
