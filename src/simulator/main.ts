// `npm run simulator -- --port 8085 --time-scale 0.1 --seed 7 --chaos 0.05 --scenarios demo.json`
// Prints one line with the base URL, then serves until SIGINT/SIGTERM. Both protocols are served: in.php / res.php
// and the JSON createTask family, whose dialect is --dialect, else the JSON provider named by --provider or by
// CAPTCHA_PROVIDER (the worker's setting), else 2captcha-v2.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { JSON_DIALECTS, startSimulator, type JsonDialect, type SimulatorOptions } from './server';

const USAGE = `usage: simulator [--port N] [--host H] [--time-scale X] [--seed N] [--chaos P] [--scenarios file.json]
                 [--latency MS] [--unsolvable-rate P] [--provider 2captcha|captchaai|${JSON_DIALECTS.join('|')}]
                 [--dialect ${JSON_DIALECTS.join('|')}] [--numeric-ids] [--api-key KEY] [--no-rate-limits]`;

const LEGACY = ['2captcha', 'captchaai'] as const;
const isDialect = (value: string | undefined): value is JsonDialect => (JSON_DIALECTS as readonly string[]).includes(value ?? '');

function number(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new Error(`--${name} must be a number, got ${JSON.stringify(value)}`);
  return parsed;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'time-scale': { type: 'string' },
      seed: { type: 'string' },
      chaos: { type: 'string' },
      scenarios: { type: 'string' },
      latency: { type: 'string' },
      'unsolvable-rate': { type: 'string' },
      provider: { type: 'string' },
      dialect: { type: 'string' },
      'numeric-ids': { type: 'boolean' },
      'api-key': { type: 'string' },
      'no-rate-limits': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const provider = values.provider;
  if (provider !== undefined && !(LEGACY as readonly string[]).includes(provider) && !isDialect(provider)) {
    throw new Error(`--provider must be one of ${[...LEGACY, ...JSON_DIALECTS].join(', ')}`);
  }
  if (values.dialect !== undefined && !isDialect(values.dialect)) throw new Error(`--dialect must be one of ${JSON_DIALECTS.join(', ')}`);
  const fromEnv = process.env.CAPTCHA_PROVIDER;
  const dialect = values.dialect ?? (isDialect(provider) ? provider : isDialect(fromEnv) ? fromEnv : undefined);
  const chaos = number('chaos', values.chaos);
  const scenarios = values.scenarios ? (JSON.parse(await readFile(values.scenarios, 'utf8')) as SimulatorOptions['scenarios']) : undefined;
  const options: SimulatorOptions = {
    port: number('port', values.port) ?? 0,
    host: values.host ?? '127.0.0.1',
    timeScale: number('time-scale', values['time-scale']) ?? 1,
    seed: number('seed', values.seed) ?? 1,
    latencyMs: number('latency', values.latency) ?? 0,
    unsolvableRate: number('unsolvable-rate', values['unsolvable-rate']) ?? 0,
    ...(provider && { provider: provider as NonNullable<SimulatorOptions['provider']> }),
    ...(dialect && { dialect }),
    ...(values['numeric-ids'] && { numericIds: true }),
    ...(values['api-key'] && { apiKey: values['api-key'] }),
    ...(values['no-rate-limits'] && { rateLimits: { submitBurst: false, pollBudget: false } }),
    // --chaos wins over the file's chaos setting
    scenarios: { ...scenarios, ...(chaos !== undefined && { chaos }) },
  };
  const simulator = await startSimulator(options);
  console.log(`simulator listening on ${simulator.url}`);

  const stop = (): void => {
    simulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  console.error(USAGE);
  process.exit(2);
});
