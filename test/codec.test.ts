// Encryption at rest: with TEMPORAL_CODEC_KEYS set, client and worker store every payload as AES-256-GCM ciphertext
// (the token and the sitekey cannot be read in the fetched history), the client still reads results, data written
// under an old key still decodes after a rotation, and the codec server decodes over HTTP for the Web UI.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { CaptchaSolveError, CaptchaSolver } from '../src/client';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA_KEY, formatCodecKeys, generateCodecKey, parseCodecKeys } from '../src/codec';
import { startCodecServer } from '../src/codec-server';
import { ConfigError, loadConfig, type Config } from '../src/config';
import { createProvider } from '../src/providers';
import { startSimulator, type Simulator } from '../src/simulator/server';
import { dataConverterFor } from '../src/temporal';
import { createWorker } from '../src/worker';
import { dlqStatsQuery } from '../workflows/messages';
import { FAST_ENV, SENTINEL_KEY } from './helpers/stack';
import { bundleWorkflows, startTestEnv, uniqueTaskQueue, type TestEnv } from './helpers/temporal';

let env: TestEnv;
let sim: Simulator;
before(async () => {
  env = await startTestEnv();
  sim = await startSimulator({ timeScale: 0.001 });
});
after(async () => {
  await sim?.close();
  await env?.teardown();
});

const K1 = generateCodecKey('k1');
const K2 = generateCodecKey('k2');
const SITEKEY = '6Le-CODEC-secret-sitekey';

function configFor(taskQueue: string, keys: string): Readonly<Config> {
  return loadConfig({
    CAPTCHA_API_KEY: SENTINEL_KEY,
    CAPTCHA_BASE_URL: sim.url,
    TEMPORAL_TASK_QUEUE: taskQueue,
    DLQ_WORKFLOW_ID: `dlq-${taskQueue}`,
    TEMPORAL_CODEC_KEYS: keys,
    ...FAST_ENV,
  });
}

/** A client on the test server's connection with the data converter of `config` (the codec). */
function clientFor(config: Readonly<Config>): Client {
  const dataConverter = dataConverterFor(config);
  return new Client({ connection: env.client.connection, namespace: env.namespace, ...(dataConverter && { dataConverter }) });
}

/** Runs a worker (codec from `config`) while `fn` runs. */
async function withWorker<T>(config: Readonly<Config>, client: Client, fn: () => Promise<T>): Promise<T> {
  const provider = createProvider({ ...config.provider, apiKey: SENTINEL_KEY });
  try {
    const worker = await createWorker({ config, connection: env.nativeConnection, client, provider, workflowBundle: await bundleWorkflows() });
    return await worker.runUntil(fn());
  } finally {
    await provider.close();
  }
}

/**
 * Every payload in a raw history (no codec: `env.client` has none), found by shape. Search attributes are skipped:
 * Temporal indexes them, so no codec ever touches them (ours hold batch ids, outcomes and error codes).
 */
function payloadsOf(value: unknown, out: Payload[] = []): Payload[] {
  if (!value || typeof value !== 'object') return out;
  if (value instanceof Uint8Array) return out;
  // a `patched()` marker: the SDK's core writes its details (the patch id, nothing of ours) without the codec; a local
  // activity's marker: its `data` likewise (sequence number, attempt, activity type and times), its `result` is ours
  const marker = (value as { markerRecordedEventAttributes?: { markerName?: string | null; details?: Record<string, unknown> | null } }).markerRecordedEventAttributes;
  if (marker?.markerName === 'core_patch') return out;
  if (marker?.markerName === 'core_local_activity') {
    const { data: _coreMetadata, ...ours } = marker.details ?? {};
    for (const child of Object.values(ours)) payloadsOf(child, out);
    return out;
  }
  const v = value as { metadata?: unknown; data?: unknown };
  if (v.metadata && typeof v.metadata === 'object' && v.data instanceof Uint8Array) {
    out.push(value as Payload);
    return out;
  }
  for (const [key, child] of Object.entries(value)) if (key !== 'searchAttributes') payloadsOf(child, out);
  return out;
}

/** Every string and byte field of a history, bytes read as UTF-8 (what an attacker with the database could read). */
function textOf(value: unknown, out: string[] = []): string {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (value && typeof value === 'object') for (const v of Array.isArray(value) ? value : Object.values(value)) textOf(v, out);
  return out.join('\n');
}

const metaText = (p: Payload, key: string) => (p.metadata?.[key] ? Buffer.from(p.metadata[key]).toString('utf8') : undefined);

void describe('payload codec', () => {
  void test('keys: parsed from TEMPORAL_CODEC_KEYS (first encrypts), bad entries named without their material', () => {
    const config = loadConfig({ TEMPORAL_CODEC_KEYS: formatCodecKeys([K2, K1]) });
    assert.deepEqual(config.temporal.codecKeys, [K2, K1]);
    assert.equal(loadConfig({}).temporal.codecKeys, undefined);
    const short = Buffer.alloc(16).toString('base64');
    for (const [bad, why] of [
      [`k1:${short}`, /key 1 \("k1"\): the key must be 32 bytes/],
      [`${formatCodecKeys([K1])},k1:${K2.key}`, /key 2 \("k1"\): the id is listed twice/],
      [K1.key, /key 1: expected "id:base64key"/],
      ['k1:not base64!', /32 bytes in base64/],
    ] as const) {
      assert.throws(() => loadConfig({ TEMPORAL_CODEC_KEYS: bad }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /TEMPORAL_CODEC_KEYS=\(hidden\)/);
        assert.match(err.message, why);
        assert.ok(!err.message.includes(K1.key) && !err.message.includes(K2.key) && !err.message.includes(short), 'key material in a message');
        return true;
      });
    }
    assert.deepEqual(parseCodecKeys(` k2:${K2.key} , k1:${K1.key} `), [K2, K1]);
  });

  void test('round trip, rotation, unknown key id, tampering and relabelling', async () => {
    const old = new AesGcmPayloadCodec([K1]);
    const rotated = new AesGcmPayloadCodec([K2, K1]);
    const onlyNew = new AesGcmPayloadCodec([K2]);
    const plain: Payload = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{"token":"03AGdBq2-secret"}') };
    const [sealed] = await old.encode([plain]);
    assert.equal(metaText(sealed!, 'encoding'), ENCRYPTED_ENCODING);
    assert.equal(metaText(sealed!, KEY_ID_METADATA_KEY), 'k1');
    assert.ok(!Buffer.from(sealed!.data!).toString('latin1').includes('03AGdBq2'));
    // two encodings of the same payload differ (random IV)
    const [again] = await old.encode([plain]);
    assert.notDeepEqual(Buffer.from(again!.data!), Buffer.from(sealed!.data!));
    // old data decodes with the rotated key set; new data is written with the new key
    const [opened] = await rotated.decode([sealed!]);
    assert.equal(Buffer.from(opened!.data!).toString(), '{"token":"03AGdBq2-secret"}');
    assert.equal(metaText(opened!, 'encoding'), 'json/plain');
    const [fresh] = await rotated.encode([plain]);
    assert.equal(metaText(fresh!, KEY_ID_METADATA_KEY), 'k2');
    // a codec without k1 says which key is missing
    await assert.rejects(onlyNew.decode([sealed!]), /key id "k1", which is not among the configured keys \(k2\)/);
    // tampered ciphertext, or a payload relabelled with another key id, does not authenticate
    const tampered = Buffer.from(sealed!.data!);
    tampered[20] = tampered[20]! ^ 1;
    await assert.rejects(rotated.decode([{ ...sealed!, data: tampered }]), /does not authenticate/);
    const relabelled = { metadata: { ...sealed!.metadata, [KEY_ID_METADATA_KEY]: Buffer.from('k2') }, data: sealed!.data };
    await assert.rejects(rotated.decode([relabelled]), /does not authenticate/);
    // payloads that are not encrypted pass through decode (history written before the codec was turned on)
    assert.deepEqual(await rotated.decode([plain]), [plain]);
  });

  void test('with the codec on, history payloads are ciphertext; the client reads results; rotation keeps old data readable', async () => {
    const taskQueue = uniqueTaskQueue('codec');
    const v1 = configFor(taskQueue, formatCodecKeys([K1]));
    const client1 = clientFor(v1);
    const task = { type: 'recaptcha-v2', sitekey: SITEKEY, pageUrl: 'https://codec.example.com/login', key: `codec-${taskQueue}` };
    const badTask = { type: 'recaptcha-v2', sitekey: `${SITEKEY}-bad`, pageUrl: 'https://codec.example.com/bad', key: `codec-bad-${taskQueue}` };
    sim.setScenarios({ sitekeys: { [`${SITEKEY}-bad`]: { submit: [{ type: 'error', code: 'ERROR_PAGEURL' }] } } });

    const { result, failure } = await withWorker(v1, client1, async () => {
      const solver = new CaptchaSolver(client1, v1);
      const ok = await solver.solve(task);
      // a failure goes through the DLQ: its signal, state and queries are encrypted too
      const failed = await solver.solve(badTask).then(
        () => assert.fail('expected a failure'),
        (err: unknown) => err,
      );
      // queries go through the codec too (and need a worker)
      assert.equal((await client1.workflow.getHandle(v1.dlqWorkflowId).query(dlqStatsQuery)).total, 1);
      return { result: ok, failure: failed };
    });
    assert.match(result.token, /^03AGdBq2/);
    assert.ok(failure instanceof CaptchaSolveError, String(failure));
    assert.equal(failure.details?.code, 'ERROR_PAGEURL', 'the failure details decode through the codec');

    // the raw histories, read without the codec: every payload is ciphertext under k1
    const ids = [`solve/${task.key}`, `solve/${badTask.key}`, v1.dlqWorkflowId];
    let payloadCount = 0;
    for (const id of ids) {
      const history = await env.client.workflow.getHandle(id).fetchHistory();
      const payloads = payloadsOf(history);
      payloadCount += payloads.length;
      for (const p of payloads) {
        assert.equal(metaText(p, 'encoding'), ENCRYPTED_ENCODING, `${id}: a payload is not encrypted: ${JSON.stringify(p.metadata)}`);
        assert.equal(metaText(p, KEY_ID_METADATA_KEY), 'k1');
      }
      const text = textOf(history);
      assert.ok(!text.includes(result.token), `${id}: the token is readable in the history`);
      assert.ok(!text.includes(SITEKEY), `${id}: the sitekey is readable in the history`);
      assert.ok(!text.includes('codec.example.com'), `${id}: the page URL is readable in the history`);
      assert.ok(!text.includes(SENTINEL_KEY), `${id}: the provider key is in the history`);
    }
    assert.ok(payloadCount >= 10, `only ${payloadCount} payloads found`);
    // the codec client reads results and queries; a client without the codec sees only ciphertext
    assert.equal((await client1.workflow.getHandle(`solve/${task.key}`).result()).token, result.token);
    const raw = await env.client.workflow.getHandle(`solve/${task.key}`).result().catch((err: unknown) => err);
    assert.ok(!(typeof raw === 'object' && raw && 'token' in raw), 'a client without the codec decoded the result');

    // rotation: k2 is now current, k1 still decodes what it wrote
    const v2 = configFor(taskQueue, formatCodecKeys([K2, K1]));
    const client2 = clientFor(v2);
    assert.equal((await client2.workflow.getHandle(`solve/${task.key}`).result()).token, result.token);
    const task2 = { ...task, key: `codec-2-${taskQueue}` };
    const result2 = await withWorker(v2, client2, async () => {
      // the DLQ's state, written under k1, is read by a worker whose current key is k2
      assert.equal((await client2.workflow.getHandle(v2.dlqWorkflowId).query(dlqStatsQuery)).byCode.ERROR_PAGEURL, 1);
      return new CaptchaSolver(client2, v2).solve(task2);
    });
    const history2 = await env.client.workflow.getHandle(`solve/${task2.key}`).fetchHistory();
    const keyIds = new Set(payloadsOf(history2).map((p) => metaText(p, KEY_ID_METADATA_KEY)));
    assert.deepEqual([...keyIds], ['k2'], 'new data is written with the new current key');
    assert.ok(!textOf(history2).includes(result2.token));
    // without k1, the old data cannot be read, and the error says which key is missing
    const onlyK2 = clientFor(configFor(taskQueue, formatCodecKeys([K2])));
    await assert.rejects(onlyK2.workflow.getHandle(`solve/${task.key}`).result(), /key id "k1"/);
    assert.equal((await onlyK2.workflow.getHandle(`solve/${task2.key}`).result()).token, result2.token);
  });

  void test('the codec server decodes over HTTP (Web UI protocol), with CORS for the UI origin and an optional token', async () => {
    const codec = new AesGcmPayloadCodec([K2, K1]);
    const server = await startCodecServer({ codec, port: 0, authToken: 'ui-token' });
    const auth = { authorization: 'Bearer ui-token', 'content-type': 'application/json' };
    try {
      const [sealed] = await new AesGcmPayloadCodec([K1]).encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"03AGdBq2-over-http"') }]);
      const json = (p: Payload) => ({
        metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
        data: Buffer.from(p.data!).toString('base64'),
      });
      const decoded = await fetch(`${server.url}/decode`, { method: 'POST', headers: { ...auth, 'x-namespace': 'default' }, body: JSON.stringify({ payloads: [json(sealed!)] }) });
      assert.equal(decoded.status, 200);
      const body = (await decoded.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
      assert.equal(Buffer.from(body.payloads[0]!.data, 'base64').toString(), '"03AGdBq2-over-http"');
      assert.equal(Buffer.from(body.payloads[0]!.metadata.encoding!, 'base64').toString(), 'json/plain');

      // encode then decode round trip; encode uses the current key
      const encoded = (await (await fetch(`${server.url}/encode`, { method: 'POST', headers: auth, body: JSON.stringify(body) })).json()) as typeof body;
      assert.equal(Buffer.from(encoded.payloads[0]!.metadata[KEY_ID_METADATA_KEY]!, 'base64').toString(), 'k2');
      const back = (await (await fetch(`${server.url}/decode`, { method: 'POST', headers: auth, body: JSON.stringify(encoded) })).json()) as typeof body;
      assert.equal(Buffer.from(back.payloads[0]!.data, 'base64').toString(), '"03AGdBq2-over-http"');

      // CORS preflight from the Web UI's origin; nothing for another origin
      const preflight = await fetch(`${server.url}/decode`, {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:8233', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://localhost:8233');
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /X-Namespace/);
      const foreign = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
      assert.equal(foreign.headers.get('access-control-allow-origin'), null);

      // no token, a malformed body, an unknown key: clear 4xx answers
      const noToken = await fetch(`${server.url}/decode`, { method: 'POST', body: JSON.stringify({ payloads: [] }) });
      assert.equal(noToken.status, 401);
      const malformed = await fetch(`${server.url}/decode`, { method: 'POST', headers: auth, body: '{"payloads":"x"}' });
      assert.equal(malformed.status, 400);
      assert.match(((await malformed.json()) as { error: string }).error, /\{"payloads":\[…\]\}/);
      const [alien] = await new AesGcmPayloadCodec([generateCodecKey('k0')]).encode([{ metadata: {}, data: Buffer.from('x') }]);
      const unknown = await fetch(`${server.url}/decode`, { method: 'POST', headers: auth, body: JSON.stringify({ payloads: [json(alien!)] }) });
      assert.equal(unknown.status, 400);
      assert.match(((await unknown.json()) as { error: string }).error, /key id "k0"/);
    } finally {
      await server.close();
    }
  });
});
