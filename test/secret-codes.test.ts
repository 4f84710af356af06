// A provider answer whose *code* echoes the API key (`ERROR_KEY_<key>`, the key in any case, URL-encoded, base64,
// base64url or hex), at submit and at poll, for both wire families (legacy in.php / res.php and JSON createTask /
// getTaskResult): the code becomes UNRECOGNIZED_ANSWER, and the key (in every spelling) is in no workflow history
// (payloads decoded), search attribute, DLQ entry or query answer, CLI output or worker log line.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { ProviderName } from '../src/config';
import type { ScenarioSpec } from '../src/simulator/server';
import { allHistoriesText, startStack, type Stack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';
import { cliEnvOf, runCli, until as waitUntil } from './helpers/cli';

// every worker log line of this process, at every level
const logLines: string[] = [];
Runtime.install({ logger: new DefaultLogger('DEBUG', (entry) => logLines.push(`${entry.level} ${entry.message} ${inspect(entry.meta, { depth: 10 })}`)) });

/** 32 characters (as the simulator wants), with characters that URL-encoding and base64 change; used nowhere else. */
const KEY = 'SENTINEL/k+y=0123456789abcdef-AB';
const PAGE = 'https://example.com/secret-codes';

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const b64url = (text: string): string => Buffer.from(text).toString('base64url');
/** The spellings an answer echoes the key in. */
const ECHOES: Record<string, string> = {
  raw: KEY,
  lower: KEY.toLowerCase(),
  upper: KEY.toUpperCase(),
  url: encodeURIComponent(KEY),
  base64: b64(KEY),
  base64url: b64url(KEY),
  hex: Buffer.from(KEY).toString('hex'),
};
/** What the scans look for, in any letter case: the key and its encodings (base64 without its padding). */
const NEEDLES = [
  ...new Set([KEY, encodeURIComponent(KEY), ...[KEY, KEY.toLowerCase(), KEY.toUpperCase()].flatMap((k) => [b64(k).replace(/=+$/, ''), b64url(k), Buffer.from(k).toString('hex')])]),
].map((n) => n.toLowerCase());

/** Where the key shows up in `text` (any spelling, any case): a few snippets, or none. */
function leaks(text: string): string[] {
  const found: string[] = [];
  const lower = text.toLowerCase();
  for (const needle of NEEDLES) {
    for (let at = lower.indexOf(needle); at >= 0 && found.length < 5; at = lower.indexOf(needle, at + 1)) {
      found.push(text.slice(Math.max(0, at - 120), at + needle.length + 40).replace(/\s+/g, ' '));
    }
  }
  return found;
}

const sitekey = (stage: 'submit' | 'poll', echo: string): string => `sk-echo-${stage}-${echo}`;

/** Each sitekey answers a code that carries the key: every submit, or every poll of its task. */
function script(): ScenarioSpec {
  const sitekeys: NonNullable<ScenarioSpec['sitekeys']> = {};
  for (const [name, echo] of Object.entries(ECHOES)) {
    const code = `ERROR_KEY_${echo}`;
    sitekeys[sitekey('submit', name)] = { submit: [{ type: 'error', code, errorText: `key ${echo} refused` }] };
    sitekeys[sitekey('poll', name)] = { poll: [{ type: 'error', code, errorText: `key ${echo} refused` }] };
  }
  return { sitekeys };
}

interface Run {
  code: number;
  output: string;
}

let t: TestEnv;
let dir: string;
before(async () => {
  t = await startTestEnv();
  dir = await mkdtemp(join(tmpdir(), 'captcha-secret-codes-'));
});
after(async () => {
  await t?.teardown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI as a subprocess against the stack (no provider key in its environment: the CLI never needs one). */
async function cli(stack: Stack, args: string[]): Promise<Run> {
  const run = await runCli(args, { env: cliEnvOf(t, stack, { CAPTCHA_PROVIDER: stack.config.provider.name }), timeoutMs: 120_000 });
  return { code: run.code, output: `${run.stdout}\n${run.stderr}` };
}

/** A loaded machine takes its time over 14 failing solves. */
const until = <T>(what: string, fn: () => Promise<T | undefined | false>): Promise<T> => waitUntil(what, fn, 120_000);

const FAMILIES: { family: string; provider: ProviderName }[] = [
  { family: 'legacy in.php / res.php', provider: 'captchaai' },
  { family: 'JSON createTask / getTaskResult', provider: '2captcha-v2' },
];

void describe('an answer code that echoes the key', () => {
  for (const { family, provider } of FAMILIES) {
    void test(`${family}: at submit and at poll, in every spelling, the code is UNRECOGNIZED_ANSWER and the key is nowhere`, async () => {
      const stack = await startStack(t, {
        name: `secret-codes-${provider}`,
        provider,
        apiKey: KEY,
        simulator: { scenarios: script() },
        env: { SOLVE_SUBMIT_MAX_ATTEMPTS: '2', SOLVE_MAX_RESUBMITS: '0' },
      });
      const batchId = `secret-codes-${provider}-${stack.taskQueue}`;
      const tasks = Object.keys(ECHOES).flatMap((name) =>
        (['submit', 'poll'] as const).map((stage) => ({ type: 'recaptcha-v2', sitekey: sitekey(stage, name), pageUrl: PAGE, key: `${stage}-${name}` })),
      );
      const file = join(dir, `${provider}.json`);
      await writeFile(file, JSON.stringify(tasks));
      const outputs: string[] = [];
      let listed = '';
      try {
        await stack.run(async () => {
          const started = await cli(stack, ['batch', 'start', file, '--batch-id', batchId, '--watch', '--interval', '1s']);
          outputs.push(started.output);
          assert.equal(started.code, 0, started.output);
          // every task ended in the DLQ
          const stats = await until('every task dead-lettered', async () => {
            const run = await cli(stack, ['dlq', 'stats', '--json']);
            outputs.push(run.output);
            const parsed = run.code === 0 ? (JSON.parse(run.output) as { total: number; byCode: Record<string, number> }) : undefined;
            return parsed && parsed.total >= tasks.length ? parsed : undefined;
          });
          assert.equal(stats.total, tasks.length, JSON.stringify(stats));
          assert.ok((stats.byCode.UNRECOGNIZED_ANSWER ?? 0) > 0, `byCode: ${JSON.stringify(stats.byCode)}`);
          for (const code of Object.keys(stats.byCode)) assert.doesNotMatch(code, /^ERROR_KEY_/, `a key-bearing code in byCode: ${code}`);
          for (const args of [
            ['dlq', 'stats'],
            ['dlq', 'list', '--limit', '500'],
            ['dlq', 'list', '--limit', '500', '--json'],
            ['dlq', 'export', '--format', 'json'],
            ['batch', 'status', batchId],
            ['batch', 'status', batchId, '--json'],
          ]) {
            const run = await cli(stack, args);
            assert.equal(run.code, 0, `${args.join(' ')}: ${run.output}`);
            outputs.push(run.output);
            if (args.includes('list') && args.includes('--json')) listed = run.output;
          }
        });

        // the submit-stage failures end with the code itself; the poll-stage ones carry it in their attempts
        const entries = JSON.parse(listed) as { entries: { task: { sitekey?: string }; code: string; message: string }[] };
        assert.equal(entries.entries.length, tasks.length);
        for (const entry of entries.entries) {
          if (entry.task.sitekey?.startsWith('sk-echo-submit-')) assert.equal(entry.code, 'UNRECOGNIZED_ANSWER', inspect(entry));
          assert.doesNotMatch(entry.code, /^ERROR_KEY/, inspect(entry));
        }

        // search attributes of every workflow, and the code attribute's values
        const visible: string[] = [];
        for await (const wf of stack.client.workflow.list({ query: `TaskQueue = "${stack.taskQueue}"` })) visible.push(inspect(wf.searchAttributes, { depth: 10 }));
        assert.ok(visible.length > tasks.length, `${visible.length} workflows listed`);
        const unrecognized = await until('the code search attribute indexed', async () => {
          let n = 0;
          for await (const _ of stack.client.workflow.list({ query: `TaskQueue = "${stack.taskQueue}" AND CaptchaErrorCode = "UNRECOGNIZED_ANSWER"` })) n++;
          return n >= Object.keys(ECHOES).length ? n : undefined;
        });
        assert.ok(unrecognized >= Object.keys(ECHOES).length);

        const histories = await allHistoriesText(stack.client);
        assert.ok(histories.text.includes('UNRECOGNIZED_ANSWER'), 'the histories hold the failures');
        assert.ok(histories.text.includes(`sk-echo-poll-base64`), 'the scan sees decoded payloads');
        assert.ok(stack.sim.stats().paidSubmits >= Object.keys(ECHOES).length, 'the poll-stage tasks were submitted');
        const logged = logLines.join('\n');
        assert.match(logged, /UNRECOGNIZED_ANSWER/, 'the failures are among the log lines searched');
        for (const [what, text] of [
          ['a workflow history', histories.text],
          ['a search attribute', visible.join('\n')],
          ['CLI output or a DLQ query answer', outputs.join('\n')],
          ['a worker log line', logged],
        ] as const) {
          assert.deepEqual(leaks(text), [], `the key is in ${what}`);
        }
      } finally {
        await stack.close();
      }
    });
  }
});
