// docker-compose.yml, read by Docker Compose's own parser (`docker compose config`: interpolation, merging, validation
// against the compose spec; no engine needed — see scripts/compose-check.ts for where the binary comes from), checked
// against docs/deployment.md (every image, port and variable it names is in the file, and the other way round), the
// product's configuration (the worker's environment loads), the search attributes, and the Dockerfile's shape.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { loadConfig, PROVIDERS } from '../src/config';
import { SEARCH_ATTRIBUTES } from '../src/domain/names';
import { COMPOSE_FILE, PROJECT_ROOT, composeConfig, resolveDockerCompose, type ComposeModel, type DockerCompose } from '../scripts/compose-check';

let compose: DockerCompose;
let model: ComposeModel; // with the simulator profile
let plain: ComposeModel; // without
let raw: string;
let doc: string;

before(async () => {
  compose = await resolveDockerCompose();
  [model, plain, raw, doc] = await Promise.all([
    composeConfig(compose, { profiles: ['simulator'] }),
    composeConfig(compose),
    readFile(COMPOSE_FILE, 'utf8'),
    readFile(join(PROJECT_ROOT, 'docs', 'deployment.md'), 'utf8'),
  ]);
});

/** The rows of the markdown table that follows `## <heading>`, as arrays of cell texts. */
function table(heading: string): string[][] {
  const section = doc.split(/^## /m).find((part) => part.startsWith(`${heading}\n`));
  assert.ok(section, `docs/deployment.md has a "## ${heading}" section`);
  return section
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|[-| ]+\|$/.test(line))
    .slice(1)
    .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
}
/** Inline code spans (fenced blocks are left out: their backticks would pair up wrongly). */
const ticks = (text: string): string[] => [...text.replace(/^```[^]*?^```/gm, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);

/** The worker's environment as the container gets it (null: taken from the shell, absent when unset). */
function workerEnv(m: ComposeModel): Record<string, string> {
  const env = m.services.worker?.environment ?? {};
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

describe('docker-compose.yml', () => {
  test('parses and validates with the real compose parser, with and without the simulator profile', () => {
    assert.match(compose.version, /^2\.\d+/);
    assert.equal(model.name, 'captcha-dlq');
    assert.deepEqual(Object.keys(plain.services).sort(), ['postgresql', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker']);
    assert.deepEqual(Object.keys(model.services).sort(), [...Object.keys(plain.services), 'simulator'].sort());
    assert.deepEqual(model.services.simulator?.profiles, ['simulator']);
  });

  test('the parser is strict: a malformed variant is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'compose-'));
    try {
      const file = join(dir, 'docker-compose.yml');
      await writeFile(file, raw.replace('replicas: ${WORKER_REPLICAS:-1}', 'replicas: many'));
      await assert.rejects(composeConfig(compose, { file }), /replicas|many|invalid/i);
      await writeFile(file, raw.replace('condition: service_completed_successfully', 'condition: when_it_feels_like_it'));
      await assert.rejects(composeConfig(compose, { file }), /condition|when_it_feels_like_it/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('startup order: schema job → server (healthy) → namespace and search attributes job → worker; the UI after the server', () => {
    const s = model.services;
    assert.deepEqual(s.temporal?.depends_on?.['temporal-schema']?.condition, 'service_completed_successfully');
    assert.equal(s['temporal-schema']?.depends_on?.postgresql?.condition, 'service_healthy');
    assert.equal(s['temporal-setup']?.depends_on?.temporal?.condition, 'service_healthy');
    assert.equal(s['temporal-ui']?.depends_on?.temporal?.condition, 'service_healthy');
    assert.equal(s.worker?.depends_on?.['temporal-setup']?.condition, 'service_completed_successfully');
    assert.deepEqual(s.worker?.depends_on?.simulator, { condition: 'service_healthy', required: false }, 'the simulator is optional for the worker');
    for (const name of ['postgresql', 'temporal', 'simulator']) assert.ok(s[name]?.healthcheck?.test?.length, `${name} has a healthcheck`);
    assert.match(model.configs?.['temporal-dynamic-config']?.content ?? '', /limit\.maxIDLength/);
    assert.ok(s.postgresql?.volumes?.some((v) => v.source === 'postgres-data' && v.target === '/var/lib/postgresql/data'));
  });

  test('our search attributes are registered by the admin-tools job, exactly SEARCH_ATTRIBUTES', () => {
    const setup = model.services['temporal-setup']!;
    assert.match(setup.image ?? '', /^temporalio\/admin-tools:/);
    const pairs = (setup.environment?.CAPTCHA_SEARCH_ATTRIBUTES ?? '').split(/\s+/).filter(Boolean);
    assert.deepEqual(Object.fromEntries(pairs.map((p) => p.split('='))), { ...SEARCH_ATTRIBUTES });
    assert.match((setup.command ?? []).join('\n'), /temporal operator search-attribute create/);
  });

  test('the worker: built from the Dockerfile, its environment loads as our configuration, scalable, metrics on 9464', () => {
    const worker = model.services.worker!;
    assert.equal(worker.build?.dockerfile, 'Dockerfile');
    assert.equal(worker.deploy?.replicas, 1);
    assert.ok(!worker.ports?.some((p) => p.published), 'no fixed host port: replicas would collide');
    assert.deepEqual(worker.ports?.map((p) => p.target), [9464]);
    const config = loadConfig(workerEnv(model));
    assert.equal(config.temporal.address, 'temporal:7233');
    assert.equal(config.provider.baseUrl, 'http://simulator:8085');
    assert.equal(config.provider.apiKey?.length, 32, 'the default key is one the simulator accepts');
    assert.deepEqual(config.metrics, { host: '0.0.0.0', port: 9464, sdkBindAddress: '0.0.0.0:9465' });
    assert.equal(config.worker.taskQueueActivitiesPerSecond, undefined, 'no server-side limit unless asked');
    assert.equal(model.services.simulator?.image, worker.image, 'the simulator runs from the same image');
  });

  test('variables reach the containers: replicas, the server-side rate limit, the provider for worker and simulator', async () => {
    const m = await composeConfig(compose, {
      profiles: ['simulator'],
      env: { WORKER_REPLICAS: '3', WORKER_TASK_QUEUE_ACTIVITIES_PER_SECOND: '25', CAPTCHA_PROVIDER: 'capsolver', CAPTCHA_API_KEY: 'k'.repeat(32), WORKER_CAPTCHA_BASE_URL: 'https://api.capsolver.com' },
    });
    assert.equal(m.services.worker?.deploy?.replicas, 3);
    const config = loadConfig(workerEnv(m));
    assert.equal(config.worker.taskQueueActivitiesPerSecond, 25);
    assert.equal(config.provider.name, 'capsolver');
    assert.equal(config.provider.baseUrl, 'https://api.capsolver.com');
    assert.equal(m.services.simulator?.environment?.CAPTCHA_PROVIDER, 'capsolver', 'the simulator speaks the same dialect');
  });
});

describe('docs/deployment.md against the file', () => {
  test('every service, image and port of the services table is in the file, and every service of the file is in the table', () => {
    const rows = table('Services');
    const services = rows.map((r) => ticks(r[0]!)[0]!);
    assert.deepEqual([...services].sort(), Object.keys(model.services).sort());
    for (const [cell0, cell1, cell2] of rows) {
      const name = ticks(cell0!)[0]!;
      const service = model.services[name]!;
      assert.equal(ticks(cell1!)[0], service.image, `${name}: image`);
      for (const port of ticks(cell2!)) {
        assert.ok(service.ports?.some((p) => String(p.target) === port || p.published === port), `${name}: port ${port} is in the file`);
      }
      if ((service.ports ?? []).length) assert.ok(ticks(cell2!).length, `${name}: its ports are documented`);
    }
  });

  test('every port the page names is a port of the file or the SDK exporter port the worker is given', () => {
    const ports = new Set(ticks(doc).flatMap((t) => [...t.matchAll(/(?<![\w.])(\d{4,5})(?![\w.])/g)].map((m) => m[1]!)));
    const filePorts = new Set(Object.values(model.services).flatMap((s) => (s.ports ?? []).flatMap((p) => [String(p.target), p.published ?? ''])));
    const envValues = new Set(Object.values(model.services).flatMap((s) => Object.values(s.environment ?? {}).map(String)));
    for (const port of ports) assert.ok(filePorts.has(port) || envValues.has(port), `port ${port} is in docker-compose.yml`);
  });

  test('every variable the page names is in the file, and every variable the file reads is documented', () => {
    const named = new Set(ticks(doc).flatMap((t) => t.split(/[\s,=]+/)).filter((t) => /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/.test(t)));
    const composeOwn = new Set(['COMPOSE_PROFILES', 'COMPOSE_PROJECT_NAME']);
    for (const name of named) {
      if (composeOwn.has(name)) continue;
      assert.ok(new RegExp(`\\$\\{${name}(?::?-[^}]*)?\\}|^\\s+${name}:`, 'm').test(raw), `${name} appears in docker-compose.yml`);
    }
    const read = new Set([...raw.matchAll(/\$\{([A-Z][A-Z0-9_]*)(?::?-[^}]*)?\}/g)].map((m) => m[1]!));
    read.add('WORKER_TASK_QUEUE_ACTIVITIES_PER_SECOND'); // passed through from the shell (no value in the file)
    for (const name of read) assert.ok(named.has(name), `${name} (read by docker-compose.yml) is documented`);
  });

  test('the provider table lists exactly the configuration’s providers', () => {
    const listed = table('Choosing a provider').map((r) => ticks(r[0]!)[0]);
    assert.deepEqual(listed, [...PROVIDERS]);
  });
});

describe('Dockerfile', () => {
  test('multi-stage: npm ci + tsc in the build stage; production dependencies, non-root user and a healthcheck at runtime', async () => {
    const dockerfile = await readFile(join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    assert.equal(stages.length, 2, 'two stages');
    const [build, runtime] = stages as [string, string];
    assert.match(build, /^node:\S+ AS build/);
    assert.match(build, /RUN npm ci\b/);
    assert.match(build, /RUN npx tsc -p tsconfig\.build\.json/);
    assert.match(runtime, /RUN npm ci --omit=dev/);
    assert.match(runtime, /COPY --from=build \/app\/dist \.\/dist/);
    assert.match(runtime, /^USER node$/m);
    assert.match(runtime, /^HEALTHCHECK .*\n?.*\/healthz/m);
    assert.match(runtime, /^CMD \["node", "dist\/src\/worker\.js"\]$/m);
    const simulatorCommand = model.services.simulator?.command ?? [];
    assert.equal(simulatorCommand[1], 'dist/src/simulator/main.js', 'the simulator runs from the compiled output');
    // what the build stage compiles is what tsconfig.build.json includes, and what .dockerignore lets in
    const tsconfig = JSON.parse(await readFile(join(PROJECT_ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    for (const dir of tsconfig.include) assert.match(build, new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'), `the build stage copies ${dir}/`);
    const ignored = (await readFile(join(PROJECT_ROOT, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());
    for (const needed of [...tsconfig.include, 'package.json', 'package-lock.json', 'tsconfig.json']) assert.ok(!ignored.includes(needed), `${needed} is not ignored`);
    assert.ok(ignored.includes('node_modules') && ignored.includes('.git'));
  });
});
