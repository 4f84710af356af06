// The CLI as a user runs it: `bin/captcha-dlq.js` in a subprocess, its exit code and both streams. One runner for every
// test file that drives the CLI, and the waiting helper they share.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FAST_ENV, type Stack } from './stack';
import type { TestEnv } from './temporal';

export const BIN = resolve(__dirname, '../../bin/captcha-dlq.js');

/** The environment a CLI process needs to reach a test file's server and stack (no provider key: the CLI never needs one). */
export function cliEnvOf(t: TestEnv, stack: Stack, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: t.env.address,
    TEMPORAL_NAMESPACE: t.namespace,
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    DLQ_WORKFLOW_ID: stack.config.dlqWorkflowId,
    ...FAST_ENV,
    ...extra,
  };
}

export interface CliRun {
  /** the exit code; -1 when the process was killed (its timeout) */
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** the environment of the process (nothing is inherited); an undefined value leaves the variable unset */
  env: Record<string, string | undefined>;
  /** `--identity`, when given */
  identity?: string;
  /** killed after this long. @defaultValue 90_000 (a loaded machine bundles workflows slowly) */
  timeoutMs?: number;
  /** inside script(1)'s pseudo-terminal (progress bars), instead of plain pipes */
  tty?: boolean;
}

/** Runs `captcha-dlq <args>` and resolves with how it ended; never rejects. */
export function runCli(args: string[], options: CliOptions): Promise<CliRun> {
  const argv = [BIN, ...(options.identity ? ['--identity', options.identity] : []), ...args];
  const [file, fileArgs] = options.tty
    ? ['script', ['-qefc', [process.execPath, ...argv].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null']]
    : [process.execPath, argv];
  const env = Object.fromEntries(Object.entries(options.env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  return new Promise((done) => {
    execFile(file, fileArgs as string[], { env, timeout: options.timeoutMs ?? 90_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export function expectCode(run: CliRun, code: number, what: string): void {
  assert.equal(run.code, code, `${what}: exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

/** Polls `fn` until it returns something truthy (errors count as "not yet"); fails naming `what` and the last error. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
