// docker-compose.yml (production) and docker-compose.dev.yml over it, read by Docker Compose's own parser (`docker
// compose config`: interpolation, merging, validation against the compose spec; no engine needed — see
// scripts/compose-check.ts for where the binary comes from), checked against the production rules
// (productionProblems: no dev-only setting, no default secret, loopback ports, versions in step with the tests' server),
// docs/deployment.md (every image, port and variable it names is in the files, and the other way round), the product's
// configuration (the worker's environment loads), the search attributes, and the Dockerfile's shape.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { ConfigError, loadConfig, PROVIDERS, requireProviderKey } from '../src/config';
import { loadConsoleEnv } from '../src/console/main';
import { isLoopback } from '../src/console/security';
import { SEARCH_ATTRIBUTES } from '../src/domain/names';
import {
  COMPOSE_FILE,
  DEV_COMPOSE_FILE,
  PROJECT_ROOT,
  composeConfig,
  productionInputs,
  productionProblems,
  resolveDockerCompose,
  type ComposeModel,
  type DockerCompose,
  type ProductionInputs,
} from '../scripts/compose-check';

let compose: DockerCompose;
let inputs: ProductionInputs;
let model: ComposeModel; // with docker-compose.dev.yml
let plain: ComposeModel; // production: docker-compose.yml alone
let raw: string;
let rawDev: string;
let doc: string;

before(async () => {
  compose = await resolveDockerCompose();
  [inputs, raw, rawDev, doc] = await Promise.all([
    productionInputs(compose),
    readFile(COMPOSE_FILE, 'utf8'),
    readFile(DEV_COMPOSE_FILE, 'utf8'),
    readFile(join(PROJECT_ROOT, 'docs', 'deployment.md'), 'utf8'),
  ]);
  ({ prod: plain, dev: model } = inputs);
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

/** The content of the dynamic config the temporal service mounts. */
function dynamicConfig(m: ComposeModel): string {
  const source = m.services.temporal?.configs?.[0]?.source ?? '';
  return m.configs?.[source]?.content ?? '';
}

/** The worker's environment as the container gets it (null: taken from the shell, absent when unset). */
function workerEnv(m: ComposeModel, service = 'worker'): Record<string, string> {
  const env = m.services[service]?.environment ?? {};
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

describe('docker-compose.yml', () => {
  test('parses and validates with the real compose parser, alone (production) and with docker-compose.dev.yml', () => {
    assert.match(compose.version, /^2\.\d+/);
    assert.equal(model.name, 'captcha-dlq');
    assert.deepEqual(Object.keys(plain.services).sort(), ['console', 'gateway', 'postgresql', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker']);
    assert.deepEqual(Object.keys(model.services).sort(), [...Object.keys(plain.services), 'simulator'].sort(), 'the dev file adds the simulator');
  });

  test('the parser is strict: a malformed variant is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'compose-'));
    try {
      const file = join(dir, 'docker-compose.yml');
      await writeFile(file, raw.replace('replicas: ${WORKER_REPLICAS:-1}', 'replicas: many'));
      await assert.rejects(composeConfig(compose, { files: [file] }), /replicas|many|invalid/i);
      await writeFile(file, raw.replace('condition: service_completed_successfully', 'condition: when_it_feels_like_it'));
      await assert.rejects(composeConfig(compose, { files: [file] }), /condition|when_it_feels_like_it/i);
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
    assert.equal(s.worker?.depends_on?.simulator?.condition, 'service_healthy', 'with the dev file the worker waits for the simulator');
    assert.deepEqual(Object.keys(plain.services.worker?.depends_on ?? {}), ['temporal-setup'], 'in production for nothing else');
    for (const name of ['postgresql', 'temporal', 'simulator']) assert.ok(s[name]?.healthcheck?.test?.length, `${name} has a healthcheck`);
    assert.match(plain.configs?.['temporal-dynamic-config']?.content ?? '', /limit\.maxIDLength/);
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
    // production: the provider's own host, and no key until one is given (the worker then refuses to start, saying so)
    const production = loadConfig(workerEnv(plain));
    assert.equal(production.provider.baseUrl, 'https://ocr.captchaai.com');
    assert.throws(() => requireProviderKey(production), (err: unknown) => err instanceof ConfigError && /CAPTCHA_API_KEY is required/.test(err.message));
    // with the dev file: the simulator and its demo key
    const config = loadConfig(workerEnv(model));
    assert.equal(config.temporal.address, 'temporal:7233');
    assert.equal(config.provider.baseUrl, 'http://simulator:8085');
    assert.equal(config.provider.apiKey?.length, 32, 'the default key is one the simulator accepts');
    assert.deepEqual(config.metrics, { host: '0.0.0.0', port: 9464, sdkBindAddress: '0.0.0.0:9465' });
    assert.equal(config.worker.taskQueueActivitiesPerSecond, undefined, 'no server-side limit unless asked');
    assert.equal(model.services.simulator?.image, worker.image, 'the simulator runs from the same image');
  });

  test('the console: the same image, loopback-published, refuses to start without CONSOLE_TOKEN in production', () => {
    const prod = plain.services.console!;
    assert.equal(prod.image, plain.services.worker?.image);
    assert.deepEqual(prod.ports?.map((p) => [p.host_ip, p.target]), [['127.0.0.1', 8088]]);
    assert.equal(prod.depends_on?.['temporal-setup']?.condition, 'service_completed_successfully');
    const env = workerEnv(plain, 'console');
    const c = loadConsoleEnv(env);
    assert.equal(c.CONSOLE_TOKEN, undefined, 'no default token in production');
    assert.equal(isLoopback(c.CONSOLE_HOST), false, 'it listens beyond loopback inside its container: the token is required');
    assert.equal(loadConfig(env).temporal.address, 'temporal:7233');
    const dev = loadConsoleEnv(workerEnv(model, 'console'));
    assert.ok((dev.CONSOLE_TOKEN ?? '').length >= 16, 'the dev file gives a demo token');
  });

  test('the gateway: the same image, loopback-published, users\' keys from a secret file, no provider key', () => {
    const gateway = plain.services.gateway!;
    assert.equal(gateway.image, plain.services.worker?.image);
    assert.deepEqual(gateway.ports?.map((p) => [p.host_ip, p.target]), [['127.0.0.1', 8090]]);
    assert.equal(gateway.depends_on?.['temporal-setup']?.condition, 'service_completed_successfully');
    assert.deepEqual(gateway.command?.slice(0, 3), ['node', 'dist/src/cli/main.js', 'gateway']);
    const env = workerEnv(plain, 'gateway');
    assert.equal(env.GATEWAY_KEYS_FILE, '/run/secrets/gateway-keys');
    assert.equal(env.CAPTCHA_API_KEY, undefined, 'the provider key stays with the worker');
    assert.equal(loadConfig(env).temporal.address, 'temporal:7233');
    assert.ok(gateway.healthcheck?.test?.length, 'the gateway has a healthcheck');
  });

  test('variables reach the containers: replicas, the server-side rate limit, the provider, the key, the password, the bind host', async () => {
    const m = await composeConfig(compose, {
      env: {
        WORKER_REPLICAS: '3',
        WORKER_TASK_QUEUE_ACTIVITIES_PER_SECOND: '25',
        CAPTCHA_PROVIDER: 'capsolver',
        CAPTCHA_API_KEY: 'k'.repeat(32),
        CAPTCHA_BASE_URL: 'https://eu.capsolver.example',
        POSTGRES_PASSWORD: 'p4ss',
        PUBLISH_HOST: '10.0.0.5',
      },
    });
    assert.equal(m.services.worker?.deploy?.replicas, 3);
    const config = loadConfig(workerEnv(m));
    assert.equal(config.worker.taskQueueActivitiesPerSecond, 25);
    assert.equal(config.provider.name, 'capsolver');
    assert.equal(config.provider.apiKey, 'k'.repeat(32));
    assert.equal(config.provider.baseUrl, 'https://eu.capsolver.example');
    for (const [service, variable] of [['postgresql', 'POSTGRES_PASSWORD'], ['temporal', 'POSTGRES_PWD'], ['temporal-schema', 'SQL_PASSWORD']] as const) {
      assert.equal(m.services[service]?.environment?.[variable], 'p4ss', `${service} ${variable}`);
    }
    assert.deepEqual(Object.values(m.services).flatMap((s) => (s.ports ?? []).map((p) => p.host_ip)), ['10.0.0.5', '10.0.0.5', '10.0.0.5', '10.0.0.5', '10.0.0.5']);
    const dev = await composeConfig(compose, { files: [COMPOSE_FILE, DEV_COMPOSE_FILE], env: { CAPTCHA_PROVIDER: 'capsolver' } });
    assert.equal(dev.services.simulator?.environment?.CAPTCHA_PROVIDER, 'capsolver', 'the simulator speaks the same dialect');
  });
});

describe('production rules (scripts/compose-check.ts productionProblems, run by CI)', () => {
  test('the files keep them: no dev-only setting, no default secret, loopback ports, the tests\' server and UI, a supported Node', () => {
    assert.deepEqual(productionProblems(inputs), []);
    const tags = Object.fromEntries(Object.entries(plain.services).map(([name, s]) => [name, s.image?.split(':')[1]]));
    assert.deepEqual([tags.temporal, tags['temporal-schema'], tags['temporal-setup'], tags['temporal-ui']], [inputs.temporal.server, inputs.temporal.server, inputs.temporal.server, inputs.temporal.ui]);
    assert.match(inputs.dockerfile, /^ARG NODE_VERSION=22$/m);
    assert.doesNotMatch(dynamicConfig(plain), /forceSearchAttributesCacheRefreshOnRead/);
    assert.match(dynamicConfig(model), /system\.forceSearchAttributesCacheRefreshOnRead:\n\s+- value: true/, 'the dev file keeps it for local runs');
    assert.equal(plain.services['temporal-ui']?.environment?.TEMPORAL_CORS_ORIGINS, undefined, 'no CORS origin copied from the sample');
  });

  test('each rule catches its breach, through the real parser', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'compose-rules-'));
    try {
      /** productionProblems of variants of the two files (and of the other inputs) */
      const problems = async (prodText: string, devText: string = rawDev, other: Partial<ProductionInputs> = {}) => {
        const files = [join(dir, 'docker-compose.yml'), join(dir, 'docker-compose.dev.yml')] as const;
        await Promise.all([writeFile(files[0], prodText), writeFile(files[1], devText), copyFile(join(PROJECT_ROOT, 'Dockerfile'), join(dir, 'Dockerfile'))]);
        const [prod, dev] = await Promise.all([composeConfig(compose, { files: [files[0]] }), composeConfig(compose, { files: [...files] })]);
        return productionProblems({ ...inputs, prod, dev, ...other });
      };
      const swap = (text: string, from: string, to: string) => {
        assert.ok(text.includes(from), `the file has ${from}`);
        return text.replace(from, to);
      };
      assert.deepEqual(await problems(raw), [], 'the unchanged copy passes');
      const refresh = '      system.forceSearchAttributesCacheRefreshOnRead:\n        - value: true\n          constraints: {}\n';
      assert.deepEqual(await problems(swap(raw, '\nvolumes:', `${refresh}\nvolumes:`)), [
        'docker-compose.yml: system.forceSearchAttributesCacheRefreshOnRead is a dev-only setting; it belongs in docker-compose.dev.yml',
      ]);
      assert.deepEqual(await problems(raw, swap(rawDev, '- value: 255', '- value: 1000')), [
        "docker-compose.dev.yml: its dynamic config must repeat production's limit.maxIDLength unchanged",
      ]);
      assert.deepEqual(await problems(swap(raw, '      TEMPORAL_DEFAULT_NAMESPACE:', '      TEMPORAL_CORS_ORIGINS: http://localhost:3000\n      TEMPORAL_DEFAULT_NAMESPACE:')), [
        "docker-compose.yml: temporal-ui's TEMPORAL_CORS_ORIGINS=http://localhost:3000 is a development value",
      ]);
      assert.deepEqual(await problems(swap(raw, '      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-}', '      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-temporal}')), [
        "docker-compose.yml: postgresql's POSTGRES_PASSWORD has a default; a secret has none in production",
      ]);
      assert.deepEqual(await problems(swap(raw, '"${PUBLISH_HOST:-127.0.0.1}:${TEMPORAL_UI_PORT:-8080}:8080"', '"${TEMPORAL_UI_PORT:-8080}:8080"')), [
        "docker-compose.yml: temporal-ui's port 8080 is published on all interfaces by default; default PUBLISH_HOST to 127.0.0.1",
      ]);
      const behind = await problems(swap(swap(raw, 'temporalio/ui:${TEMPORAL_UI_VERSION:-2.54.1}', 'temporalio/ui:${TEMPORAL_UI_VERSION:-2.34.0}'), 'temporalio/server:${TEMPORAL_VERSION:-1.32.0}', 'temporalio/server:1.30.1'));
      assert.deepEqual(behind.sort(), [
        `temporal-ui: temporalio/ui:2.34.0 is not the ${inputs.temporal.ui} the tests run (temporal --version); set it in docker-compose.yml and docs/deployment.md`,
        `temporal: temporalio/server:1.30.1 is not the ${inputs.temporal.server} the tests run (temporal --version); set it in docker-compose.yml and docs/deployment.md`,
      ]);
      const node20 = inputs.dockerfile.replace(/^ARG NODE_VERSION=\d+$/m, 'ARG NODE_VERSION=20');
      assert.deepEqual(await problems(raw, rawDev, { dockerfile: node20, today: new Date('2026-05-01T00:00:00Z') }), [
        'Dockerfile: Node 20 reached its end of life on 2026-04-30; move to the next LTS',
      ]);
      assert.deepEqual(await problems(raw, rawDev, { today: new Date('2027-05-01T00:00:00Z') }), ['Dockerfile: Node 22 reached its end of life on 2027-04-30; move to the next LTS']);
      assert.deepEqual(await problems(raw, rawDev, { engines: '>=24' }), ['Dockerfile: Node 22 is outside package.json\'s engines >=24']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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
    const composeOwn = new Set(['COMPOSE_FILE', 'COMPOSE_PROFILES', 'COMPOSE_PROJECT_NAME']);
    const both = `${raw}\n${rawDev}`;
    for (const name of named) {
      if (composeOwn.has(name)) continue;
      assert.ok(new RegExp(`\\$\\{${name}(?::?-[^}]*)?\\}|^\\s+${name}:`, 'm').test(both), `${name} appears in docker-compose.yml or docker-compose.dev.yml`);
    }
    const read = new Set([...both.matchAll(/\$\{([A-Z][A-Z0-9_]*)(?::?-[^}]*)?\}/g)].map((m) => m[1]!));
    // passed through from the shell (no value in the file)
    for (const m of raw.matchAll(/^\s+([A-Z][A-Z0-9_]*):\s*(?:#.*)?$/gm)) read.add(m[1]!);
    assert.ok(read.has('CAPTCHA_API_KEY') && read.has('WORKER_TASK_QUEUE_ACTIVITIES_PER_SECOND'));
    for (const name of read) assert.ok(named.has(name), `${name} (read by the compose files) is documented`);
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
