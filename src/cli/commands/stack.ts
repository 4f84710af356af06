// The local stack: worker, simulator, dev.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { devDbFile } from '../../dev/dev-server';
import type { SimulatorOptions } from '../../simulator/server';
import { intArg, intervalArg, numberArg } from '../args';
import { CliError, EXIT, isError } from '../errors';
import { INVOCATION, message, note, out } from '../output';
import { sessionOf, type Session } from '../session';

/** The simulator knobs `dev` offers; `captcha-dlq simulator` takes every flag of src/simulator/main.ts. */
interface DevSimulatorOptions {
  simPort: number;
  timeScale: number;
  seed: number;
  chaos?: number;
  scenarios?: string;
  latency: number;
  unsolvableRate: number;
  rateLimits: boolean;
}

interface DevOptions extends DevSimulatorOptions {
  logLevel: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  port: number;
  uiPort: number;
  db: string;
  inMemory?: boolean;
  pollDeadline: number;
  maxResubmits?: number;
}

/**
 * The solve policy a local stack runs with: a never-ready task gives up after `--poll-deadline` (30 s, not the product's
 * 120 s) so that local failures show up at once; `--max-resubmits 0` lets `--unsolvable-rate` reach the DLQ. What the
 * environment sets explicitly wins.
 */
export function devSolveEnv(o: Pick<DevOptions, 'pollDeadline' | 'maxResubmits'>, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...env,
    SOLVE_POLL_DEADLINE_MS: env.SOLVE_POLL_DEADLINE_MS ?? String(o.pollDeadline),
    ...(o.maxResubmits !== undefined && { SOLVE_MAX_RESUBMITS: String(o.maxResubmits) }),
  };
}

async function devSimulatorOptions(o: DevSimulatorOptions, provider: string, dialects: readonly string[]) {
  let scenarios: Record<string, unknown> | undefined;
  if (o.scenarios) {
    try {
      scenarios = JSON.parse(await readFile(o.scenarios, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new CliError(`--scenarios ${o.scenarios}: ${message(err)}`, EXIT.USAGE);
    }
  }
  return {
    port: o.simPort,
    host: '127.0.0.1',
    timeScale: o.timeScale,
    seed: o.seed,
    latencyMs: o.latency,
    unsolvableRate: o.unsolvableRate,
    // the simulator speaks the configured provider's wire format (and JSON dialect)
    provider,
    ...(dialects.includes(provider) && { dialect: provider }),
    ...(!o.rateLimits && { rateLimits: { submitBurst: false, pollBudget: false } }),
    // --chaos wins over the file's chaos setting (as in src/simulator/main.ts)
    scenarios: { ...scenarios, ...(o.chaos !== undefined && { chaos: o.chaos }) },
  };
}

export function addStackCommands(program: Command): void {
  program
    .command('worker')
    .description('run a worker (workflows and activities) until Ctrl-C; needs CAPTCHA_API_KEY')
    .action(async () => {
      const { main } = await import('../../worker');
      try {
        await main();
      } catch (err) {
        // the worker's connection attempt has no deadline of its own and would hold the process for ~30 s more
        if (!isError(err, 'TemporalUnreachableError')) throw err;
        note(message(err));
        process.exit(EXIT.UNREACHABLE);
      }
    });

  // every flag of src/simulator/main.ts, passed through as they are: one parser, no drift (`simulator --help` is its usage)
  program
    .command('simulator')
    .description(`run the provider simulator (in.php / res.php, the JSON createTask family, /admin/) until Ctrl-C; flags: \`${INVOCATION} simulator --help\``)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[flags...]', 'the flags of src/simulator/main.ts (--port, --time-scale, --seed, --chaos, --scenarios, --provider, …)')
    .action(async (flags: string[]) => {
      process.argv = [process.argv[0]!, require.resolve('../../simulator/main'), ...flags];
      await import('../../simulator/main'); // parses process.argv, serves until SIGINT / SIGTERM, exits 2 on bad flags
    });

  program
    .command('dev')
    .description(
      'the whole local stack until Ctrl-C: a Temporal dev server persisted under .data/ with the Web UI and our search attributes, ' +
        'the provider simulator (speaking CAPTCHA_PROVIDER\'s protocol), and a worker pointed at both',
    )
    .option('--port <n>', 'Temporal gRPC port', intArg(1, 65535), 7233)
    .option('--ui-port <n>', 'Web UI port', intArg(1, 65535), 8233)
    .option('--db <file>', "the dev server's SQLite file", devDbFile())
    .option('--in-memory', 'no database file: everything is gone at exit')
    .option('--sim-port <n>', 'simulator port (0: any free one)', intArg(0, 65535), 0)
    .option('--time-scale <x>', 'multiply every simulated solve time by this', numberArg(0, 1000), 0.2)
    .option('--seed <n>', 'simulator random seed', intArg(0, 2 ** 31), 1)
    .option('--chaos <p>', 'probability of an injected transport fault per request', numberArg(0, 1))
    .option('--scenarios <file>', 'a JSON scenario script for the simulator (see src/simulator/scenarios.ts)')
    .option('--latency <ms>', 'added to every simulator answer', numberArg(0, 600_000), 0)
    .option('--unsolvable-rate <p>', 'share of tasks that end ERROR_CAPTCHA_UNSOLVABLE', numberArg(0, 1), 0)
    .option('--no-rate-limits', 'no simulated submit burst or poll budget limits')
    .option('--poll-deadline <duration>', 'how long a task may stay not-ready before it is dead-lettered (SOLVE_POLL_DEADLINE_MS wins)', intervalArg(1000), 30_000)
    .option('--max-resubmits <n>', 'resubmits after an unsolvable answer (product default 2; 0 sends --unsolvable-rate tasks to the DLQ)', intArg(0, 10))
    .addOption(new Option('--log-level <level>', "the worker's log level").choices(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'))
    .action(async (o: DevOptions, cmd: Command) => {
      await runDev(sessionOf(cmd), o);
    });
}

async function runDev(s: Session, o: DevOptions): Promise<void> {
  const { loadConfig } = await import('../../config');
  const base = loadConfig(); // a bad environment fails before anything starts
  const { LocalStackError, startLocalStack } = await import('../../dev/stack');
  const { SEARCH_ATTRIBUTES } = await import('../../domain/names');
  const { JSON_DIALECTS } = await import('../../simulator/server');
  const { DefaultLogger, Runtime } = await import('@temporalio/worker');
  Runtime.install({ logger: new DefaultLogger(o.logLevel) });

  note(`starting Temporal dev server on 127.0.0.1:${o.port}${o.inMemory ? ' (in memory)' : ` (${o.db})`} …`);
  const stack = await startLocalStack({
    temporal: { devServer: { port: o.port, uiPort: o.uiPort, ...(!o.inMemory && { dbFile: resolve(o.db) }) } },
    simulator: (await devSimulatorOptions(o, base.provider.name, JSON_DIALECTS)) as SimulatorOptions,
    env: devSolveEnv(o, process.env),
    identity: `${s.identity} (dev worker)`,
  }).catch((err: unknown) => {
    if (err instanceof LocalStackError && err.part === 'temporal') {
      throw new CliError(`the dev server did not start: ${message(err.cause)}\n(is another server on port ${o.port}? use --port / --ui-port)`, EXIT.FAILED);
    }
    throw err;
  });
  try {
    const { server, sim, config } = stack;
    const worker = await stack.newWorker();
    out(
      [
        'captcha-dlq dev stack is up',
        `  Temporal   ${server!.address} · namespace ${server!.namespace}${o.inMemory ? ' · in memory' : ` · ${resolve(o.db)}`}`,
        `  Web UI     ${server!.uiUrl ?? '(none)'}`,
        `  simulator  ${sim!.url} (time scale ${o.timeScale}); script failures: POST ${sim!.url}/admin/scenarios`,
        `  solves     poll deadline ${config.solvePolicy.poll.deadlineMs / 1000} s, ${config.solvePolicy.maxResubmits} resubmit(s) after an unsolvable answer`,
        `  worker     task queue ${config.temporal.taskQueue}`,
        `  search attributes: ${Object.keys(SEARCH_ATTRIBUTES).join(', ')}`,
        '',
        'In another terminal:',
        `  export TEMPORAL_ADDRESS=${server!.address}`,
        `  ${INVOCATION} solve --type recaptcha-v2 --sitekey 6Le-demo-sitekey-0001 --page-url https://example.com/login`,
        `  ${INVOCATION} dlq stats`,
        '',
        'Ctrl-C stops everything.',
      ].join('\n'),
    );
    // the worker shuts down gracefully on SIGINT / SIGTERM (its default shutdown signals)
    await worker.run();
    note('stopping …');
  } finally {
    await stack.stop();
  }
}
