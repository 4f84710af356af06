// The gateway's users file (src/gateway/keys.ts) and the CLI's refusal to start without one: one sentence each, naming
// what is wrong, never the key itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { GatewayKeysError, loadGatewayKeys, parseGatewayKeys } from '../src/gateway/keys';

const KEY = 'a-gateway-users-key-0123456789ab';

describe('gateway keys', () => {
  test('a valid file: users by key, defaults filled in, frozen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-keys-'));
    const file = join(dir, 'keys.json');
    await writeFile(file, JSON.stringify({ keys: [{ name: 'team_a', key: KEY, budget: 5, pricePerSolve: 0.003 }] }));
    const users = await loadGatewayKeys(file);
    const user = users.get(KEY);
    assert.deepEqual(user, { name: 'team_a', key: KEY, budget: 5, pricePerSolve: 0.003, submitsPerMinute: 600 });
    assert.ok(Object.isFrozen(user));
  });

  test('bad files are refused with one sentence that never shows a key', async () => {
    const bad = (value: unknown, pattern: RegExp) =>
      assert.throws(() => parseGatewayKeys(value), (err: unknown) => err instanceof GatewayKeysError && pattern.test(err.message) && !err.message.includes(KEY));
    bad({ keys: [] }, /keys/);
    bad({ keys: [{ name: 'a b', key: KEY, budget: 1 }] }, /keys\.0\.name must be 1 to 40 letters/);
    bad({ keys: [{ name: 'a', key: 'short', budget: 1 }] }, /keys\.0\.key must be 16 to 128/);
    bad({ keys: [{ name: 'a', key: KEY, budget: -1 }] }, /keys\.0\.budget/);
    bad({ keys: [{ name: 'a', key: KEY, budget: 1, extra: true }] }, /keys\.0/);
    bad({ keys: [{ name: 'a', key: KEY, budget: 1 }, { name: 'a', key: `${KEY}x`, budget: 1 }] }, /the name "a" is used twice/);
    bad({ keys: [{ name: 'a', key: KEY, budget: 1 }, { name: 'b', key: KEY, budget: 1 }] }, /the key of "b" is also another user's key/);
    await assert.rejects(loadGatewayKeys('/nonexistent/keys.json'), /cannot read the gateway keys file \/nonexistent\/keys\.json: ENOENT/);
  });

  test('`captcha-dlq gateway` without a keys file exits 2 saying what to pass', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.GATEWAY_KEYS_FILE;
    const result = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = execFile(process.execPath, [resolve(__dirname, '../bin/captcha-dlq.js'), 'gateway'], { env, timeout: 60_000 }, (_err, _stdout, stderr) => done({ code: child.exitCode, stderr: String(stderr) }));
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /the gateway needs its users' keys: pass --keys <file> or set GATEWAY_KEYS_FILE/);
  });
});
