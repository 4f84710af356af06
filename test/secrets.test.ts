// Secrets: with a sentinel provider key, run the demo (`npm run demo`, its own dev server on a temp --data-dir) and the
// fault suite (test/faults.test.ts as a subprocess, its server's database kept), capture every line both print and
// every log line the fault suite's processes write, then reopen both databases, fetch every workflow history with every
// payload decoded and search it all: the key appears nowhere (nor URL-encoded, base64 or hex, nor in another letter case).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { DEV_DB_NAME, startDevServer } from '../src/dev/dev-server';
import { holdPorts, strayClient } from './helpers/ports';
import { allHistoriesText } from './helpers/stack';

/** 32 characters, as the simulator wants; used nowhere else. */
const KEY = 'SENTINELSECRET0123456789abcdefAB';
const ROOT = resolve(__dirname, '..');

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'captcha-dlq-secrets-'));
});
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  ms: number;
}

function run(command: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<Run> {
  const started = Date.now();
  return new Promise((done) => {
    // NODE_TEST_CONTEXT would make a child `node --test` think it runs inside this test and skip its files
    const { NODE_TEST_CONTEXT: _inherited, ...inherited } = process.env;
    const child = spawn(command, args, { cwd: ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, output, ms: Date.now() - started });
    });
    // a child that could not be spawned (EAGAIN, ENOMEM under load) emits 'error' and never 'exit'
    child.once('error', (err) => {
      if (child.pid !== undefined) return;
      clearTimeout(timer);
      done({ code: null, signal: null, output: `${output}\n${command} could not be started: ${err.message}`, ms: Date.now() - started });
    });
  });
}

/** The key's spellings searched for, in any letter case: as is, URL-encoded, base64 (no padding), base64url, hex. */
const NEEDLES = new Set(
  [KEY, encodeURIComponent(KEY), Buffer.from(KEY).toString('base64').replace(/=+$/, ''), Buffer.from(KEY).toString('base64url'), Buffer.from(KEY).toString('hex')].map((n) =>
    n.toLowerCase(),
  ),
);

/** Where the key shows up in `text`, in any letter case or encoding of NEEDLES: a few snippets, or none. */
function leaks(text: string): string[] {
  const found: string[] = [];
  const lower = text.toLowerCase();
  for (const needle of NEEDLES) {
    let at = lower.indexOf(needle);
    while (at >= 0 && found.length < 5) {
      found.push(text.slice(Math.max(0, at - 120), at + needle.length + 40).replace(/\s+/g, ' '));
      at = lower.indexOf(needle, at + 1);
    }
  }
  return found;
}

/** Reopens a dev server on a kept database and returns every history of it as text (payloads decoded). */
async function historiesOf(dbFile: string, serverLog: string[]): Promise<{ count: number; text: string }> {
  assert.ok(existsSync(dbFile), `no database at ${dbFile}`);
  const server = await startDevServer({ dbFile, headless: true, log: (line) => serverLog.push(line) });
  const connection = await Connection.connect({ address: server.address });
  try {
    return await allHistoriesText(new Client({ connection, namespace: server.namespace }));
  } finally {
    await connection.close();
    await server.stop();
  }
}

void describe('secrets', () => {
  void test('the sentinel key is in no history, log line or failure message after the demo and the fault suite', async () => {
    const demoDir = join(scratch, 'demo');
    const faultsDir = join(scratch, 'faults');
    const logFile = join(scratch, 'faults.log');
    // 7233 and 8233 held (when free) so that the demo takes other ports and collides with nothing a developer runs
    const parked = await holdPorts([7233, 8233]);
    // what a machine with other work does to a default port (a client of another stack trying localhost:7233, giving
    // up): releasing the ports after the demo must not wait on such a peer
    await Promise.all(parked.ports.map(strayClient));
    // both at once: they share nothing (each has its own server, simulator and ports)
    const [demo, faults] = await Promise.all([
      run('npm', ['run', 'demo', '--', '--data-dir', demoDir, '--time-scale', '0.05'], { CAPTCHA_API_KEY: KEY, LOG_LEVEL: 'INFO' }, 300_000).finally(() => parked.release()),
      run(
        process.execPath,
        ['--import', 'tsx', '--test', '--test-timeout=600000', 'test/faults.test.ts'],
        { FAULT_SUITE_API_KEY: KEY, FAULT_SUITE_DATA_DIR: faultsDir, FAULT_SUITE_LOG_FILE: logFile, FAULT_SUITE_CHAOS_TASKS: '100' },
        600_000,
      ),
    ]);

    // the demo ran end to end (when it does not, say exactly what it printed)
    assert.equal(demo.code, 0, `npm run demo exited ${demo.code} (${demo.signal}) after ${demo.ms} ms:\n${demo.output.slice(-4_000)}`);
    assert.match(demo.output, /Solved: 03AGdBq2/);
    assert.match(demo.output, /DLQ size: 2/);
    const demoAddress = /Temporal dev server at (\S+);/.exec(demo.output)?.[1];
    assert.ok(demoAddress, demo.output);
    if (parked.ports.length === 2) assert.doesNotMatch(demoAddress, /:7233$/, 'the demo took a port already in use');
    // the fault suite passed, with this key
    assert.equal(faults.code, 0, `the fault suite exited ${faults.code} (${faults.signal}):\n${faults.output.slice(-6_000)}`);
    const ran = Number(/^# tests (\d+)$/m.exec(faults.output)?.[1] ?? 0);
    assert.ok(ran >= 4, `the fault suite ran ${ran} tests`);
    assert.match(faults.output, new RegExp(`^# pass ${ran}$`, 'm'));
    assert.match(faults.output, /fault outcomes/);

    // every history of both databases, payloads decoded
    const serverLog: string[] = [];
    const demoHistories = await historiesOf(join(demoDir, DEV_DB_NAME), serverLog);
    const faultHistories = await historiesOf(join(faultsDir, DEV_DB_NAME), serverLog);
    assert.ok(demoHistories.count >= 7, `demo: ${demoHistories.count} workflows (batch, 5 solves, DLQ)`);
    assert.ok(faultHistories.count >= 150, `fault suite: ${faultHistories.count} workflows`);
    for (const [name, h] of [
      ['demo', demoHistories],
      ['fault suite', faultHistories],
    ] as const) {
      assert.ok(h.text.includes('03AGdBq2'), `${name}: the scan does not see decoded payloads (no token found)`);
      assert.ok(h.text.includes('ERROR_CAPTCHA_UNSOLVABLE'), `${name}: no failure message found in the histories`);
      assert.deepEqual(leaks(h.text), [], `${name}: the key is in a workflow history`);
    }

    // every log line: the demo's output (worker runtime at INFO), the fault suite's output, its log file (worker
    // runtime, both worker processes, its server), and the servers reopened here
    const log = await readFile(logFile, 'utf8');
    const logLines = log.split('\n').length;
    assert.ok(logLines >= 100, `the fault suite logged only ${logLines} lines`);
    assert.match(log, /\[worker A\] WORKER_READY/);
    assert.match(log, /\[worker B\] WORKER_READY/);
    assert.match(log, /Activity failed/, 'activity failures (with their messages) are among the lines searched');
    assert.match(demo.output, /dead-lettered|Activity failed/, 'the demo printed its worker logs');
    for (const [name, text] of [
      ['demo output', demo.output],
      ['fault suite output', faults.output],
      ['fault suite log file', log],
      ['reopened servers', serverLog.join('\n')],
    ] as const) {
      assert.deepEqual(leaks(text), [], `${name}: the key is in a log line`);
    }
    console.log(
      `searched ${demoHistories.count} + ${faultHistories.count} histories (${((demoHistories.text.length + faultHistories.text.length) / 1e6).toFixed(1)} MB of text), ` +
        `${demo.output.split('\n').length} demo lines, ${faults.output.split('\n').length} fault-suite lines, ${logLines} log-file lines: no key`,
    );
  });
});
