// solve: one captcha, its token on stdout.
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { CaptchaSolveError } from '../../client';
import { CAPTCHA_TYPES, type CaptchaOptions, type CaptchaTask } from '../../domain/types';
import { numberArg } from '../args';
import { CliError, EXIT, isError } from '../errors';
import { INVOCATION, formatDuration, message, note, out, printJson } from '../output';
import { sessionOf, type Session } from '../session';

/** The task's options come straight from flags of the same names (proxyType is checked by the task schema). */
interface SolveCliOptions extends Omit<CaptchaOptions, 'proxyType'> {
  type: CaptchaTask['type'];
  route?: string;
  sitekey?: string;
  pageUrl?: string;
  image?: string;
  key?: string;
  proxyType?: string;
  deadLetter: boolean;
  json?: boolean;
}

export function addSolveCommands(program: Command): void {
  program
    .command('solve')
    .description('solve one captcha and print its token (stdout); a final failure prints its class, code and attempts and exits 1')
    .addOption(new Option('--type <type>', 'captcha type').choices(CAPTCHA_TYPES).makeOptionMandatory())
    .option('--sitekey <key>', 'the sitekey (token captchas)')
    .option('--page-url <url>', 'the page the captcha is on (token captchas)')
    .option('--image <file>', 'the image file (type image)')
    .option('--key <key>', 'a task key (names the workflow: solve/<key>)')
    .option('--invisible', 'invisible reCAPTCHA')
    .option('--enterprise', 'reCAPTCHA Enterprise')
    .option('--action <action>', 'reCAPTCHA v3 / Turnstile action')
    .option('--min-score <score>', 'reCAPTCHA v3 minimum score (0.3, 0.7, 0.9)', numberArg(0, 1))
    .option('--data <data>', 'reCAPTCHA data-s / hCaptcha rqdata / Turnstile cData')
    .option('--page-data <data>', 'Turnstile pagedata')
    .option('--user-agent <ua>', 'user agent to solve with')
    .option('--proxy <proxy>', 'login:pass@host:port')
    .addOption(new Option('--proxy-type <type>').choices(['HTTP', 'HTTPS', 'SOCKS4', 'SOCKS5']))
    .option('--route <names>', 'providers in order of preference, comma-separated CAPTCHA_PROVIDERS names (default: all, as configured)')
    .option('--no-dead-letter', 'do not record a final failure in the DLQ')
    .option('--json', 'print the result (or the failure) as JSON')
    .action(async (o: SolveCliOptions, cmd: Command) => {
      process.exitCode = await solveOne(sessionOf(cmd), o);
    });
}

async function solveOne(s: Session, o: SolveCliOptions): Promise<number> {
  const options = {
    ...(o.invisible && { invisible: true }),
    ...(o.enterprise && { enterprise: true }),
    ...(o.action && { action: o.action }),
    ...(o.minScore !== undefined && { minScore: o.minScore }),
    ...(o.data && { data: o.data }),
    ...(o.pageData && { pageData: o.pageData }),
    ...(o.userAgent && { userAgent: o.userAgent }),
    ...(o.proxy && { proxy: o.proxy }),
    ...(o.proxyType && { proxyType: o.proxyType }),
  };
  let body: string | undefined;
  if (o.image) {
    try {
      body = (await readFile(o.image)).toString('base64');
    } catch (err) {
      throw new CliError(`cannot read --image ${o.image}: ${(err as NodeJS.ErrnoException).code ?? message(err)}`, EXIT.USAGE);
    }
  }
  const raw = {
    type: o.type,
    ...(o.sitekey !== undefined && { sitekey: o.sitekey }),
    ...(o.pageUrl !== undefined && { pageUrl: o.pageUrl }),
    ...(body !== undefined && { body }),
    ...(o.key !== undefined && { key: o.key }),
    ...(Object.keys(options).length && { options }),
  };
  const { parseTask } = await import('../../tasks/schema');
  const task = parseTask(raw); // TaskValidationError → exit 2
  const solver = await s.solver();
  const started = Date.now();
  try {
    const result = await solver.solve(task, { deadLetter: o.deadLetter, ...(o.route && { route: o.route.split(',').map((name) => name.trim()) }) });
    if (o.json) printJson(result);
    else {
      out(result.token);
      note(
        `solved in ${formatDuration(Date.now() - started)}: ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}, ` +
          `${result.paidSubmits} paid submit${result.paidSubmits === 1 ? '' : 's'}` +
          `${result.possibleDuplicateSubmits ? ` (+ ${result.possibleDuplicateSubmits} possibly paid twice)` : ''}, provider task ${result.providerTaskId}` +
          `${result.provider ? ` on ${result.provider}` : ''}${result.switches?.length ? ` (${result.switches.map((w) => `${w.from} → ${w.to}: ${w.reason}`).join('; ')})` : ''}`,
      );
    }
    return EXIT.OK;
  } catch (err) {
    if (!isError(err, 'CaptchaSolveError')) throw err;
    const failure = err as CaptchaSolveError;
    const d = failure.details;
    if (o.json) {
      printJson({ error: { failureClass: failure.failureClass, code: d?.code, message: failure.message, attempts: d?.attempts, paidSubmits: d?.paidSubmits, dlqEntryId: d?.dlqEntryId } });
    } else {
      note(
        `solve failed: ${failure.failureClass} ${d?.code ?? ''} after ${d?.attempts ?? '?'} attempt${d?.attempts === 1 ? '' : 's'} ` +
          `(${d?.paidSubmits ?? '?'} paid): ${failure.message}`,
      );
      if (d?.dlqEntryId) note(`dead-lettered as ${d.dlqEntryId}:  ${INVOCATION} dlq list --id ${d.dlqEntryId}`);
    }
    return EXIT.FAILED;
  }
}
