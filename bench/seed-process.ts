// Runs the seed's loop (bench/seed-baseline.ts) against a simulator of its own, in a process of its own, so the
// benchmark can run it alongside the other measurements: it sleeps most of the time, and its own event loop is not
// slowed by the in-process worker. Input: BENCH_SEED_SPEC; output: one IPC message with the result and the counters.
import { startBenchSimulator } from './stack';
import { runSeedBatch, type SeedOptions, type SeedTask } from './seed-baseline';
import type { SimulatorOptions } from '../src/simulator/server';

export interface SeedSpec {
  tasks: SeedTask[];
  simulator: SimulatorOptions;
  seed: Omit<SeedOptions, 'baseUrl'>;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_SEED_SPEC ?? '') as SeedSpec;
  const sim = await startBenchSimulator(spec.simulator);
  try {
    const result = await runSeedBatch(spec.tasks, { ...spec.seed, baseUrl: sim.url });
    await new Promise<void>((resolve) => process.send!({ result, stats: sim.stats() }, () => resolve()));
  } finally {
    await sim.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('bench seed process:', err);
    process.exit(1);
  },
);
