// report and balance: refunds and the account, executed on the worker (the provider key stays there).
import type { Command } from 'commander';
import type { BalanceCheck, FeedbackCounts, FeedbackStats } from '../../../workflows/messages';
import { CliError, EXIT, isError } from '../errors';
import { out, printJson, table } from '../output';
import { formatUsd, parseBudgetUsd } from '../../domain/prices';
import { sessionOf } from '../session';

export function addAccountCommands(program: Command): void {
  program
    .command('report <id>')
    .description(
      'report whether a solved token worked: <id> is a task key (solve/<key>), a solve\'s workflow id (<batch>/<key>) or the provider task id; ' +
        '--bad asks the provider for a refund. Sent once per token; a repeated report is answered from the record',
    )
    .option('--good', 'the token worked')
    .option('--bad', 'the token was rejected by the site (refund)')
    .option('--json', 'print the report record as JSON')
    .action(async (id: string, o: { good?: boolean; bad?: boolean; json?: boolean }, cmd: Command) => {
      if (!!o.good === !!o.bad) throw new CliError('give exactly one of --good or --bad', EXIT.USAGE);
      const solver = await sessionOf(cmd).solver();
      let result;
      try {
        result = await solver.reportToken(id, o.good ? 'good' : 'bad');
      } catch (err) {
        if (isError(err, 'TokenReportError')) throw new CliError(err.message, EXIT.USAGE);
        throw err;
      }
      if (o.json) return printJson(result);
      if (result.status !== 'sent') return;
      out(
        result.repeated
          ? `provider task ${result.providerTaskId} was already reported ${result.verdict} at ${result.reportedAt}: nothing sent again`
          : `reported provider task ${result.providerTaskId} ${result.verdict} to ${result.provider}${result.verdict === 'bad' ? ' (refund requested)' : ''}`,
      );
    });

  program
    .command('balance')
    .description('every configured provider account\'s balance and thread plan (read on the worker); below CAPTCHA_LOW_BALANCE it raises one alert per provider per crossing')
    .option('--json', 'print the check as JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const solver = await sessionOf(cmd).solver();
      const check = await solver.account().checkBalance('cli');
      if (o.json) return printJson(check);
      printBalance(check);
    });
}

export function addDailyCapCommand(program: Command): void {
  program
    .command('daily-cap')
    .description('the daily account cap that batches lease spend from (CAPTCHA_DAILY_CAP_USD): what is leased today; --set replaces the cap and wakes the batches it paused')
    .option('--set <usd>', 'the new cap in USD (e.g. 25.00)')
    .option('--json', 'print JSON')
    .action(async (o: { set?: string; json?: boolean }, cmd: Command) => {
      if (o.set !== undefined) {
        const parsed = parseBudgetUsd(o.set);
        if ('error' in parsed) throw new CliError(`--set: ${parsed.error.replace(/^budget/, 'cap')}`, EXIT.USAGE);
      }
      const s = sessionOf(cmd);
      const account = (await s.solver()).account();
      const view = o.set !== undefined ? await account.setDailyCap(o.set, s.identity) : await account.dailyCap();
      if (o.json) return printJson(view);
      if (!view) return out('no daily cap leased or set yet (CAPTCHA_DAILY_CAP_USD sets it for new batches)');
      out(
        table(undefined, [
          ['day (UTC)', view.day],
          ['cap', view.capMicros === undefined ? 'CAPTCHA_DAILY_CAP_USD of each batch' : formatUsd(view.capMicros)],
          ['leased to batches', formatUsd(view.leasedMicros)],
          ['reached at', view.reachedAt ?? '-'],
          ['resets at', view.resetsAt],
        ]),
      );
    });
}

export function printBalance(c: BalanceCheck): void {
  // several providers (CAPTCHA_PROVIDERS): one row each, with its own alert
  const several = (c.providers?.length ?? 0) > 1;
  out(
    table(undefined, [
      ...(several ? [] : [['provider', c.provider], ['balance', c.balance]]),
      ['low-balance threshold', c.lowBalance ?? '- (CAPTCHA_LOW_BALANCE unset)'],
      ...(!several && c.threads ? [['thread plan', `${c.threads.threads} threads: ${c.threads.workingThreads} working, ${c.threads.freeThreads} free`]] : []),
      ['checked at', c.checkedAt],
    ]),
  );
  if (several) {
    out(
      table(
        ['provider', 'balance', 'low', 'thread plan'],
        c.providers!.map((p) => [
          p.provider,
          p.balance ?? `- (${p.error ?? 'unread'})`,
          p.low ? (p.alerted ? 'yes: alert raised' : 'yes (alert already raised)') : 'no',
          p.threads ? `${p.threads.threads} threads: ${p.threads.workingThreads} working, ${p.threads.freeThreads} free` : '-',
        ]),
      ),
    );
  }
  for (const p of several ? c.providers!.filter((x) => x.low) : c.low ? [c] : []) {
    out(`${several ? `${p.provider}: ` : ''}balance ${p.balance} is below ${c.lowBalance}${p.alerted ? ': alert raised' : ' (alert already raised for this crossing)'}`);
  }
}

/** The token feedback section of `dlq stats`. */
export function printFeedback(f: FeedbackStats): void {
  const rate = (c: FeedbackCounts): string => (c.acceptance === null ? '-' : `${(c.acceptance * 100).toFixed(1)} %`);
  const row = (name: string, c: FeedbackCounts): (string | number)[] => [name, c.good, c.bad, rate(c)];
  out(`\ntoken feedback since ${f.since}: acceptance ${rate(f.total)} (${f.total.good} good, ${f.total.bad} bad)`);
  out(table(['provider', 'good', 'bad', 'acceptance'], Object.entries(f.byProvider).map(([k, c]) => row(k, c))));
  out(table(['type', 'good', 'bad', 'acceptance'], Object.entries(f.byType).map(([k, c]) => row(k, c))));
  if (f.bySitekey.length) {
    out(table(['sitekey', 'provider', 'type', 'good', 'bad', 'acceptance'], f.bySitekey.map((r) => [r.sitekey, r.provider, r.captchaType, r.good, r.bad, rate(r)])));
  }
}
