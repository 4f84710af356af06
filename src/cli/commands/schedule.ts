// schedule: the scheduled drain (create, list, trigger, pause, resume, delete).
import { Option, type Command } from 'commander';
import { formatInterval } from '../../domain/describe';
import { formatUsd, parseBudgetUsd } from '../../domain/prices';
import { DRAIN_DEFAULT_CLASSES, DRAIN_SCHEDULE_ID } from '../../domain/names';
import { FAILURE_CLASSES, type FailureClass } from '../../domain/types';
import { either, intervalArg, listArg } from '../args';
import { CliError, EXIT, isError } from '../errors';
import { INVOCATION, out, printJson, table } from '../output';
import { sessionOf } from '../session';

export function addScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('the scheduled drain: a Temporal Schedule that retries the retryable DLQ entries at an interval (overlap: skip)');

  schedule
    .command('create')
    .description(`create the drain schedule: every interval, retry the DLQ's ${DRAIN_DEFAULT_CLASSES.join(', ')} entries (parked and account-class entries are never retried by it)`)
    .requiredOption('--every <interval>', 'how often: 30s, 15m, 1h, 1h30m (≥ 1s)', intervalArg(1000))
    .option('--code <codes>', 'only these error codes (repeatable, comma-separated); also --codes', listArg())
    .addOption(new Option('--codes <codes>').argParser(listArg()).hideHelp())
    .addOption(new Option('--class <classes>', `failure classes to retry (default ${DRAIN_DEFAULT_CLASSES.join(',')}); also --classes`).argParser(listArg(FAILURE_CLASSES)))
    .addOption(new Option('--classes <classes>').argParser(listArg(FAILURE_CLASSES)).hideHelp())
    .option('--id <schedule-id>', 'schedule id', DRAIN_SCHEDULE_ID)
    .option('--reason <why>', 'the reason recorded in the audit log at each run')
    .option(
      '--budget <usd>',
      'the most one run may spend, in USD: it retries the entries that failed longest ago while their worst case (every resubmit paid) fits, and leaves the rest for the next run',
    )
    .action(async (flags: { every: number; code?: string[]; codes?: string[]; class?: FailureClass[]; classes?: FailureClass[]; id: string; reason?: string; budget?: string }, cmd: Command) => {
      const o = { ...flags, codes: either(flags.code, flags.codes), classes: either(flags.class, flags.classes) };
      const budget = o.budget === undefined ? undefined : parseBudgetUsd(o.budget);
      if (budget && 'error' in budget) throw new CliError(`--budget: ${budget.error}`, EXIT.USAGE);
      const s = sessionOf(cmd);
      const solver = await s.solver();
      try {
        await solver.createDrainSchedule({
          everyMs: o.every,
          scheduleId: o.id,
          ...(o.classes && { classes: o.classes }),
          ...(o.codes && { errorCodes: o.codes }),
          ...(o.reason && { reason: o.reason }),
          ...(o.budget !== undefined && { budget: o.budget }),
          by: s.identity,
        });
      } catch (err) {
        if (isError(err, 'ScheduleAlreadyRunning')) {
          throw new CliError(`schedule ${o.id} already exists: delete it first (${INVOCATION} schedule delete --id ${o.id}) or pick another --id`, EXIT.FAILED);
        }
        throw err;
      }
      out(
        `created schedule ${o.id}: every ${formatInterval(o.every)}, retry the ${(o.classes ?? DRAIN_DEFAULT_CLASSES).join(', ')} entries` +
          `${o.codes ? ` with codes ${o.codes.join(', ')}` : ''} of ${solver.dlq().workflowId}` +
          `${budget ? `, at most ${formatUsd(budget.micros)} a run (the rest waits for the next run)` : ''} (overlapping runs skipped)`,
      );
      out(`  run it now:  ${INVOCATION} schedule trigger --id ${o.id}`);
    });

  schedule
    .command('list')
    .description('the drain schedules')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const solver = await sessionOf(cmd).solver();
      const schedules = await solver.listDrainSchedules();
      if (o.json) return printJson(schedules);
      if (schedules.length === 0) return out(`no drain schedule (create one: ${INVOCATION} schedule create --every 1h)`);
      out(
        table(
          ['id', 'every', 'classes', 'codes', 'budget', 'last run', 'next run', 'paused', 'created by'],
          schedules.map((d) => [
            d.scheduleId,
            d.every,
            d.classes.join(','),
            d.errorCodes.join(',') || '(any)',
            d.budgetMicros === undefined ? '-' : formatUsd(d.budgetMicros),
            d.lastRunAt?.toISOString() ?? '-',
            d.nextRunAt?.toISOString() ?? '-',
            d.paused ? 'yes' : 'no',
            d.createdBy,
          ]),
        ),
      );
    });

  schedule
    .command('trigger')
    .description('run the drain now, once')
    .option('--id <schedule-id>', 'schedule id', DRAIN_SCHEDULE_ID)
    .action(async (o: { id: string }, cmd: Command) => {
      const solver = await sessionOf(cmd).solver();
      await scheduleCall(o.id, () => solver.drainSchedule(o.id).trigger());
      out(`schedule ${o.id} triggered`);
    });

  for (const [verb, past] of [['pause', 'paused'], ['resume', 'resumed']] as const) {
    schedule
      .command(verb)
      .description(verb === 'pause' ? 'pause the drain: no run starts until `schedule resume` (a run in progress finishes)' : 'resume a paused drain')
      .option('--id <schedule-id>', 'schedule id', DRAIN_SCHEDULE_ID)
      .option('--reason <why>', 'a note kept on the schedule (shown by `temporal schedule describe`)')
      .action(async (o: { id: string; reason?: string }, cmd: Command) => {
        const s = sessionOf(cmd);
        const solver = await s.solver();
        const note = `${o.reason?.trim() || `${past} from the CLI`} (${s.identity})`.slice(0, 500);
        const handle = solver.drainSchedule(o.id);
        await scheduleCall(o.id, () => (verb === 'pause' ? handle.pause(note) : handle.unpause(note)));
        out(`schedule ${o.id} ${past}${verb === 'pause' ? `: resume it with  ${INVOCATION} schedule resume --id ${o.id}` : ''}`);
      });
  }

  schedule
    .command('delete')
    .description('delete the drain schedule (runs already started finish)')
    .option('--id <schedule-id>', 'schedule id', DRAIN_SCHEDULE_ID)
    .action(async (o: { id: string }, cmd: Command) => {
      const solver = await sessionOf(cmd).solver();
      await scheduleCall(o.id, () => solver.drainSchedule(o.id).delete());
      out(`deleted schedule ${o.id}`);
    });
}

async function scheduleCall(id: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (isError(err, 'ScheduleNotFoundError')) throw new CliError(`no schedule ${id}`, EXIT.NOT_FOUND);
    throw err;
  }
}
