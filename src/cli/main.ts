// `captcha-dlq`: the operator's command line. Batches (start from a file, watch, status, cancel, results), one-off
// solves, the DLQ (stats, list, retry, discard, purge, audit, export), the scheduled drain, the local stack (worker,
// simulator, dev) and the gateway. Configuration comes from the environment (src/config.ts); every command has --help.
//
// Output: results on stdout (tables for people, --json for scripts), progress and notes on stderr. Exit codes:
// errors.ts.
//
// This file is the entry: the program, and an escaped error's exit code. One file per command group in commands/
// (each exports its addXCommands), built on session.ts (config and client), args.ts, output.ts and errors.ts; those
// never import this file. Only light modules load up front (--help and usage errors stay fast); the Temporal client,
// zod schemas and the stack's modules load when a command needs them.
import { Command, CommanderError } from 'commander';
import { version as VERSION } from '../../package.json';
import { boundedArg } from './args';
import { addAccountCommands, addDailyCapCommand } from './commands/account';
import { addBatchCommands } from './commands/batch';
import { addConsoleCommands } from './commands/console';
import { addDlqCommands } from './commands/dlq';
import { addPingbackCommands } from './commands/pingback';
import { addGatewayCommands } from './commands/gateway';
import { addScheduleCommands } from './commands/schedule';
import { addSolveCommands } from './commands/solve';
import { addStackCommands } from './commands/stack';
import { CliError, EXIT, EXIT_HELP, isError } from './errors';
import { message, note } from './output';
import { closeSession, defaultIdentity, isUnreachable } from './session';

export function buildProgram(): Command {
  const program = new Command('captcha-dlq')
    .description('Durable CAPTCHA solving on Temporal: batches, one-off solves, the dead-letter queue and its scheduled drain.')
    .version(VERSION)
    .option('--identity <who>', 'who you are: the client identity and the "by" of DLQ orders in the audit log', defaultIdentity())
    // as the `temporal` CLI's: over the profile file and the TEMPORAL_* variables
    .option('--address <host:port>', 'the Temporal frontend (default: the profile\'s, TEMPORAL_ADDRESS, localhost:7233)', boundedArg('--address', 255))
    .option('-n, --namespace <namespace>', 'the Temporal namespace (default: the profile\'s, TEMPORAL_NAMESPACE, default)', boundedArg('--namespace', 255))
    .option('--profile <name>', 'the temporal.toml profile to use (default: TEMPORAL_PROFILE, else "default")', boundedArg('--profile', 200))
    .option('--config-file <path>', 'the temporal.toml profile file (default: TEMPORAL_CONFIG_FILE, else the temporal CLI\'s own)', boundedArg('--config-file', 4096))
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText('afterAll', EXIT_HELP);

  addBatchCommands(program);
  addSolveCommands(program);
  addDlqCommands(program);
  addScheduleCommands(program);
  addStackCommands(program);
  addConsoleCommands(program);
  addAccountCommands(program);
  addDailyCapCommand(program);
  addPingbackCommands(program);
  addGatewayCommands(program);
  return program;
}

/** The exit code of an error that escaped a command. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof CommanderError) {
    return ['commander.helpDisplayed', 'commander.version'].includes(err.code) ? EXIT.OK : EXIT.USAGE;
  }
  if (isError(err, 'ConfigError') || isError(err, 'TaskValidationError') || isError(err, 'InvalidRouteError') || isError(err, 'InvalidIdError') || isError(err, 'WorkflowIdTakenError')) return EXIT.USAGE;
  if (isError(err, 'WorkflowNotFoundError') || isError(err, 'ScheduleNotFoundError')) return EXIT.NOT_FOUND;
  if (isError(err, 'TemporalUnreachableError') || isUnreachable(err)) return EXIT.UNREACHABLE;
  return EXIT.FAILED;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    const code = exitCodeOf(err);
    // commander has already printed its own errors and help
    if (!(err instanceof CommanderError)) {
      const plain = ['TaskValidationError', 'InvalidRouteError', 'ConfigError', 'InvalidIdError', 'WorkflowIdTakenError', 'TemporalUnreachableError'].some((name) => isError(err, name));
      const prefix = err instanceof CliError || plain ? '' : 'error: ';
      note(`${prefix}${message(err)}`);
      if (code === EXIT.FAILED && process.env.CAPTCHA_DLQ_DEBUG && err instanceof Error) note(err.stack ?? '');
    }
    return code;
  } finally {
    await closeSession();
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
