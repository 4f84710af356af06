// `tsx src/console/main.ts`: the DLQ console on the product's configuration plus CONSOLE_HOST, CONSOLE_PORT,
// CONSOLE_TOKEN and TEMPORAL_UI_URL. Ctrl-C stops it.
import { z } from 'zod';
import { CaptchaSolver } from '../client';
import { ConfigError, loadConfig, type ConnectionOverrides } from '../config';
import { connectClient } from '../temporal';
import { isLoopback } from './security';
import { startConsole, type ConsoleServer } from './server';

const consoleEnv = z.object({
  CONSOLE_HOST: z.string().min(1).max(255).default('127.0.0.1'),
  CONSOLE_PORT: z.coerce.number().int().min(0).max(65_535).default(8088),
  CONSOLE_TOKEN: z.string().min(16, 'at least 16 characters').max(512).optional(),
  TEMPORAL_UI_URL: z.url({ protocol: /^https?$/ }).optional(),
});

export type ConsoleEnv = z.infer<typeof consoleEnv>;

export function loadConsoleEnv(env: NodeJS.ProcessEnv = process.env): ConsoleEnv {
  const parsed = consoleEnv.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const name = String(issue.path[0]);
  throw new ConfigError(`invalid configuration: ${name}=${name === 'CONSOLE_TOKEN' ? '(hidden)' : JSON.stringify(env[name])}: ${issue.message}`);
}

/** What `captcha-dlq console` adds: its connection flags, and who the audit log names for the console's orders. */
export interface RunConsoleOptions {
  connection?: ConnectionOverrides;
  by?: string;
}

/** Connects to Temporal with the product's configuration and serves the console until the process ends. */
export async function runConsole(env: NodeJS.ProcessEnv = process.env, options: RunConsoleOptions = {}): Promise<ConsoleServer> {
  const config = loadConfig(env, { ...(options.connection && { connection: options.connection }) });
  const c = loadConsoleEnv(env);
  if (!isLoopback(c.CONSOLE_HOST) && !c.CONSOLE_TOKEN) {
    throw new ConfigError(`invalid configuration: CONSOLE_HOST=${c.CONSOLE_HOST} is beyond this machine: set CONSOLE_TOKEN (16+ characters) for actions`);
  }
  const client = await connectClient(config, 'captcha-dlq-console');
  const server = await startConsole({
    solver: new CaptchaSolver(client, config),
    host: c.CONSOLE_HOST,
    port: c.CONSOLE_PORT,
    ...(c.CONSOLE_TOKEN && { token: c.CONSOLE_TOKEN }),
    ...(c.TEMPORAL_UI_URL && { temporalUiUrl: c.TEMPORAL_UI_URL }),
    ...(options.by && { by: `console:${options.by}` }),
  });
  const guarded = !server.tokenMode ? '' : isLoopback(c.CONSOLE_HOST) ? ' (actions need the token)' : ' (pages and actions need the token)';
  console.log(`captcha-dlq console on ${server.url}${guarded}`);
  const stop = () => void server.close().then(() => client.connection.close()).finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return server;
}

if (require.main === module) {
  runConsole().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
