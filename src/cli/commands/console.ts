// console: the DLQ console in the browser (src/console/), on this CLI's connection flags and configuration.
import type { Command } from 'commander';
import { intArg } from '../args';
import { note } from '../output';
import { sessionOf } from '../session';

interface ConsoleFlags {
  host?: string;
  port?: number;
  token?: string;
  temporalUi?: string;
}

export function addConsoleCommands(program: Command): void {
  program
    .command('console')
    .description(
      'serve the DLQ console (stats, entries, retry / discard / purge with a dry run and a reason, batches) until Ctrl-C. ' +
        'Loopback by default; bound elsewhere it needs a token (16+ characters) for every page and action',
    )
    .option('--host <host>', 'address to bind (default CONSOLE_HOST, 127.0.0.1)')
    .option('--port <port>', 'port (default CONSOLE_PORT, 8088; 0: any free port)', intArg(0, 65_535))
    .option('--token <token>', 'the token for actions (default CONSOLE_TOKEN; prefer the variable: a flag shows in `ps`)')
    .option('--temporal-ui <url>', 'the Temporal Web UI\'s base URL, for links to solves and retries (default TEMPORAL_UI_URL)')
    .action(async (o: ConsoleFlags, cmd: Command) => {
      const s = sessionOf(cmd);
      const { runConsole } = await import('../../console/main');
      // flags win over the environment; the console validates both the same way
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...(o.host !== undefined && { CONSOLE_HOST: o.host }),
        ...(o.port !== undefined && { CONSOLE_PORT: String(o.port) }),
        ...(o.token !== undefined && { CONSOLE_TOKEN: o.token }),
        ...(o.temporalUi !== undefined && { TEMPORAL_UI_URL: o.temporalUi }),
      };
      await runConsole(env, { connection: s.connection, by: s.identity });
      note('Ctrl-C stops it');
      // the server keeps the process alive; runConsole ends it on SIGINT / SIGTERM
      await new Promise<never>(() => undefined);
    });
}
