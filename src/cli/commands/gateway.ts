// `captcha-dlq gateway`: the drop-in gateway (src/gateway/) until Ctrl-C. It needs Temporal and the users' keys file,
// never the provider's key (that stays with the workers). SIGHUP reads the keys file again: a valid file replaces the
// users (their spending is kept by name); a bad one is refused with one sentence and the users in force stay.
import { Option, type Command } from 'commander';
import { intArg, numberArg } from '../args';
import { CliError, EXIT } from '../errors';
import { message, note, out } from '../output';
import type { JsonDialect } from '../../providers/json-wire';
import { sessionOf } from '../session';

interface GatewayCommandOptions {
  port: number;
  host: string;
  keys?: string;
  dialect: string;
  dedupeWindow: number;
}

export function addGatewayCommands(program: Command): void {
  program
    .command('gateway')
    .description(
      'serve the providers\' protocols (in.php / res.php and createTask / getTaskResult) to existing captcha clients, each ' +
        'task a durable solve whose failures land in the DLQ; users and limits from GATEWAY_KEYS_FILE (read at start and on SIGHUP)',
    )
    .option('--port <n>', 'port to listen on', intArg(0, 65535), 8090)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--keys <file>', 'the users\' keys file (default: GATEWAY_KEYS_FILE)')
    .addOption(new Option('--dialect <name>', 'dialect of the JSON endpoints').choices(['2captcha-v2', 'anticaptcha', 'capmonster', 'capsolver']).default('2captcha-v2'))
    .option('--dedupe-window <ms>', 'the same submit of a user within this window returns the first task', numberArg(0, 3_600_000), 60_000)
    .action(async (o: GatewayCommandOptions, cmd: Command) => {
      const file = o.keys ?? process.env.GATEWAY_KEYS_FILE;
      if (!file) throw new CliError('the gateway needs its users\' keys: pass --keys <file> or set GATEWAY_KEYS_FILE', EXIT.USAGE);
      const { loadGatewayKeys } = await import('../../gateway/keys');
      const users = await loadGatewayKeys(file).catch((err: unknown) => {
        throw new CliError(message(err), EXIT.USAGE);
      });
      const session = sessionOf(cmd);
      const config = await session.settings();
      const solver = await session.solver();
      const { startGateway } = await import('../../gateway/server');
      const gateway = await startGateway({
        client: solver.client,
        config,
        users,
        port: o.port,
        host: o.host,
        dialect: o.dialect as JsonDialect,
        dedupeWindowMs: o.dedupeWindow,
      });
      const plural = (n: number) => `${n} user${n === 1 ? '' : 's'}`;
      out(`captcha-dlq gateway listening on ${gateway.url} (${plural(users.size)}; task queue ${config.temporal.taskQueue})`);
      const reload = (): void => {
        loadGatewayKeys(file).then(
          (next) => {
            gateway.setUsers(next);
            out(`gateway keys reloaded from ${file} (${plural(next.size)})`);
          },
          (err: unknown) => note(`gateway keys not reloaded, the users in force stay: ${message(err)}`),
        );
      };
      process.on('SIGHUP', reload);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      process.off('SIGHUP', reload);
      note('stopping …');
      await gateway.close();
    });
}
