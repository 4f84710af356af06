// The simulator against the providers' own documented behaviour (issue 14): CaptchaAI's threadsinfo, the legacy
// NoCaptchaTask names, CapSolver's synchronous recognition, which CapMonster tasks the 2-s poll rule covers, and each
// JSON dialect's own error texts. Plain HTTP to the simulator; no Temporal needed.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { JSON_DIALECTS, startSimulator, type JsonDialect, type Simulator } from '../src/simulator/server';

const KEY = 'FIDELITY0123456789abcdef01234567';
const PAGE = 'https://example.com/form';
const image = (tag: string): string => Buffer.concat([Buffer.from(tag, 'latin1'), Buffer.alloc(150, 7)]).toString('base64');

const started: Simulator[] = [];
after(async () => {
  await Promise.all(started.map((s) => s.close()));
});
async function simulator(options: Parameters<typeof startSimulator>[0]): Promise<Simulator> {
  const sim = await startSimulator({ apiKey: KEY, ...options });
  started.push(sim);
  return sim;
}

async function post(sim: Simulator, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${sim.url}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function res(sim: Simulator, params: Record<string, string>): Promise<Record<string, unknown>> {
  const response = await fetch(`${sim.url}/res.php?${new URLSearchParams({ key: KEY, json: '1', ...params }).toString()}`);
  return (await response.json()) as Record<string, unknown>;
}

void describe('CaptchaAI threadsinfo', () => {
  test('res.php?action=threadsinfo&json=1 answers the thread plan; busy threads are the key’s unsolved tasks', async () => {
    const sim = await simulator({ provider: 'captchaai', threads: 5, scenarios: { sitekeys: { 'sk-busy': { outcome: { type: 'never-ready' } } } } });
    assert.deepEqual(await res(sim, { action: 'threadsinfo' }), { status: 1, request: 'OK', threads: 5, working_threads: 0, free_threads: 5 });
    const submitted = await fetch(`${sim.url}/in.php?${new URLSearchParams({ key: KEY, method: 'userrecaptcha', googlekey: 'sk-busy', pageurl: PAGE, json: '1' }).toString()}`);
    assert.equal(((await submitted.json()) as { status: number }).status, 1);
    assert.deepEqual(await res(sim, { action: 'threadsinfo' }), { status: 1, request: 'OK', threads: 5, working_threads: 1, free_threads: 4 });
    assert.equal(sim.stats().resActions.threadsinfo, 2);
  });

  test('2captcha has no threadsinfo: ERROR_EMPTY_ACTION', async () => {
    const sim = await simulator({ provider: '2captcha' });
    assert.equal((await res(sim, { action: 'threadsinfo' })).request, 'ERROR_EMPTY_ACTION');
  });
});

void describe('legacy task type names', () => {
  const v2 = (type: string): Record<string, unknown> => ({ clientKey: KEY, task: { type, websiteURL: PAGE, websiteKey: 'sk-legacy-name' } });
  for (const dialect of ['anticaptcha', 'capmonster'] as const) {
    test(`${dialect} accepts NoCaptchaTaskProxyless and NoCaptchaTask as reCAPTCHA v2`, async () => {
      const sim = await simulator({ dialect, timeScale: 0.0001 });
      for (const type of ['NoCaptchaTaskProxyless', 'NoCaptchaTask']) {
        const body = type === 'NoCaptchaTask' ? { ...v2(type), task: { ...(v2(type).task as object), proxyType: 'http', proxyAddress: '10.0.0.1', proxyPort: 8080 } } : v2(type);
        const created = await post(sim, 'createTask', body);
        assert.equal(created.body.errorId, 0, `${type}: ${JSON.stringify(created.body)}`);
        assert.equal(sim.task(String(created.body.taskId))?.type, 'recaptcha-v2');
      }
    });
  }

  test('CapSolver does not know the old names', async () => {
    const sim = await simulator({ dialect: 'capsolver' });
    const created = await post(sim, 'createTask', v2('NoCaptchaTaskProxyless'));
    assert.equal(created.status, 400);
    assert.equal(created.body.errorCode, 'ERROR_INVALID_TASK_DATA');
  });
});

void describe('CapSolver synchronous recognition', () => {
  test('every ImageToTextTask is answered ready by createTask itself, whatever fraction of a millisecond its solve takes', async () => {
    // a time scale that makes solve times fractional milliseconds, the case that used to answer `processing`
    const sim = await simulator({ dialect: 'capsolver', timeScale: 0.000_731 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => post(sim, 'createTask', { clientKey: KEY, task: { type: 'ImageToTextTask', body: image(`IMG${i}`) } })),
    );
    for (const answer of answers) {
      assert.equal(answer.body.status, 'ready', JSON.stringify(answer.body));
      assert.match(String((answer.body.solution as { text?: unknown } | undefined)?.text), /^[a-z0-9]{4,6}$/);
    }
  });
});

void describe('CapMonster poll spacing', () => {
  test('image tasks may be polled at the official client’s 200 ms pace; token tasks still need 2 s', async () => {
    const sim = await simulator({ dialect: 'capmonster', scenarios: { sitekeys: { 'sk-cm-never': { outcome: { type: 'never-ready' } } } } });
    const imageTask = await post(sim, 'createTask', { clientKey: KEY, task: { type: 'ImageToTextTask', body: image('CM') } });
    const tokenTask = await post(sim, 'createTask', { clientKey: KEY, task: { type: 'NoCaptchaTaskProxyless', websiteURL: PAGE, websiteKey: 'sk-cm-never' } });
    // back to back, well inside 2 s of each other
    const imagePolls = [];
    for (let i = 0; i < 3; i++) imagePolls.push(await post(sim, 'getTaskResult', { clientKey: KEY, taskId: imageTask.body.taskId }));
    for (const poll of imagePolls) assert.notEqual(poll.body.errorCode, 'ERROR_TOO_MUCH_REQUESTS', JSON.stringify(poll.body));
    const first = await post(sim, 'getTaskResult', { clientKey: KEY, taskId: tokenTask.body.taskId });
    const second = await post(sim, 'getTaskResult', { clientKey: KEY, taskId: tokenTask.body.taskId });
    assert.deepEqual(first.body, { errorCode: null, errorDescription: null, errorId: 0, status: 'processing' }, 'as CapMonster’s docs show it');
    assert.equal(second.body.errorCode, 'ERROR_TOO_MUCH_REQUESTS');
    assert.match(String(second.body.errorDescription), /no more than 1 time in 2 seconds/);
  });
});

void describe('JSON dialect error texts', () => {
  const LEGACY_TEXTS = /method parameter is missing|The key you provided does not exist|^[a-z ]+$/;
  const expected: Record<JsonDialect, { unsupported: [string, RegExp]; badKey: [string, RegExp] }> = {
    '2captcha-v2': { unsupported: ['ERROR_TASK_NOT_SUPPORTED', /type of task that is not supported/], badKey: ['ERROR_KEY_DOES_NOT_EXIST', /Your API key is incorrect/] },
    anticaptcha: { unsupported: ['ERROR_TASK_NOT_SUPPORTED', /Task type is not supported/], badKey: ['ERROR_KEY_DOES_NOT_EXIST', /Account authorization key not found/] },
    capsolver: { unsupported: ['ERROR_INVALID_TASK_DATA', /^invalid task data: task type is not supported$/], badKey: ['ERROR_KEY_DENIED_ACCESS', /clientKey/] },
    capmonster: { unsupported: ['ERROR_NO_SUCH_METHOD', /Incorrect captcha type/], badKey: ['ERROR_KEY_DOES_NOT_EXIST', /incorrect format/] },
  };
  for (const dialect of JSON_DIALECTS) {
    test(`${dialect} answers errors in its own words`, async () => {
      const sim = await simulator({ dialect });
      const unsupported = await post(sim, 'createTask', { clientKey: KEY, task: { type: 'FunCaptchaTaskProxyless' } });
      const badKey = await post(sim, 'getBalance', { clientKey: 'X'.repeat(32) });
      for (const [answer, [code, text]] of [
        [unsupported, expected[dialect].unsupported],
        [badKey, expected[dialect].badKey],
      ] as const) {
        assert.equal(answer.body.errorCode, code);
        assert.match(String(answer.body.errorDescription), text);
        assert.doesNotMatch(String(answer.body.errorDescription), LEGACY_TEXTS);
      }
    });
  }
});
