// `npm run demo`: the seed tutorial's scenario on the embedded default stack. Starts (unless told to use existing
// ones) a persisted local Temporal dev server with its Web UI, the provider simulator and a worker; solves 5 reCAPTCHA
// v2 tasks for https://example.com/page/0..4 — one unsolvable, one never ready — and prints what the seed printed.
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { DEV_DATA_DIR, devDbFile, portBusy } from './dev/dev-server';
import { startLocalStack } from './dev/stack';
import { installRuntime } from './temporal';
import { dlqListQuery, dlqStatsQuery } from '../workflows/messages';

const SITEKEY = '6Le-SITEKEY';
const PAGES = [0, 1, 2, 3, 4].map((i) => `https://example.com/page/${i}`);

const HELP = `npm run demo [-- options]

Runs the seed tutorial's scenario end to end on a local stack and stops what it started.

  --use-existing     use the Temporal server at TEMPORAL_ADDRESS (and the provider at CAPTCHA_BASE_URL
                     if set) instead of starting a dev server (and the simulator)
  --keep             keep the stack running after the demo (Ctrl-C to stop), to browse the Web UI
  --data-dir DIR     where the dev server keeps its SQLite file (default ${DEV_DATA_DIR})
  --time-scale X     simulator solve times × X (default 0.1: a 30 s reCAPTCHA takes 3 s)
  -h, --help
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'use-existing': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'data-dir': { type: 'string', default: DEV_DATA_DIR },
      'time-scale': { type: 'string', default: '0.1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const timeScale = Number(values['time-scale']);
  if (!(timeScale > 0)) throw new Error(`--time-scale must be a positive number, got ${values['time-scale']}`);

  // the demo's own lines tell the story; the worker speaks up only for errors (LOG_LEVEL=INFO to see it all)
  installRuntime((process.env.LOG_LEVEL as 'INFO' | undefined) ?? 'ERROR');
  const useExisting = values['use-existing'];
  const useRealProvider = useExisting && !!process.env.CAPTCHA_BASE_URL;
  // the seed polls every 5 s for 120 s; the demo scales that with the simulator
  const scaled = (ms: number) => String(Math.max(200, Math.round(ms * timeScale)));
  const stack = await startLocalStack({
    temporal: useExisting ? {} : { devServer: { dbFile: devDbFile(values['data-dir']), ...(await preferredPorts()) } },
    simulator: !useRealProvider && {
      timeScale,
      scenarios: {
        pages: {
          [PAGES[2]!]: { outcome: { type: 'unsolvable', afterMs: 20_000 * timeScale } },
          [PAGES[4]!]: { outcome: { type: 'never-ready' } },
        },
      },
    },
    env: {
      ...process.env,
      ...(!useRealProvider && {
        SOLVE_POLL_FIRST_DELAY_MS: scaled(5_000),
        SOLVE_POLL_INTERVAL_MS: scaled(5_000),
        SOLVE_POLL_DEADLINE_MS: scaled(120_000),
        SOLVE_SUBMIT_INITIAL_INTERVAL_MS: scaled(1_000),
      }),
    },
    identity: 'demo',
  });
  try {
    const { server, sim, config, client, solver } = stack;
    if (server) console.log(`Temporal dev server at ${server.address}; Web UI: ${server.uiUrl}`);
    if (sim) console.log(`provider simulator at ${sim.url} (solve times × ${timeScale})`);
    if (!config.provider.apiKey) throw new Error('CAPTCHA_API_KEY is required with --use-existing and a real provider');

    await stack.run(async () => {
      const tasks = PAGES.map((pageUrl, i) => ({ type: 'recaptcha-v2', sitekey: SITEKEY, pageUrl, key: `page-${i}` }));
      const { batchId, handle } = await solver.startBatch({ tasks, concurrency: 5 });
      console.log(`batch ${batchId}: ${tasks.length} reCAPTCHA v2 tasks for example.com\n`);
      const done = handle.result();
      let cursor = 0;
      let finished = false;
      void done.finally(() => (finished = true));
      // tokens expire ~120 s after solving: print each the moment it is ready
      while (!finished) {
        await Promise.race([done, sleep(250)]);
        const page = await solver.batch(batchId).results(cursor);
        for (const r of page.results) console.log(`Solved: ${r.token.slice(0, 40)}...`);
        cursor = page.nextCursor;
      }
      const summary = await done;
      await printDeadLetters(client, config.dlqWorkflowId, batchId);
      console.log(`\nDLQ size: ${summary.deadLettered}`);
      console.log(`solved ${summary.solved} of ${summary.total} in ${(summary.elapsedMs / 1000).toFixed(1)} s`);
      if (server?.uiUrl) {
        const ns = config.temporal.namespace;
        console.log(`\nWeb UI: ${server.uiUrl}/namespaces/${ns}/workflows/${encodeURIComponent(batchId)}`);
        console.log(`        ${server.uiUrl}/namespaces/${ns}/workflows/${encodeURIComponent(config.dlqWorkflowId)}`);
      }
      if (values.keep) {
        console.log('\nstack kept running; Ctrl-C to stop');
        await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      }
    });
  } finally {
    await stack.stop();
  }
}

async function printDeadLetters(client: Client, dlqWorkflowId: string, batchId: string): Promise<void> {
  const dlq = client.workflow.getHandle(dlqWorkflowId);
  // failures reach the DLQ by signal; the batch is done only after its children reported them
  const page = await dlq.query(dlqListQuery, { batchIds: [batchId], limit: 100 }).catch(() => undefined);
  for (const entry of page?.entries ?? []) {
    console.log(`[dlq] Added: ${entry.code === 'POLL_DEADLINE' ? entry.message : entry.code} (attempts: ${entry.attempts})`);
  }
  const stats = await dlq.query(dlqStatsQuery).catch(() => undefined);
  if (stats) console.log(`\n[dlq] all entries by error (every batch so far): ${Object.entries(stats.byCode).map(([c, n]) => `${c}: ${n}`).join(', ')}`);
}

/** The usual 7233/8233 when free, so the README's URLs work; otherwise any free ports. */
async function preferredPorts(): Promise<{ port?: number; uiPort?: number }> {
  return !(await portBusy(7233)) && !(await portBusy(8233)) ? { port: 7233, uiPort: 8233 } : {};
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
