// Connecting to a real cluster securely, the way Temporal's own tools do (@temporalio/envconfig): a temporal.toml
// profile, Temporal's TEMPORAL_* variables over it, the CLI's overrides over those. The first describe checks only the
// options Connection.connect / NativeConnection.connect get (Temporal Cloud with an API key or mTLS, a self-hosted
// cluster with TLS, custom CA, server name); the profile tests connect to a real dev server.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig, type Config } from '../src/config';
import { TemporalUnreachableError, connectClient, connectWorker, connectionOptions } from '../src/temporal';
import { startTestEnv, type TestEnv } from './helpers/temporal';

const CLOUD_API_KEY = 'eyJhbGciOiJFUzI1NiJ9.SENTINEL-temporal-api-key.sig';

async function pemFiles(): Promise<{ cert: string; key: string; ca: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'captcha-dlq-tls-'));
  const files = { cert: join(dir, 'client.pem'), key: join(dir, 'client.key'), ca: join(dir, 'ca.pem') };
  await writeFile(files.cert, '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n');
  await writeFile(files.key, '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n');
  await writeFile(files.ca, '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n');
  return files;
}

void describe('connection options from the environment', () => {
  void test('local default: plain gRPC to localhost:7233, namespace default, no API key', () => {
    const options = connectionOptions(loadConfig({}));
    assert.deepEqual(options, { address: 'localhost:7233' });
    assert.equal(loadConfig({}).temporal.namespace, 'default');
  });

  void test('Temporal Cloud with an API key: TLS with the system roots, the key as bearer, namespace from the endpoint', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: CLOUD_API_KEY });
    assert.equal(config.temporal.namespace, 'ns.acct');
    const options = connectionOptions(config);
    assert.deepEqual(options, {
      address: 'ns.acct.tmprl.cloud:7233',
      tls: {},
      apiKey: CLOUD_API_KEY,
      metadata: { 'temporal-namespace': 'ns.acct' },
    });
    // an explicit namespace wins (e.g. a regional endpoint)
    const regional = loadConfig({ TEMPORAL_ADDRESS: 'us-east-1.aws.api.temporal.io:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: CLOUD_API_KEY });
    assert.deepEqual(connectionOptions(regional), {
      address: 'us-east-1.aws.api.temporal.io:7233',
      tls: {},
      apiKey: CLOUD_API_KEY,
      metadata: { 'temporal-namespace': 'ns.acct' },
    });
  });

  void test('Temporal Cloud with mTLS: the client certificate pair from files, no API key', async () => {
    const files = await pemFiles();
    const config = loadConfig({
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'ns.acct',
      TEMPORAL_TLS_CLIENT_CERT_PATH: files.cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: files.key,
    });
    const options = connectionOptions(config) as { address: string; tls: { clientCertPair: { crt: Buffer; key: Buffer } }; apiKey?: string };
    assert.equal(options.address, 'ns.acct.tmprl.cloud:7233');
    assert.match(options.tls.clientCertPair.crt.toString(), /BEGIN CERTIFICATE-----\nclient/);
    assert.match(options.tls.clientCertPair.key.toString(), /BEGIN PRIVATE KEY/);
    assert.equal(options.apiKey, undefined);
    assert.deepEqual(Object.keys(options.tls), ['clientCertPair'], 'Cloud needs no custom CA or server name');
  });

  void test('self-hosted: TLS on, custom CA and server name, mTLS pair', async () => {
    const files = await pemFiles();
    const tlsOnly = connectionOptions(loadConfig({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_TLS: 'true' }));
    assert.deepEqual(tlsOnly, { address: 'temporal.internal:7233', tls: {} });
    const full = connectionOptions(
      loadConfig({
        TEMPORAL_ADDRESS: '10.0.0.5:7233',
        TEMPORAL_NAMESPACE: 'captcha',
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca,
        TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
        TEMPORAL_TLS_CLIENT_CERT_PATH: files.cert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: files.key,
      }),
    ) as { tls: { serverNameOverride: string; serverRootCACertificate: Buffer; clientCertPair: { crt: Buffer; key: Buffer } } };
    assert.equal(full.tls.serverNameOverride, 'temporal.internal');
    assert.match(full.tls.serverRootCACertificate.toString(), /\nca\n/);
    assert.match(full.tls.clientCertPair.crt.toString(), /\nclient\n/);
    // a server name alone turns TLS on (it means nothing without it)
    assert.deepEqual(connectionOptions(loadConfig({ TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' })).tls, { serverNameOverride: 'temporal.internal' });
  });

  void test('mistakes are refused with the variable named, and the API key is never shown', () => {
    const refuse = (env: Record<string, string>, pattern: RegExp) =>
      assert.throws(() => loadConfig(env), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, pattern);
        assert.ok(!err.message.includes(CLOUD_API_KEY), 'the API key is in the message');
        return true;
      });
    refuse({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/x/client.pem' }, /certificate and key go together \(mTLS\): TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/);
    refuse({ TEMPORAL_API_KEY: CLOUD_API_KEY, TEMPORAL_TLS: 'false' }, /TEMPORAL_API_KEY requires TLS/);
    refuse({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233' }, /Temporal Cloud endpoint: set TEMPORAL_API_KEY, or TEMPORAL_TLS_CLIENT_CERT_PATH/);
    refuse({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_TLS: 'true' }, /Temporal Cloud endpoint/);
    refuse({ TEMPORAL_API_KEY: '' }, /TEMPORAL_API_KEY=\(hidden\)/);
    refuse({ TEMPORAL_TLS: 'maybe' }, /TEMPORAL_TLS="maybe"/);
    // a missing certificate file fails when connecting, naming the file
    assert.throws(
      () => connectionOptions(loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/nonexistent/client.pem', TEMPORAL_TLS_CLIENT_KEY_PATH: '/nonexistent/client.key' })),
      /\/nonexistent\/client\.pem/,
    );
  });
});

/** A temporal.toml in a fresh folder; returns its path. */
async function profileFile(toml: string, dir?: string): Promise<string> {
  const folder = dir ?? (await mkdtemp(join(tmpdir(), 'captcha-dlq-profile-')));
  await mkdir(folder, { recursive: true });
  const file = join(folder, 'temporal.toml');
  await writeFile(file, toml);
  return file;
}

/** A port nothing listens on: a connection there is refused at once. */
const DEAD = '127.0.0.1:1';

/** Connects a client and a worker connection with `config`, and asks the server who it is. */
async function reaches(config: Readonly<Config>): Promise<void> {
  const client = await connectClient(config, 'connection-config test');
  try {
    const info = await client.workflowService.getSystemInfo({});
    assert.ok(info.capabilities, 'the server answered');
    const { namespaceInfo } = await client.workflowService.describeNamespace({ namespace: config.temporal.namespace });
    assert.equal(namespaceInfo?.name, config.temporal.namespace);
  } finally {
    await client.connection.close();
  }
  const worker = await connectWorker(config);
  await worker.close();
}

void describe('Temporal\'s connection conventions: temporal.toml profiles, TEMPORAL_* over them, overrides over both', () => {
  let t: TestEnv;
  before(async () => {
    t = await startTestEnv();
  });
  after(async () => {
    await t.teardown();
  });

  void test('a temporal.toml profile alone connects, at the default location the temporal CLI uses or at TEMPORAL_CONFIG_FILE', async () => {
    const toml = `[profile.default]\naddress = "${t.address}"\nnamespace = "${t.namespace}"\n\n[profile.elsewhere]\naddress = "${DEAD}"\n`;
    // what `temporal config set` writes: $XDG_CONFIG_HOME/temporalio/temporal.toml (~/.config/… without it)
    const home = await mkdtemp(join(tmpdir(), 'captcha-dlq-home-'));
    await profileFile(toml, join(home, '.config', 'temporalio'));
    const fromHome = loadConfig({ HOME: home });
    assert.equal(fromHome.temporal.address, t.address);
    assert.deepEqual(fromHome.temporal.profile, { name: 'default', file: join(home, '.config', 'temporalio', 'temporal.toml') });
    assert.equal(fromHome.temporal.tls, undefined, 'plain gRPC to the dev server');
    await reaches(fromHome);

    const file = await profileFile(toml);
    const named = loadConfig({ TEMPORAL_CONFIG_FILE: file });
    assert.equal(named.temporal.address, t.address);
    await reaches(named);

    // TEMPORAL_PROFILE picks another profile of the file: that one points nowhere, and the error names it
    const elsewhere = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'elsewhere' });
    await assert.rejects(connectClient(elsewhere), (err: unknown) => {
      assert.ok(err instanceof TemporalUnreachableError);
      assert.match(err.message, new RegExp(`cannot reach Temporal at ${DEAD} \\(namespace default, profile elsewhere of ${file.replace(/[.]/g, '\\.')}\\): connection refused`));
      return true;
    });
  });

  void test('TEMPORAL_* variables override the profile, and the CLI\'s overrides (--address, --namespace, --profile) override both', async () => {
    const file = await profileFile(
      `[profile.default]\naddress = "${DEAD}"\nnamespace = "from-profile"\n\n[profile.live]\naddress = "${t.address}"\nnamespace = "from-live"\n`,
    );
    // the profile's address is dead: only the variable makes it connect
    const fromEnv = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: t.address, TEMPORAL_NAMESPACE: t.namespace });
    assert.equal(fromEnv.temporal.address, t.address);
    assert.equal(fromEnv.temporal.namespace, t.namespace);
    await reaches(fromEnv);
    // a variable left unset keeps the profile's value
    assert.equal(loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: t.address }).temporal.namespace, 'from-profile');

    // overrides over the variables: the variable's address is dead now, the flag's is live
    const env = { TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: DEAD, TEMPORAL_NAMESPACE: 'from-env' };
    const flagged = loadConfig(env, { connection: { address: t.address, namespace: t.namespace } });
    assert.equal(flagged.temporal.address, t.address);
    assert.equal(flagged.temporal.namespace, t.namespace);
    await reaches(flagged);
    // --profile wins over TEMPORAL_PROFILE; the variables still win over the profile it picks
    const picked = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'default' }, { connection: { profile: 'live' } });
    assert.deepEqual([picked.temporal.address, picked.temporal.namespace, picked.temporal.profile?.name], [t.address, 'from-live', 'live']);
    const pickedUnderEnv = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_NAMESPACE: t.namespace }, { connection: { profile: 'live' } });
    assert.equal(pickedUnderEnv.temporal.namespace, t.namespace);
    await reaches(pickedUnderEnv);
  });

  void test('a profile carries TLS and an API key the way Temporal Cloud needs them; the variables add to its [tls]', async () => {
    const files = await pemFiles();
    const file = await profileFile(
      [
        '[profile.cloud]',
        'address = "ns.acct.tmprl.cloud:7233"',
        `api_key = "${CLOUD_API_KEY}"`,
        '[profile.cloud.grpc_meta]',
        'x-team = "captcha"',
        '[profile.mtls]',
        'address = "temporal.internal:7233"',
        '[profile.mtls.tls]',
        `client_cert_path = "${files.cert}"`,
        `client_key_path = "${files.key}"`,
        '',
      ].join('\n'),
    );
    const cloud = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' });
    assert.deepEqual(connectionOptions(cloud), {
      address: 'ns.acct.tmprl.cloud:7233',
      tls: {},
      apiKey: CLOUD_API_KEY,
      metadata: { 'x-team': 'captcha', 'temporal-namespace': 'ns.acct' },
    });
    const mtls = connectionOptions(loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'mtls', TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca })) as {
      tls: { serverRootCACertificate: Buffer; clientCertPair: { crt: Buffer } };
    };
    assert.match(mtls.tls.clientCertPair.crt.toString(), /\nclient\n/);
    assert.match(mtls.tls.serverRootCACertificate.toString(), /\nca\n/);
  });
});

void describe('our former variable names', () => {
  void test('TEMPORAL_TLS_CERT_PATH, _KEY_PATH, _CA_PATH still work, with one deprecation line naming Temporal\'s names', async () => {
    const files = await pemFiles();
    const lines: string[] = [];
    const config = loadConfig(
      { TEMPORAL_ADDRESS: '10.0.0.5:7233', TEMPORAL_TLS_CERT_PATH: files.cert, TEMPORAL_TLS_KEY_PATH: files.key, TEMPORAL_TLS_CA_PATH: files.ca },
      { warn: (line) => lines.push(line) },
    );
    const options = connectionOptions(config) as { tls: { serverRootCACertificate: Buffer; clientCertPair: { crt: Buffer; key: Buffer } } };
    assert.match(options.tls.clientCertPair.crt.toString(), /\nclient\n/);
    assert.match(options.tls.clientCertPair.key.toString(), /PRIVATE KEY/);
    assert.match(options.tls.serverRootCACertificate.toString(), /\nca\n/);
    assert.equal(lines.length, 1, 'one line');
    assert.equal(
      lines[0],
      "deprecated: TEMPORAL_TLS_CERT_PATH → TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_KEY_PATH → TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_CA_PATH → TEMPORAL_TLS_SERVER_CA_CERT_PATH (Temporal's own names, also read by the temporal CLI); the old names will be removed",
    );
    // the same value under both names is fine; two different values are refused
    lines.length = 0;
    loadConfig({ TEMPORAL_TLS_CA_PATH: files.ca, TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca }, { warn: (line) => lines.push(line) });
    assert.equal(lines.length, 1);
    assert.throws(
      () => loadConfig({ TEMPORAL_TLS_CA_PATH: files.ca, TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.cert }, { warn: () => undefined }),
      /^ConfigError: invalid configuration: TEMPORAL_TLS_CA_PATH and TEMPORAL_TLS_SERVER_CA_CERT_PATH are both set and differ; keep TEMPORAL_TLS_SERVER_CA_CERT_PATH only$/,
    );
    // Temporal's names alone: no line
    lines.length = 0;
    loadConfig({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca }, { warn: (line) => lines.push(line) });
    assert.deepEqual(lines, []);
  });

  void test('by default the line goes to stderr, once per process however often the configuration is loaded', () => {
    const script = "const { loadConfig } = require('./src/config'); for (let i = 0; i < 3; i++) loadConfig({ TEMPORAL_TLS_CA_PATH: '/etc/ca.pem' });";
    const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: join(__dirname, '..'), encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, "deprecated: TEMPORAL_TLS_CA_PATH → TEMPORAL_TLS_SERVER_CA_CERT_PATH (Temporal's own names, also read by the temporal CLI); the old names will be removed\n");
  });
});

void describe('a bad profile name or file', () => {
  /** one sentence on one line, a ConfigError, the API key nowhere in it */
  const refused = (run: () => unknown, pattern: RegExp) =>
    assert.throws(run, (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
      assert.ok(!err.message.includes(CLOUD_API_KEY), 'the API key is in the message');
      assert.match(err.message, pattern);
      return true;
    });

  void test('each mistake is one sentence naming the file or profile and what to do', async () => {
    const file = await profileFile(`[profile.default]\naddress = "localhost:7233"\n[profile.prod]\naddress = "temporal.internal:7233"\napi_key = "${CLOUD_API_KEY}"\n`);
    const escaped = file.replace(/[.]/g, '\\.');
    refused(() => loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' }), new RegExp(`^invalid configuration: profile "staging" \\(TEMPORAL_PROFILE\\) is not in ${escaped}; its profiles: default, prod$`));
    refused(() => loadConfig({ TEMPORAL_CONFIG_FILE: file }, { connection: { profile: 'prd' } }), /profile "prd" \(--profile\) is not in .*; its profiles: default, prod$/);
    refused(() => loadConfig({ TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' }), /^invalid configuration: the profile file \/nonexistent\/temporal\.toml \(TEMPORAL_CONFIG_FILE\) does not exist$/);
    const home = await mkdtemp(join(tmpdir(), 'captcha-dlq-home-'));
    refused(() => loadConfig({ HOME: home, TEMPORAL_PROFILE: 'prod' }), /^invalid configuration: profile "prod" \(TEMPORAL_PROFILE\) asked for, but there is no profile file at .*\/\.config\/temporalio\/temporal\.toml; set TEMPORAL_CONFIG_FILE$/);
    const broken = await profileFile(`[profile.default]\napi_key = "${CLOUD_API_KEY}\naddress = localhost:7233\n`);
    refused(() => loadConfig({ TEMPORAL_CONFIG_FILE: broken }), /^invalid configuration: .*temporal\.toml is not a valid temporal\.toml: Invalid TOML document: .* \(line 2\)$/);
    const both = await profileFile('[profile.default.tls]\nclient_cert_path = "/a.pem"\nclient_cert_data = "PEM"\n');
    refused(() => loadConfig({ TEMPORAL_CONFIG_FILE: both }), /^invalid configuration: .*temporal\.toml: .*client_cert/i);
    // a good file is not read when none is asked for and none is at the default place
    assert.equal(loadConfig({ HOME: home }).temporal.profile, undefined);
  });
});
