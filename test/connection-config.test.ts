// Connecting to a real cluster securely: from the environment, loadConfig + connectionOptions build what
// Connection.connect / NativeConnection.connect get for Temporal Cloud (API key or mTLS) and a self-hosted cluster
// (TLS, custom CA, server name). No network: only the options are checked.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config';
import { connectionOptions } from '../src/temporal';

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
      TEMPORAL_TLS_CERT_PATH: files.cert,
      TEMPORAL_TLS_KEY_PATH: files.key,
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
        TEMPORAL_TLS_CA_PATH: files.ca,
        TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
        TEMPORAL_TLS_CERT_PATH: files.cert,
        TEMPORAL_TLS_KEY_PATH: files.key,
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
    refuse({ TEMPORAL_TLS_CERT_PATH: '/x/client.pem' }, /TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together/);
    refuse({ TEMPORAL_API_KEY: CLOUD_API_KEY, TEMPORAL_TLS: 'false' }, /TEMPORAL_API_KEY requires TLS/);
    refuse({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233' }, /Temporal Cloud endpoint: set TEMPORAL_API_KEY, or TEMPORAL_TLS_CERT_PATH/);
    refuse({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_TLS: 'true' }, /Temporal Cloud endpoint/);
    refuse({ TEMPORAL_API_KEY: '' }, /TEMPORAL_API_KEY=\(hidden\)/);
    refuse({ TEMPORAL_TLS: 'maybe' }, /TEMPORAL_TLS="maybe"/);
    // a missing certificate file fails when connecting, naming the file
    assert.throws(
      () => connectionOptions(loadConfig({ TEMPORAL_TLS_CERT_PATH: '/nonexistent/client.pem', TEMPORAL_TLS_KEY_PATH: '/nonexistent/client.key' })),
      /\/nonexistent\/client\.pem/,
    );
  });
});
