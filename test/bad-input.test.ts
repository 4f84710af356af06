// Bad input, thrown by a generator (fast-check) at every door of the product:
//   - batch files (JSON, NDJSON, CSV): rejected with TaskValidationError naming the line and the field, never a crash;
//   - CLI arguments (the real CLI as a subprocess): exit 2 with a message naming the option, nothing started;
//   - DLQ signal and update payloads, sent to a real DLQ workflow: a malformed signal leaves `stats` as it was, a
//     malformed update is rejected by its validator with a message that says what is wrong (and `stats` stays);
//   - provider responses, served by a tiny local HTTP server to the real provider client: every answer ends as a
//     value or a classified ProviderError, never another exception, and the key is in no message.
// Run counts are modest (the file stays under a minute); seeds are fixed so a failure replays.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import fc from 'fast-check';
import { createLegacyProvider } from '../src/providers/legacy-client';
import { ProviderError } from '../src/providers/errors';
import { TaskValidationError } from '../src/tasks/schema';
import { parseTaskText, readTaskFile, type TaskFileFormat } from '../src/tasks/files';
import { InvalidIdError, checkBatchId } from '../src/domain/ids';
import { DLQ_FILTER_FIELDS, deadLetterSignal, dlqDiscardSignal, dlqDiscardUpdate, dlqPurgeUpdate, dlqRetrySignal, dlqRetryUpdate, dlqShardSnapshotSignal, dlqStatsQuery, solveOutcomeSignal, type DlqStats } from '../workflows/messages';
import { WORKFLOW_TYPES } from '../src/domain/names';
import type { DeadLetterReport } from '../src/domain/types';
import { SENTINEL_KEY, startStack, type Stack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';

let env: TestEnv;
let scratch: string;
before(async () => {
  env = await startTestEnv();
  scratch = await mkdtemp(join(tmpdir(), 'captcha-dlq-bad-input-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
  await env?.teardown();
});

const SEED = 20_260_601;

// ---------------------------------------------------------------------------------------------------------------------
// Task files

const VALID = { type: 'recaptcha-v2', sitekey: '6Le-BAD-INPUT-sitekey', pageUrl: 'https://example.com/login' };

/** One way to break a task, and the field the error must name. CSV can only hold strings. */
type Breakage = { field: string; apply: (t: Record<string, unknown>) => Record<string, unknown>; csv: boolean };

/** NUL, BEL, backspace, tab, LF, CR, ESC, DEL, NEL, LINE SEPARATOR */
const CONTROL_CHARS = ['\u0000', '\u0007', '\b', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u2028'];

/** `text` with a control character inside (never at either end: CSV cells and sitekeys are trimmed). */
function withControl(text: string): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...CONTROL_CHARS), fc.integer({ min: 1, max: text.length - 1 })).map(([c, at]) => text.slice(0, at) + c + text.slice(at));
}

function wireBreakages(): fc.Arbitrary<Breakage>[] {
  const option = (type: string, name: string, value: fc.Arbitrary<string>): fc.Arbitrary<Breakage> =>
    value.map((v): Breakage => ({ field: `options.${name}`, apply: (t) => ({ ...t, type, options: { [name]: v } }), csv: false }));
  return [
    // (a CSV cell with a line break spans two lines: the problem is reported on the record's last one)
    withControl('6Le-BAD-INPUT-sitekey').map((sitekey): Breakage => ({ field: 'sitekey', apply: (t) => ({ ...t, sitekey }), csv: !/[\r\n]/.test(sitekey) })),
    withControl('https://example.com/login').map((pageUrl): Breakage => ({ field: 'pageUrl', apply: (t) => ({ ...t, pageUrl }), csv: !/[\r\n]/.test(pageUrl) })),
    option('recaptcha-v2', 'userAgent', withControl('Mozilla/5.0 (X11; Linux x86_64)')),
    option('recaptcha-v2', 'proxy', withControl('user:pass@10.0.0.1:8080')),
    option('recaptcha-v2', 'data', withControl('data-s-value-0123')),
    option('recaptcha-v3', 'action', withControl('login_form')),
    option('turnstile', 'pageData', withControl('page-data-0123')),
    fc.constant<Breakage>({ field: 'sitekey', apply: (t) => ({ ...t, sitekey: `6Le${'x'.repeat(200)}` }), csv: true }),
    fc.constant<Breakage>({ field: 'pageUrl', apply: (t) => ({ ...t, pageUrl: `https://example.com/${'p'.repeat(2_000)}` }), csv: true }),
    option('recaptcha-v2', 'userAgent', fc.constant('U'.repeat(1_001))),
    option('recaptcha-v2', 'proxy', fc.constant(`user:${'p'.repeat(500)}@10.0.0.1:8080`)),
  ];
}

const breakageArb: fc.Arbitrary<Breakage> = fc.oneof(
  fc.string({ maxLength: 12 }).filter((s) => !['recaptcha-v2', 'recaptcha-v3', 'hcaptcha', 'turnstile', 'image'].includes(s)).map(
    (type): Breakage => ({ field: 'type', apply: (t) => ({ ...t, type }), csv: type.trim() !== '' }),
  ),
  fc.string({ maxLength: 7 }).map((sitekey): Breakage => ({ field: 'sitekey', apply: (t) => ({ ...t, sitekey }), csv: sitekey.trim() !== '' })),
  fc.oneof(fc.constant('ftp://example.com/x'), fc.constant('not a url'), fc.constant('example.com/login'), fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !/^https?:\/\//.test(s))).map(
    (pageUrl): Breakage => ({ field: 'pageUrl', apply: (t) => ({ ...t, pageUrl }), csv: pageUrl.trim() !== '' }),
  ),
  fc.string({ minLength: 1, maxLength: 10 }).filter((k) => !/^[A-Za-z0-9._:@-]+$/.test(k)).map(
    (key): Breakage => ({ field: 'key', apply: (t) => ({ ...t, key }), csv: key.trim() !== '' }),
  ),
  fc.constantFrom('sitekeys', 'page_url', 'proxy_type', 'priority').map((extra): Breakage => ({ field: '(task)', apply: (t) => ({ ...t, [extra]: 'x' }), csv: true })),
  fc.constantFrom(0.1, 0.5, 1, '0.5').map((minScore): Breakage => ({
    field: 'options.minScore',
    apply: (t) => ({ ...t, type: 'recaptcha-v3', options: { minScore } }),
    csv: false,
  })),
  fc.constantFrom('FTP', 'socks', '').map((proxyType): Breakage => ({ field: 'options.proxyType', apply: (t) => ({ ...t, options: { proxyType } }), csv: false })),
  fc.constantFrom(42, null, true, ['6Le-x']).map((sitekey): Breakage => ({ field: 'sitekey', apply: (t) => ({ ...t, sitekey }), csv: false })),
  fc.constant<Breakage>({ field: 'sitekey', apply: ({ sitekey: _omit, ...t }) => t, csv: false }),
  // every field that goes on the wire to the provider: no control character, a bounded length
  ...wireBreakages(),
);

function csvCell(v: unknown): string {
  return `"${String(v).replace(/"/g, '""')}"`;
}

function render(tasks: Record<string, unknown>[], format: TaskFileFormat): string {
  if (format === 'json') return JSON.stringify(tasks, null, 1);
  if (format === 'ndjson') return tasks.map((t) => JSON.stringify(t)).join('\n');
  const columns = [...new Set(tasks.flatMap((t) => Object.keys(t)))];
  return [columns.join(','), ...tasks.map((t) => columns.map((c) => (t[c] === undefined ? '' : csvCell(t[c]))).join(','))].join('\n');
}

/** The line an item is reported on: JSON items by index + 1, NDJSON by line, CSV after the header. */
function lineOf(index: number, format: TaskFileFormat): number {
  return format === 'csv' ? index + 2 : index + 1;
}

/** Where a problem of the task at `index` is reported: JSON has items (0-based, as default keys), NDJSON and CSV lines. */
function placeOf(index: number, format: TaskFileFormat): { where: string; is: (p: { index?: number; line?: number }) => boolean } {
  if (format === 'json') return { where: `item ${index}`, is: (p) => p.line === undefined && p.index === index };
  const line = lineOf(index, format);
  return { where: `line ${line}`, is: (p) => p.line === line };
}

// ---------------------------------------------------------------------------------------------------------------------
// DLQ payloads: each generator yields only payloads the DLQ must refuse (built from known-bad parts, not filtered by
// the product's own validator)

const ORDER_FIELDS = new Set<string>([...DLQ_FILTER_FIELDS, 'all', 'reason', 'by', 'requestId', 'dryRun']);
const goodReason = fc.constantFrom('bad page URLs', 'operator cleanup');
const notAnObject = fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 20 }), fc.boolean(), fc.array(fc.jsonValue(), { maxLength: 3 }));
const unknownField = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !ORDER_FIELDS.has(k) && k !== '__proto__');
const badFilter: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.string({ minLength: 1, maxLength: 20 }).map((code) => ({ errorCodes: code })), // a string, not an array
  fc.constant({ errorCodes: [] }),
  fc.array(fc.oneof(fc.integer(), fc.constant(''), fc.constant(null)), { minLength: 1, maxLength: 3 }).map((codes) => ({ errorCodes: codes })),
  fc.constantFrom('fatal', 'Transient', 'dead', '').map((c) => ({ classes: [c] })),
  fc.constantFrom('DEAD', 'gone', 'failed').map((s) => ({ statuses: [s] })),
  fc.oneof(fc.constant('yesterday'), fc.constant('2024-13-45T99:00:00Z'), fc.integer()).map((since) => ({ since })),
  fc.constant({ since: '2024-06-02T00:00:00Z', until: '2024-06-01T00:00:00Z' }),
  fc.constantFrom('codes', 'code', 'status', 'batchId', 'filter').map((k) => ({ [k]: ['x'] })), // the usual mistakes
);
const badOrder = (operation: 'retry' | 'discard' | 'purge'): fc.Arbitrary<unknown> =>
  fc.oneof(
    notAnObject,
    fc.tuple(badFilter, goodReason).map(([f, reason]) => ({ ...f, reason })),
    fc.tuple(unknownField, goodReason).map(([k, reason]) => ({ all: true, reason, [k]: 1 })),
    fc.oneof(fc.constant('yes'), fc.constant(1), fc.constant(null)).map((all) => ({ all, reason: 'x' })),
    fc.oneof(fc.constant('true'), fc.constant(0)).map((dryRun) => ({ all: true, reason: 'x', dryRun })),
    fc.oneof(fc.constant(''), fc.constant('   '), fc.constant('x'.repeat(501)), fc.constant(7)).map((reason) => ({ all: true, reason })),
    // empty filter without "all"
    goodReason.map((reason) => ({ reason })),
    // discard and purge need a reason
    ...(operation === 'retry' ? [] : [fc.constant({ all: true }), fc.constant({ errorCodes: ['ERROR_PAGEURL'] })]),
  );
const badReport: fc.Arbitrary<unknown> = fc.oneof(
  notAnObject,
  fc.constant({ task: { type: 'recaptcha-v2' } }), // no entryId
  fc.oneof(fc.constant(''), fc.constant(42), fc.constant('__proto__'), fc.constant('x'.repeat(1_001))).map((entryId) => ({ entryId, task: { type: 'image' } })),
  fc.oneof(fc.constant(null), fc.constant('recaptcha'), fc.constant({ sitekey: 'x' }), fc.constant([])).map((task) => ({ entryId: 'bad-report', task })),
);
const badOutcome: fc.Arbitrary<unknown> = fc.oneof(
  notAnObject,
  fc.record({ taskKey: fc.string({ maxLength: 10 }), outcome: fc.constantFrom('solved', 'failed', 'cancelled') }), // not a DLQ retry
  fc.constant({ taskKey: 't', outcome: 'solved', retry: { entryId: 'no-such-entry', generation: 1 } }),
);
const badSnapshot: fc.Arbitrary<unknown> = fc.oneof(
  notAnObject,
  fc.constant({ workflowId: 7, seq: 1, total: 1 }),
  fc.constant({ workflowId: '__proto__', seq: 1, total: 1 }),
  fc.constant({ workflowId: 'x/shard-1', seq: 'one', total: 1 }),
);

/** `stats` without the fields that move with the clock. */
function steady(stats: DlqStats): Omit<DlqStats, 'asOf' | 'oldestEntryAgeMs'> {
  const { asOf: _asOf, oldestEntryAgeMs: _age, ...rest } = stats;
  return rest;
}

function report(i: number): DeadLetterReport {
  const failedAt = new Date().toISOString();
  return {
    entryId: `bad-input/task-${i}`,
    task: { type: 'recaptcha-v2', sitekey: '6Le-BAD-INPUT-dlq', pageUrl: `https://example.com/p/${i}`, key: `task-${i}` },
    taskKey: `task-${i}`,
    batchId: 'bad-input-batch',
    provider: '2captcha',
    failureClass: i % 2 ? 'permanent' : 'resubmit',
    code: i % 2 ? 'ERROR_PAGEURL' : 'ERROR_CAPTCHA_UNSOLVABLE',
    message: 'seeded entry',
    attempts: 1,
    paidSubmits: i % 2 ? 0 : 3,
    providerTaskIds: [],
    history: [],
    failedAt,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Provider responses

interface Served {
  status: number;
  contentType: string;
  body: string;
  mode: 'answer' | 'reset' | 'partial';
}

/** Bodies that name the key the way a careless provider or proxy might echo it back. */
const keyEchoes = [
  `ERROR_KEY_DOES_NOT_EXIST ${SENTINEL_KEY}`,
  `<html><body>Bad request: key=${SENTINEL_KEY}&json=1</body></html>`,
  JSON.stringify({ status: 0, request: 'ERROR_WRONG_USER_KEY', error_text: `key ${SENTINEL_KEY} is not valid` }),
  JSON.stringify({ status: 0, request: 'ERROR_ZERO_BALANCE', error_text: `key=${encodeURIComponent(SENTINEL_KEY)}` }),
  `{"status":1,"request":"${SENTINEL_KEY}`,
  `Unknown answer for ${SENTINEL_KEY}`,
];

const bodyArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.json({ maxDepth: 3 }),
  fc
    .record({
      status: fc.oneof(fc.constantFrom(0, 1, '0', '1', 2, -1), fc.constant(null), fc.string({ maxLength: 3 })),
      request: fc.oneof(
        fc.constantFrom('CAPCHA_NOT_READY', 'ERROR_CAPTCHA_UNSOLVABLE', 'ERROR_WRONG_USER_KEY', 'ERROR: 1005', 'MAX_USER_TURN', 'OK', '', '73000000001'),
        fc.string({ maxLength: 30 }),
        fc.integer(),
        fc.constant(null),
        fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
      ),
      error_text: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
    })
    .map((o) => JSON.stringify(o)),
  fc.json({ maxDepth: 2 }).map((j) => j.slice(0, Math.max(1, Math.floor(j.length / 2)))), // truncated
  fc.constantFrom('OK|', 'OK|73000000001', 'OK|tok|extra', 'CAPCHA_NOT_READY', 'ERROR_NO_SUCH_METHOD', 'ERROR:1005', '3.8870', '-', '<!DOCTYPE html><title>502</title>', ''),
  fc.constantFrom(...keyEchoes),
  fc.constant('x'.repeat(64 * 1024)),
);

const servedArb: fc.Arbitrary<Served> = fc.record({
  status: fc.constantFrom(200, 200, 200, 200, 204, 301, 400, 403, 404, 429, 500, 502, 503),
  contentType: fc.constantFrom('application/json', 'text/plain', 'text/html', 'application/octet-stream'),
  body: bodyArb,
  mode: fc.constantFrom<Served['mode']>('answer', 'answer', 'answer', 'answer', 'reset', 'partial'),
});

// ---------------------------------------------------------------------------------------------------------------------

void describe('bad input', () => {
  void test('malformed task files (JSON, NDJSON, CSV): a TaskValidationError naming the line and field, nothing else', () => {
    const formats: TaskFileFormat[] = ['json', 'ndjson', 'csv'];
    // arbitrary text: parsed or refused, never a crash
    fc.assert(
      fc.property(fc.constantFrom(...formats), fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 3 }), fc.string({ unit: 'binary', maxLength: 300 })), (format, text) => {
        try {
          const tasks = parseTaskText(text, format);
          assert.ok(tasks.length > 0);
        } catch (err) {
          assert.ok(err instanceof TaskValidationError, `${format}: ${inspect(err)}`);
          assert.match(err.message, /^invalid task file:\n {2}\S/);
          assert.ok(err.problems.length > 0);
        }
      }),
      { numRuns: 300, seed: SEED },
    );
    // a valid file with one task broken: the error names that task's line and the broken field
    fc.assert(
      fc.property(
        fc.constantFrom(...formats),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(),
        breakageArb,
        (format, size, at, breakage) => {
          fc.pre(format !== 'csv' || breakage.csv);
          const index = at % size;
          const tasks = Array.from({ length: size }, (_, i) => ({ ...VALID, key: `k${i}` }));
          tasks[index] = breakage.apply(tasks[index]!) as (typeof tasks)[number];
          const err = (() => {
            try {
              parseTaskText(render(tasks, format), format);
            } catch (e) {
              return e;
            }
            return assert.fail(`${format}: accepted a task with a bad ${breakage.field}: ${JSON.stringify(tasks[index])}`);
          })();
          assert.ok(err instanceof TaskValidationError, inspect(err));
          const place = placeOf(index, format);
          const problem = err.problems.find(place.is);
          assert.ok(problem, `${format}: no problem at ${place.where}: ${err.message}`);
          assert.ok(problem.field === breakage.field || problem.field.startsWith(`${breakage.field}.`), `${format}: field ${problem.field}, expected ${breakage.field}`);
          assert.ok(err.message.includes(`${place.where}: ${problem.field}: `), err.message);
          assert.equal(err.problems.filter((p) => !place.is(p)).length, 0, `only the broken task is reported: ${err.message}`);
        },
      ),
      { numRuns: 300, seed: SEED },
    );
    // duplicate keys name the later line
    for (const format of formats) {
      assert.throws(
        () => parseTaskText(render([{ ...VALID, key: 'same' }, { ...VALID, key: 'other' }, { ...VALID, key: 'same' }], format), format),
        (err: unknown) => err instanceof TaskValidationError && err.problems.some((p) => placeOf(2, format).is(p) && p.field === 'key'),
      );
    }
  });

  void test('a DLQ export (json, ndjson, csv) is a task file: the entries\' tasks, keyed by task key', () => {
    const entry = (batchId: string, taskKey: string, sitekey: string) => ({
      id: `${batchId}/${taskKey}`,
      status: 'dead',
      failureClass: 'resubmit',
      code: 'ERROR_CAPTCHA_UNSOLVABLE',
      message: 'unsolvable, "quoted", with, commas',
      task: { ...VALID, sitekey, options: { invisible: true } },
      taskKey,
      batchId,
      attempts: 3,
    });
    const entries = [entry('b-1', 'k1', 'SITEKEY-one-1234'), entry('b-1', 'k2', 'SITEKEY-two-1234'), entry('b-2', 'k1', 'SITEKEY-three-12')];
    const json = parseTaskText(JSON.stringify(entries, null, 2), 'json');
    // a task key shared by two entries (two batches) becomes <batch>:<key>
    assert.deepEqual(json.map((t) => t.key), ['b-1:k1', 'k2', 'b-2:k1']);
    assert.deepEqual(json[1], { ...VALID, sitekey: 'SITEKEY-two-1234', options: { invisible: true }, key: 'k2' });
    assert.deepEqual(parseTaskText(entries.map((e) => JSON.stringify(e)).join('\n'), 'ndjson'), json);
    const q = (v: unknown) => `"${String(v).replace(/"/g, '""')}"`;
    const csv = [
      'id,status,failureClass,code,message,type,sitekey,pageUrl,batchId,taskKey,provider,attempts',
      ...entries.map((e) => [e.id, e.status, e.failureClass, e.code, q(e.message), e.task.type, e.task.sitekey, e.task.pageUrl, e.batchId, e.taskKey, 'captchaai', e.attempts].join(',')),
    ].join('\n');
    assert.deepEqual(
      parseTaskText(csv, 'csv').map((t) => [t.key, t.sitekey, t.pageUrl, t.type]),
      json.map((t) => [t.key, t.sitekey, t.pageUrl, t.type]),
      'csv: type, sitekey and page',
    );
    // a broken entry names its item
    assert.throws(() => parseTaskText(JSON.stringify([entries[0], { ...entries[1], task: { ...entries[1]!.task, pageUrl: 'ftp://x' } }]), 'json'), /item 1: pageUrl: must be an http\(s\) URL/);
  });

  void test('a UTF-8 byte order mark is accepted in JSON, NDJSON and CSV files alike', async () => {
    const formats: TaskFileFormat[] = ['json', 'ndjson', 'csv'];
    fc.assert(
      fc.property(fc.constantFrom(...formats), fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{8,40}$/), { minLength: 1, maxLength: 5 }), (format, sitekeys) => {
        const text = render(sitekeys.map((sitekey, i) => ({ ...VALID, sitekey, key: `k${i}` })), format);
        assert.deepEqual(parseTaskText(`\uFEFF${text}`, format), parseTaskText(text, format));
      }),
      { numRuns: 60, seed: SEED },
    );
    // from disk, as an editor writes it: the bytes EF BB BF first
    for (const format of formats) {
      const file = join(scratch, `bom.${format}`);
      await writeFile(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(render([VALID], format))]));
      const read = await readTaskFile(file);
      assert.deepEqual(read.tasks.map((t) => t.sitekey), [VALID.sitekey], format);
    }
  });

  void test('batch ids: empty, too long, malformed or the DLQ id are refused in one bounded sentence; good ids pass', () => {
    const dlq = 'captcha-dlq';
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9._:@-]{1,200}$/), (id) => {
        fc.pre(id !== dlq && id !== 'solve');
        assert.equal(checkBatchId(id, dlq), id);
      }),
      { numRuns: 200, seed: SEED },
    );
    const badId = fc.oneof(
      fc.constant(''),
      fc.constant(dlq),
      fc.constant('solve'),
      fc.string({ minLength: 201, maxLength: 3_000 }),
      fc.tuple(fc.stringMatching(/^[a-z]{0,10}$/), fc.constantFrom('/', ' ', '\u0000', '\n', '"', 'é', '*', '\u2028'), fc.stringMatching(/^[a-z]{0,10}$/)).map(([a, c, b]) => a + c + b),
    );
    fc.assert(
      fc.property(badId, (id) => {
        assert.throws(
          () => checkBatchId(id, dlq),
          (err: unknown) => err instanceof InvalidIdError && /^the batch id /.test(err.message) && !err.message.includes('\n') && err.message.length < 200,
        );
      }),
      { numRuns: 200, seed: SEED },
    );
  });

  void test('malformed CLI arguments: exit 2, the option named, no stack trace, nothing started', async () => {
    const BIN = resolve(__dirname, '../bin/captcha-dlq.js');
    const badFile = join(scratch, 'broken.csv');
    await writeFile(badFile, 'type,sitekey,pageUrl\nrecaptcha-v2,short,https://example.com\n');
    type Case = { args: string[]; expect: RegExp };
    const cases = fc.sample(
      fc.oneof(
        fc.oneof(fc.constantFrom('0', '-1', '501', '1.5', 'ten', '1e3', ''), fc.integer({ min: 501, max: 1e6 }).map(String)).map(
          (v): Case => ({ args: ['dlq', 'list', '--limit', v], expect: /--limit/ }),
        ),
        fc.constantFrom('fatal', 'TRANSIENT', 'retry', ',').map((v): Case => ({ args: ['dlq', 'retry', '--class', v, '--reason', 'x'], expect: /--class/ })),
        fc.constantFrom('yesterday', '2024-13-01', 'soon', '-5h').map((v): Case => ({ args: ['dlq', 'list', '--since', v], expect: /--since/ })),
        fc.constantFrom('0', '501', 'many').map((v): Case => ({ args: ['batch', 'start', badFile, '--concurrency', v], expect: /--concurrency/ })),
        fc.constantFrom('--bogus', '--limitt', '-z').map((v): Case => ({ args: ['dlq', 'stats', v], expect: /unknown option/ })),
        fc.constant<Case>({ args: ['batch', 'start', badFile], expect: /line 2: sitekey: /s }),
        fc.constant<Case>({ args: ['batch', 'start', join(scratch, 'missing.ndjson')], expect: /cannot read .*missing\.ndjson/ }),
      ),
      { numRuns: 8, seed: SEED },
    );
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
        // a closed port: a command that got past validation would fail with exit 3, not 2
        const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', CAPTCHA_DLQ_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('exit', (code) => done({ code, stdout, stderr }));
      });
    // a few at a time: each is a Node process
    const results: { c: Case; r: Awaited<ReturnType<typeof run>> }[] = [];
    for (let i = 0; i < cases.length; i += 4) {
      results.push(...(await Promise.all(cases.slice(i, i + 4).map(async (c) => ({ c, r: await run(c.args) })))));
    }
    for (const { c, r } of results) {
      const shown = `captcha-dlq ${c.args.join(' ')} → exit ${r.code}\nstderr: ${r.stderr}`;
      assert.equal(r.code, 2, shown);
      assert.match(r.stderr, c.expect, shown);
      assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, `a stack trace: ${shown}`);
    }
  });

  void test('malformed DLQ signals leave stats unchanged; malformed updates are rejected by their validators with a clear message', async () => {
    const stack: Stack = await startStack(env, { name: 'bad-input-dlq' });
    try {
      await stack.run(async () => {
        const dlqId = stack.config.dlqWorkflowId;
        const handle = stack.client.workflow.getHandle(dlqId);
        // a DLQ holding a few real entries
        for (let i = 0; i < 3; i++) {
          await stack.client.workflow.signalWithStart(WORKFLOW_TYPES.dlq, {
            workflowId: dlqId,
            taskQueue: stack.taskQueue,
            args: [{}],
            signal: deadLetterSignal,
            signalArgs: [report(i)],
          });
        }
        const stats = async () => steady(await handle.query(dlqStatsQuery));
        const initial = await stats();
        assert.equal(initial.total, 3);

        const signals = fc.sample(
          fc.oneof(
            badOrder('retry').map((p) => ({ name: 'retry', send: () => handle.signal(dlqRetrySignal, p as never), p })),
            badOrder('discard').map((p) => ({ name: 'discard', send: () => handle.signal(dlqDiscardSignal, p as never), p })),
            badReport.map((p) => ({ name: 'deadLetter', send: () => handle.signal(deadLetterSignal, p as never), p })),
            badOutcome.map((p) => ({ name: 'solveOutcome', send: () => handle.signal(solveOutcomeSignal, p as never), p })),
            badSnapshot.map((p) => ({ name: 'shardSnapshot', send: () => handle.signal(dlqShardSnapshotSignal, p as never), p })),
          ),
          { numRuns: 40, seed: SEED },
        );
        for (const s of signals) {
          await s.send();
          // the query runs after the signal (same workflow, in order): it sees what the signal did
          assert.deepEqual(await stats(), initial, `signal ${s.name} ${JSON.stringify(s.p)} changed the DLQ`);
        }

        const updates = fc.sample(
          fc.oneof(
            badOrder('retry').map((p) => ({ name: 'retryEntries', op: 'retry', send: () => handle.executeUpdate(dlqRetryUpdate, { args: [p as never] }), p })),
            badOrder('discard').map((p) => ({ name: 'discardEntries', op: 'discard', send: () => handle.executeUpdate(dlqDiscardUpdate, { args: [p as never] }), p })),
            badOrder('purge').map((p) => ({ name: 'purgeEntries', op: 'purge', send: () => handle.executeUpdate(dlqPurgeUpdate, { args: [p as never] }), p })),
          ),
          { numRuns: 30, seed: SEED },
        );
        for (const u of updates) {
          const shown = `${u.name} ${JSON.stringify(u.p)}`;
          const err = await u.send().then(
            (r) => assert.fail(`${shown} was accepted: ${JSON.stringify(r)}`),
            (e: unknown) => e,
          );
          assert.ok(err instanceof WorkflowUpdateFailedError, `${shown}: ${inspect(err)}`);
          const message = (err.cause as Error | undefined)?.message ?? '';
          assert.match(message, new RegExp(`^invalid ${u.op} order: `), `${shown}: ${message}`);
          assert.ok(message.length < 2_000 && !/\n\s+at /.test(message), `${shown}: ${message}`);
          assert.deepEqual(await stats(), initial, `${shown} changed the DLQ`);
        }
        // the validators never wrote a rejected update into the history
        const history = await handle.fetchHistory();
        assert.equal((history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length, 0);
        // and a good order still works afterwards
        const ok = await handle.executeUpdate(dlqDiscardUpdate, { args: [{ errorCodes: ['ERROR_PAGEURL'], reason: 'the test is over', dryRun: true }] });
        assert.equal(ok.matched, 1);
      });
    } finally {
      await stack.close();
    }
  });

  void test('malformed provider responses: always a value or a classified ProviderError, never a crash, never the key', async () => {
    let next: Served = { status: 200, contentType: 'text/plain', body: 'OK|1', mode: 'answer' };
    const server: Server = createServer((req, res) => {
      req.resume();
      req.once('end', () => {
        if (next.mode === 'reset') return void req.socket.destroy();
        res.writeHead(next.status, { 'content-type': next.contentType });
        if (next.mode === 'partial') {
          res.write(next.body.slice(0, Math.floor(next.body.length / 2)));
          setTimeout(() => req.socket.destroy(), 5);
          return;
        }
        res.end(next.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const provider = createLegacyProvider({ name: '2captcha', baseUrl: url, apiKey: SENTINEL_KEY, requestTimeoutMs: 1_000 });
    const crashes: unknown[] = [];
    const onCrash = (err: unknown) => crashes.push(err);
    process.on('unhandledRejection', onCrash);
    process.on('uncaughtException', onCrash);
    const seen = new Map<string, number>();
    try {
      await fc.assert(
        fc.asyncProperty(servedArb, fc.constantFrom('submit', 'poll', 'balance', 'report'), async (served, op) => {
          next = served;
          let outcome: string;
          try {
            const value =
              op === 'submit'
                ? await provider.submit({ type: 'recaptcha-v2', sitekey: '6Le-BAD-INPUT-provider', pageUrl: 'https://example.com/' })
                : op === 'poll'
                  ? await provider.poll('73000000001')
                  : op === 'balance'
                    ? await provider.balance()
                    : await provider.report('73000000001', 'bad');
            if (op === 'submit') assert.match(value as string, /^[A-Za-z0-9_-]{1,64}$/);
            if (op === 'poll') assert.ok(typeof value === 'object' && value !== null && typeof (value as { ready: unknown }).ready === 'boolean');
            if (op === 'balance') assert.ok(Number.isFinite(value));
            outcome = 'value';
          } catch (err) {
            assert.ok(err instanceof ProviderError, `${op} on ${JSON.stringify(served).slice(0, 300)}: not a ProviderError: ${inspect(err)}`);
            assert.ok(['transient', 'resubmit', 'permanent', 'account'].includes(err.failureClass), `class ${err.failureClass}`);
            // the code is the provider's `request` as sent (an empty one stays empty: see the report)
            assert.equal(typeof err.code, 'string');
            const everything = `${err.message}\n${err.code}\n${err.stack ?? ''}\n${inspect(err, { depth: 5 })}`;
            assert.ok(!everything.includes(SENTINEL_KEY), `the key is in the error of ${op} on ${JSON.stringify(served).slice(0, 200)}: ${err.message}`);
            assert.ok(!everything.includes(encodeURIComponent(SENTINEL_KEY)) || encodeURIComponent(SENTINEL_KEY) === SENTINEL_KEY);
            outcome = `${err.failureClass}`;
          }
          seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
        }),
        { numRuns: 300, seed: SEED },
      );
    } finally {
      process.off('unhandledRejection', onCrash);
      process.off('uncaughtException', onCrash);
      await provider.close();
      await new Promise((r) => server.close(r));
      server.closeAllConnections();
    }
    assert.deepEqual(crashes, [], 'unhandled errors');
    console.log(`provider answers: ${JSON.stringify(Object.fromEntries(seen))}`);
    assert.ok((seen.get('transient') ?? 0) > 0 && (seen.get('value') ?? 0) > 0, JSON.stringify(Object.fromEntries(seen)));
  });
});
