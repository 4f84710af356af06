// The gateway (issue 18): existing captcha clients, unchanged but for their base URL and key, solve through our durable
// pipeline. Real Temporal, real worker, real HTTP to the simulator behind it and to the gateway in front of it.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Solver as TwoCaptchaSolver } from '@2captcha/captcha-solver';
import * as capmonster from '@zennolab_com/capmonstercloud-client';
import { Solver as LegacyTwoCaptchaSolver } from '2captcha';
import type { AxiosStatic } from 'axios';
import { loadConfig } from '../src/config';
import { parseGatewayKeys, type GatewayUser } from '../src/gateway/keys';
import { startGateway, taskIdOfUuid, uuidOfTaskId, type Gateway } from '../src/gateway/server';
import type { JsonDialect } from '../src/providers/json-wire';
import { startSimulator, type ScenarioSpec } from '../src/simulator/server';
import { FAST_ENV, SENTINEL_KEY, allDlqEntries, startStack, type Stack } from './helpers/stack';
import { BIN, cliEnvOf } from './helpers/cli';
import { CAPSOLVER_SDK, pythonPackages } from './helpers/python';
import { bundleWorkflows, startTestEnv, uniqueTaskQueue, type TestEnv } from './helpers/temporal';
import type { AntiCaptcha } from './helpers/vendors';

/* eslint-disable @typescript-eslint/no-require-imports -- a vendor module without types */

const SEED_KEY = 'seed-user-key-0123456789abcdef01';
const SDK_KEY = 'sdk-user-key-0123456789abcdef012';
const TIGHT_KEY = 'tight-user-key-0123456789abcdef0';
const SLOW_KEY = 'slow-user-key-0123456789abcdef01';
const USERS = parseGatewayKeys({
  keys: [
    { name: 'seed', key: SEED_KEY, budget: 100 },
    { name: 'sdk', key: SDK_KEY, budget: 10, pricePerSolve: 0.5 },
    { name: 'tight', key: TIGHT_KEY, budget: 2 },
    { name: 'slow', key: SLOW_KEY, budget: 100, submitsPerMinute: 1 },
  ],
});
const PAGE = 'https://example.com/gateway';
const IMAGE = Buffer.concat([Buffer.from('\x89PNG', 'latin1'), Buffer.alloc(146, 9)]).toString('base64');

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

/** A stack (simulator + worker) and a gateway in front of it, for one test. */
async function withGateway<T>(
  name: string,
  scenarios: ScenarioSpec | undefined,
  fn: (g: Gateway, s: Stack) => Promise<T>,
  users: ReadonlyMap<string, GatewayUser> = USERS,
  dialect?: JsonDialect,
): Promise<T> {
  const stack = await startStack(env, { name, simulator: { ...(scenarios && { scenarios }) } });
  const gateway = await startGateway({ client: stack.client, config: stack.config, users, ...(dialect && { dialect }) });
  try {
    return await stack.run(() => fn(gateway, stack));
  } finally {
    await gateway.close();
    await stack.close();
  }
}

async function get(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return (await res.json()) as Record<string, unknown>;
}

/** Polls res.php like a client would, until the answer is not CAPCHA_NOT_READY. */
async function pollUntilDone(g: Gateway, key: string, id: string): Promise<string> {
  for (;;) {
    const answer = await get(`${g.url}/res.php?key=${key}&action=get&id=${id}`);
    if (answer !== 'CAPCHA_NOT_READY') return answer;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The tutorial's Python (the first program of the seed article), its three constants pointed at the gateway. */
async function seedScript(gatewayUrl: string): Promise<string> {
  const article = await readFile('/work/shared/seed-dlq-for-failed-captcha-tasks.txt', 'utf8');
  const start = article.indexOf('import time');
  const end = article.indexOf('Expected output:');
  assert.ok(start >= 0 && end > start, 'the seed article holds its Python script');
  const script = article.slice(start, end);
  const pointed = script
    .replace('API_KEY = "YOUR_API_KEY"', `API_KEY = "${SEED_KEY}"`)
    .replace('SUBMIT_URL = "https://ocr.captchaai.com/in.php"', `SUBMIT_URL = "${gatewayUrl}/in.php"`)
    .replace('RESULT_URL = "https://ocr.captchaai.com/res.php"', `RESULT_URL = "${gatewayUrl}/res.php"`);
  // only the three constants changed
  assert.equal(pointed.split('\n').filter((line, i) => line !== script.split('\n')[i]).length, 3);
  return pointed;
}

describe('gateway', () => {
  test("the seed tutorial's Python script runs unchanged: Solved lines print, the unsolvable task is in our DLQ", async () => {
    const failing = 'https://example.com/page/2';
    await withGateway('gw-seed', { pages: { [failing]: { outcome: { type: 'unsolvable' } } } }, async (g, s) => {
      const dir = await mkdtemp(join(tmpdir(), 'gw-seed-'));
      const file = join(dir, 'seed.py');
      await writeFile(file, await seedScript(g.url));
      const { stdout } = await promisify(execFile)('python3', [file], { timeout: 300_000 });
      const solved = stdout.split('\n').filter((line) => line.startsWith('Solved: '));
      assert.equal(solved.length, 4, stdout);
      for (const line of solved) assert.match(line, /^Solved: 03AGdBq2\S{32}\.\.\.$/);
      assert.match(stdout, /\[dlq\] Added: ERROR_CAPTCHA_UNSOLVABLE \(attempts: 4\)/);
      assert.match(stdout, /DLQ size: 1\n/);
      // its four tries of the failing page were one task of ours (the same request within the window), dead-lettered once
      const entries = (await allDlqEntries(s.solver)).filter((e) => e.taskKey.startsWith('gw-seed-'));
      assert.equal(entries.length, 1);
      assert.equal(entries[0]?.code, 'ERROR_CAPTCHA_UNSOLVABLE');
      assert.equal(entries[0]?.task.pageUrl, failing);
      assert.equal(g.usage('seed').submits, 5);
      assert.ok(g.stats().deduped >= 3, JSON.stringify(g.stats()));
    });
  });

  test('the official @2captcha/captcha-solver client solves, reads the balance and reports through the gateway', async () => {
    await withGateway('gw-sdk', undefined, async (g) => {
      // the client has no host option: its two endpoint constants are pointed at the gateway (as in conformance.test.ts)
      const constants = createRequire(__filename)('@2captcha/captcha-solver/dist/structs/constants/constants') as { supportedProviders: { twoCaptcha: { in: string; res: string } } };
      const saved = { ...constants.supportedProviders.twoCaptcha };
      constants.supportedProviders.twoCaptcha.in = `${g.url}/in.php`;
      constants.supportedProviders.twoCaptcha.res = `${g.url}/res.php`;
      try {
        const solver = new TwoCaptchaSolver(SDK_KEY);
        assert.equal(await solver.balance(), 10);
        const [recaptcha, image] = await Promise.all([solver.recaptcha({ googlekey: '6Le-sdk-SITEKEY', pageurl: PAGE }), solver.imageCaptcha({ body: IMAGE })]);
        assert.match(recaptcha.data, /^03AGdBq2/);
        assert.match(image.data, /^[a-z0-9]{4,6}$/);
        assert.equal(await solver.balance(), 9); // two solves at 0.5
        await solver.goodReport(recaptcha.id);
        await solver.badReport(image.id);
        assert.deepEqual(g.usage('sdk').reports, { [recaptcha.id]: 'good', [image.id]: 'bad' });
      } finally {
        Object.assign(constants.supportedProviders.twoCaptcha, saved);
      }
    });
  });

  test('the legacy 2captcha npm client solves, reads the balance and reports through the gateway', async () => {
    await withGateway('gw-legacy-sdk', undefined, async (g) => {
      const solver = new LegacyTwoCaptchaSolver(SDK_KEY);
      // its endpoints are hard-coded getters on Solver.prototype (node_modules/2captcha/dist/structs/2captcha.js:54-55,
      // no option): this instance shadows just those two
      Object.defineProperty(solver, 'in', { get: () => `${g.url}/in.php` });
      Object.defineProperty(solver, 'res', { get: () => `${g.url}/res.php` });
      assert.equal(await solver.balance(), 10);
      const [recaptcha, image] = await Promise.all([solver.recaptcha('6Le-legacy-sdk-SITEKEY', PAGE), solver.imageCaptcha(IMAGE)]);
      assert.match(recaptcha.data, /^03AGdBq2/);
      assert.match(image.data, /^[a-z0-9]{4,6}$/);
      assert.equal(await solver.balance(), 9);
      await solver.goodReport(recaptcha.id);
      await solver.report(image.id);
      assert.deepEqual(g.usage('sdk').reports, { [recaptcha.id]: 'good', [image.id]: 'bad' });
    });
  });

  test('the official anti-captcha client solves, reads the balance and reports through a gateway speaking its dialect', async () => {
    await withGateway(
      'gw-anticaptcha',
      undefined,
      async (g) => {
        // the client posts to a hard-coded https://api.anti-captcha.com/ (node_modules/@antiadmin/anticaptchaofficial/
        // index.js:1245, no option) through its own axios: an interceptor rewrites the origin only
        const axios = createRequire(require.resolve('@antiadmin/anticaptchaofficial'))('axios') as AxiosStatic;
        const origin = 'https://api.anti-captcha.com/';
        const id = axios.interceptors.request.use((config) => {
          if (config.url?.startsWith(origin)) config.url = `${g.url}/${config.url.slice(origin.length)}`;
          return config;
        });
        try {
          const ac = require('@antiadmin/anticaptchaofficial') as AntiCaptcha;
          ac.setAPIKey(SDK_KEY);
          ac.shutUp();
          assert.equal(await ac.getBalance(), 10);
          const token = await ac.solveRecaptchaV2Proxyless(PAGE, '6Le-anticaptcha-SITEKEY');
          assert.match(token, /^03AGdBq2/);
          const recaptchaId = String(ac.session.taskId);
          assert.equal(await ac.reportCorrectRecaptcha(), true);
          assert.match(await ac.solveImage(IMAGE), /^[a-z0-9]{4,6}$/);
          const imageId = String(ac.session.taskId);
          assert.equal(await ac.getBalance(), 9);
          assert.equal(await ac.reportIncorrectImageCaptcha(), true);
          assert.deepEqual(g.usage('sdk').reports, { [recaptchaId]: 'good', [imageId]: 'bad' });
        } finally {
          axios.interceptors.request.eject(id);
        }
      },
      USERS,
      'anticaptcha',
    );
  });

  test('the official CapMonster Cloud client solves and reads the balance through a gateway speaking its dialect (its base URL an option)', async () => {
    await withGateway(
      'gw-capmonster',
      undefined,
      async (g) => {
        const client = capmonster.CapMonsterCloudClientFactory.Create(new capmonster.ClientOptions({ clientKey: SDK_KEY, serviceUrl: g.url }));
        assert.equal((await client.getBalance()).balance, 10);
        const [recaptcha, image] = await Promise.all([
          client.Solve(new capmonster.RecaptchaV2Request({ websiteURL: PAGE, websiteKey: '6Le-capmonster-SITEKEY' })),
          client.Solve(new capmonster.ImageToTextRequest({ body: IMAGE })),
        ]);
        assert.equal(recaptcha.error, undefined, `reCAPTCHA: ${String(recaptcha.error)}`);
        assert.match(String(recaptcha.solution?.gRecaptchaResponse), /^03AGdBq2/);
        assert.equal(image.error, undefined, `image: ${String(image.error)}`);
        assert.match(String(image.solution?.text), /^[a-z0-9]{4,6}$/);
        assert.equal((await client.getBalance()).balance, 9);
        assert.equal(g.stats().starts, 2);
        // the client has no report method (nor has CapMonster's API a report endpoint)
      },
      USERS,
      'capmonster',
    );
  });

  test("CapSolver's dialect: its official SDK (PyPI) solves and reads the balance; UUID ids, feedbackTask, its error codes", async () => {
    const unsolvable = '6Le-capsolver-unsolvable';
    await withGateway(
      'gw-capsolver',
      { sitekeys: { [unsolvable]: { outcome: { type: 'unsolvable' } } } },
      async (g, s) => {
        const packages = await pythonPackages(CAPSOLVER_SDK);
        // the SDK takes its host from the module's api_base (test/conformance/capsolver_sdk.py)
        const { stdout } = await promisify(execFile)('python3', [join(__dirname, 'conformance', 'capsolver_sdk.py'), g.url, SDK_KEY, '6Le-capsolver-SITEKEY', PAGE, IMAGE], {
          env: { ...process.env, PYTHONPATH: packages },
          timeout: 5 * 60_000,
        });
        const result = JSON.parse(stdout) as { balance: { errorId: number; balance: number }; recaptcha: { gRecaptchaResponse: string }; image: { text: string } };
        assert.deepEqual(result.balance, { errorId: 0, balance: 10 });
        assert.match(result.recaptcha.gRecaptchaResponse, /^03AGdBq2/);
        assert.match(result.image.text, /^[a-z0-9]{4,6}$/);
        assert.equal(g.stats().starts, 2);

        // ids are UUIDs; an image is answered by createTask; feedbackTask reports (the SDK has no call for it)
        const post = async (path: string, body: unknown) => {
          const res = await fetch(`${g.url}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
          return { status: res.status, body: (await res.json()) as Record<string, unknown> };
        };
        // another image than the SDK's (the same one within the dedupe window would be its task again)
        const otherImage = Buffer.concat([Buffer.from('\x89PNG', 'latin1'), Buffer.alloc(146, 8)]).toString('base64');
        const image = await post('createTask', { clientKey: SDK_KEY, appId: 'app-1', task: { type: 'ImageToTextTask', body: otherImage } });
        assert.equal(image.status, 200);
        assert.equal(image.body.status, 'ready', JSON.stringify(image.body));
        assert.match(String(image.body.taskId), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
        assert.match(String((image.body.solution as { text: string }).text), /^[a-z0-9]{4,6}$/);
        assert.deepEqual(await post('feedbackTask', { clientKey: SDK_KEY, taskId: image.body.taskId, result: { invalid: true } }), { status: 200, body: { errorId: 0, status: 'success' } });
        assert.deepEqual(g.usage('sdk').reports, { [taskIdOfUuid(String(image.body.taskId))!]: 'bad' });

        const failing = await post('createTask', { clientKey: SDK_KEY, task: { type: 'ReCaptchaV2TaskProxyLess', websiteURL: PAGE, websiteKey: unsolvable } });
        assert.equal(failing.status, 200);
        let polled: { status: number; body: Record<string, unknown> };
        do polled = await post('getTaskResult', { clientKey: SDK_KEY, taskId: failing.body.taskId });
        while (polled.body.status === 'processing');
        assert.deepEqual([polled.status, polled.body.errorId, polled.body.errorCode], [400, 1, 'ERROR_CAPTCHA_SOLVE_FAILED']);
        const entries = await allDlqEntries(s.solver);
        assert.deepEqual(entries.map((e) => [e.id, e.code]), [[`solve/gw-sdk-${taskIdOfUuid(String(failing.body.taskId))!}`, 'ERROR_CAPTCHA_UNSOLVABLE']]);

        // refusals in CapSolver's codes and statuses; nothing more starts
        const badKey = await post('getBalance', { clientKey: 'not-a-key-of-ours-000000000000' });
        assert.deepEqual([badKey.status, badKey.body.errorCode], [401, 'ERROR_KEY_DENIED_ACCESS']);
        const unknownType = await post('createTask', { clientKey: SDK_KEY, task: { type: 'RecaptchaV2TaskProxyless', websiteURL: PAGE, websiteKey: '6Le-x-SITEKEY' } });
        assert.deepEqual([unknownType.status, unknownType.body.errorCode, unknownType.body.errorDescription], [400, 'ERROR_INVALID_TASK_DATA', 'invalid task data: task type is not supported']);
        const noSitekey = await post('createTask', { clientKey: SDK_KEY, task: { type: 'ReCaptchaV2TaskProxyLess', websiteURL: PAGE } });
        assert.deepEqual([noSitekey.status, noSitekey.body.errorCode], [400, 'ERROR_INVALID_TASK_DATA']);
        const foreign = await post('getTaskResult', { clientKey: SDK_KEY, taskId: '37223a89-06ed-442c-a0b8-22067b79c5b4' });
        assert.deepEqual([foreign.status, foreign.body.errorCode], [400, 'ERROR_TASKID_INVALID']);
        assert.equal(g.stats().starts, 4);
      },
      USERS,
      'capsolver',
    );
  });

  test('CapSolver-style task ids: UUIDs that read back to the gateway id, any other UUID refused', () => {
    for (const id of ['1', '1764480000000000', '5999999999999999', '99999999999999999999']) {
      const uuid = uuidOfTaskId(id);
      assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(taskIdOfUuid(uuid), id);
      assert.equal(taskIdOfUuid(uuid.toUpperCase()), id);
    }
    const uuid = uuidOfTaskId('1764480000000000');
    assert.equal(taskIdOfUuid(`${uuid.slice(0, -1)}${uuid.endsWith('0') ? '1' : '0'}`), undefined, 'a changed check digit');
    assert.equal(taskIdOfUuid(uuid.replace(/^\d/, (d) => String((Number(d) + 1) % 10))), undefined, 'a changed id digit');
    assert.equal(taskIdOfUuid('not-a-uuid'), undefined);
  });

  test("bad input gets the provider's codes and starts nothing", async () => {
    await withGateway('gw-bad', undefined, async (g, s) => {
      const inPhp = (query: string) => get(`${g.url}/in.php?${query}`);
      assert.equal(await inPhp(`key=${SDK_KEY}&method=userrecaptcha&pageurl=${PAGE}`), 'ERROR_GOOGLEKEY');
      assert.equal(await inPhp(`key=${SDK_KEY}&method=hcaptcha&pageurl=${PAGE}`), 'ERROR_SITEKEY');
      assert.equal(await inPhp(`key=${SDK_KEY}&method=funcaptcha&pageurl=${PAGE}`), 'ERROR_NO_SUCH_METHOD');
      assert.equal(await inPhp(`key=not-a-key-of-ours-0000000000000&method=userrecaptcha&googlekey=6Le-x-SITEKEY&pageurl=${PAGE}`), 'ERROR_WRONG_USER_KEY');
      const big = await fetch(`${g.url}/in.php`, { method: 'POST', body: new URLSearchParams({ key: SDK_KEY, method: 'base64', body: Buffer.alloc(120_000, 7).toString('base64'), json: '1' }) });
      assert.deepEqual(await big.json(), { status: 0, request: 'ERROR_TOO_BIG_CAPTCHA_FILESIZE', error_text: 'Image size is more than 100 kB.' });
      const json = await postJson(`${g.url}/createTask`, { clientKey: SDK_KEY, task: { type: 'FunCaptchaTaskProxyless', websiteURL: PAGE } });
      assert.equal(json.errorCode, 'ERROR_TASK_NOT_SUPPORTED');
      const noKey = await postJson(`${g.url}/createTask`, { clientKey: 'nope', task: { type: 'RecaptchaV2TaskProxyless', websiteURL: PAGE, websiteKey: '6Le-x-SITEKEY' } });
      assert.equal(noKey.errorCode, 'ERROR_KEY_DOES_NOT_EXIST');
      assert.equal(await get(`${g.url}/res.php?key=${SDK_KEY}&action=get&id=12ab`), 'ERROR_WRONG_ID_FORMAT');
      assert.equal(await get(`${g.url}/res.php?key=${SDK_KEY}&action=get&id=123456`), 'ERROR_WRONG_CAPTCHA_ID');
      assert.equal(g.stats().starts, 0);
      assert.equal(g.usage('sdk').submits, 0);
      assert.equal(s.sim.stats().requests['in.php'] ?? 0, 0);
    });
  });

  test('a final failure answers the provider code; the JSON family creates, polls and reads the balance', async () => {
    const sitekey = '6Le-json-unsolvable';
    await withGateway('gw-json', { sitekeys: { [sitekey]: { outcome: { type: 'unsolvable' } } } }, async (g, s) => {
      const created = await postJson(`${g.url}/createTask`, { clientKey: SDK_KEY, task: { type: 'RecaptchaV2TaskProxyless', websiteURL: PAGE, websiteKey: '6Le-json-SITEKEY' } });
      assert.equal(created.errorId, 0);
      assert.equal(typeof created.taskId, 'number');
      let result: Record<string, unknown>;
      do result = await postJson(`${g.url}/getTaskResult`, { clientKey: SDK_KEY, taskId: created.taskId });
      while (result.status === 'processing');
      assert.equal(result.status, 'ready');
      assert.match((result.solution as { gRecaptchaResponse: string }).gRecaptchaResponse, /^03AGdBq2/);
      assert.deepEqual(await postJson(`${g.url}/getBalance`, { clientKey: SDK_KEY }), { errorId: 0, balance: 9.5 });

      const failing = await postJson(`${g.url}/createTask`, { clientKey: SDK_KEY, task: { type: 'RecaptchaV2TaskProxyless', websiteURL: PAGE, websiteKey: sitekey } });
      do result = await postJson(`${g.url}/getTaskResult`, { clientKey: SDK_KEY, taskId: failing.taskId });
      while (result.status === 'processing');
      assert.equal(result.errorCode, 'ERROR_CAPTCHA_UNSOLVABLE');
      assert.equal(result.errorId, 12);
      const entries = await allDlqEntries(s.solver);
      assert.deepEqual(entries.map((e) => [e.id, e.code]), [[`solve/gw-sdk-${String(failing.taskId)}`, 'ERROR_CAPTCHA_UNSOLVABLE']]);
    });
  });

  test('a repeated submit (same idempotency key, or the same request) starts one solve; budget and rate limit per key', async () => {
    await withGateway('gw-limits', undefined, async (g, s) => {
      const submit = (key: string, sitekey: string, headers: Record<string, string> = {}) =>
        fetch(`${g.url}/in.php`, { method: 'POST', headers, body: new URLSearchParams({ key, method: 'userrecaptcha', googlekey: sitekey, pageurl: PAGE }) }).then((r) => r.text());
      const first = await submit(SEED_KEY, '6Le-idem-SITEKEY', { 'idempotency-key': 'order-1' });
      const again = await submit(SEED_KEY, '6Le-idem-SITEKEY', { 'idempotency-key': 'order-1' });
      assert.match(first, /^OK\|\d{16}$/);
      assert.equal(again, first);
      const same1 = await submit(SEED_KEY, '6Le-same-SITEKEY');
      const same2 = await submit(SEED_KEY, '6Le-same-SITEKEY');
      assert.equal(same2, same1);
      assert.notEqual(same1, first);
      assert.equal(g.stats().starts, 2);
      assert.equal(g.usage('seed').submits, 2);

      // budget of two submits: the third distinct one is refused, nothing starts, getbalance says 0
      assert.match(await submit(TIGHT_KEY, '6Le-tight-SITEKEY-1'), /^OK\|/);
      assert.match(await submit(TIGHT_KEY, '6Le-tight-SITEKEY-2'), /^OK\|/);
      assert.equal(await submit(TIGHT_KEY, '6Le-tight-SITEKEY-3'), 'ERROR_ZERO_BALANCE');
      assert.equal(await get(`${g.url}/res.php?key=${TIGHT_KEY}&action=getbalance`), '0.0000');
      // one submit a minute: the second distinct one is refused
      assert.match(await submit(SLOW_KEY, '6Le-slow-SITEKEY-1'), /^OK\|/);
      assert.equal(await submit(SLOW_KEY, '6Le-slow-SITEKEY-2'), 'MAX_USER_TURN');
      assert.equal(g.stats().starts, 5);
      // a restarted gateway counts what each user spent (in Temporal): the budget stays spent
      const restarted = await startGateway({ client: s.client, config: s.config, users: USERS });
      try {
        assert.equal(await get(`${restarted.url}/res.php?key=${TIGHT_KEY}&action=getbalance`), '0.0000');
        assert.equal(await fetch(`${restarted.url}/in.php?key=${TIGHT_KEY}&method=userrecaptcha&googlekey=6Le-tight-SITEKEY-4&pageurl=${PAGE}`).then((r) => r.text()), 'ERROR_ZERO_BALANCE');
        assert.equal(restarted.stats().starts, 0);
      } finally {
        await restarted.close();
      }

      // another user's id is not found; get&ids= answers each in order
      const id = first.slice(3);
      assert.match(await pollUntilDone(g, SEED_KEY, id), /^OK\|03AGdBq2/);
      assert.equal(await get(`${g.url}/res.php?key=${SDK_KEY}&action=get&id=${id}`), 'ERROR_WRONG_CAPTCHA_ID');
      const multi = await get(`${g.url}/res.php?key=${SEED_KEY}&action=get&ids=${id},1`);
      assert.match(multi, /^03AGdBq2\S+\|ERROR_WRONG_CAPTCHA_ID$/);
    });
  });

  test('polls are answered from the cache: one watch per task however often clients poll; a new gateway finds old tasks', async () => {
    await withGateway('gw-cache', undefined, async (g, s) => {
      const tasks = 20;
      const ids = await Promise.all(
        Array.from({ length: tasks }, async (_, i) => (await get(`${g.url}/in.php?key=${SEED_KEY}&method=userrecaptcha&googlekey=6Le-cache-SITEKEY&pageurl=${PAGE}/${i}`)).slice(3)),
      );
      // every client polls until done, then five more times: those reach neither Temporal nor the provider
      const answers = await Promise.all(ids.map((id) => pollUntilDone(g, SEED_KEY, id)));
      for (const answer of answers) assert.match(answer, /^OK\|03AGdBq2/);
      const providerPolls = s.sim.stats().requests['res.php'];
      await Promise.all(ids.map(async (id, i) => {
        for (let n = 0; n < 5; n++) assert.equal(await get(`${g.url}/res.php?key=${SEED_KEY}&action=get&id=${id}`), answers[i]);
      }));
      assert.equal(s.sim.stats().requests['res.php'], providerPolls, 'client polls never reach the provider');
      const stats = g.stats();
      assert.equal(stats.starts, tasks);
      assert.equal(stats.resultWaits, tasks);
      assert.equal(stats.describes, 0);
      assert.ok(stats.polls >= 6 * tasks, JSON.stringify(stats));
      assert.equal(stats.counts, 1, 'the user\'s spending, counted once');
      console.log(`gateway cache: ${stats.polls} client polls answered with ${stats.starts + stats.resultWaits + stats.describes + stats.counts} Temporal calls for ${tasks} tasks`);

      // a fresh gateway (a restart: empty cache) answers a late poll of an old task from Temporal
      const restarted = await startGateway({ client: s.client, config: s.config, users: USERS });
      try {
        assert.equal(await get(`${restarted.url}/res.php?key=${SEED_KEY}&action=get&id=${ids[0]}`), answers[0]);
        assert.equal(restarted.stats().describes, 1);
      } finally {
        await restarted.close();
      }
    });
  });

  test('in.php takes multipart uploads and JSON bodies; json=1 answers in JSON', async () => {
    await withGateway('gw-encodings', undefined, async (g) => {
      const form = new FormData();
      form.set('key', SDK_KEY);
      form.set('method', 'post');
      form.set('json', '1');
      form.set('file', new Blob([Buffer.from(IMAGE, 'base64')]), 'captcha.png');
      const uploaded = (await (await fetch(`${g.url}/in.php`, { method: 'POST', body: form })).json()) as { status: number; request: string };
      assert.equal(uploaded.status, 1);
      assert.match(await pollUntilDone(g, SDK_KEY, uploaded.request), /^OK\|[a-z0-9]{4,6}$/);
      const viaJson = await postJson(`${g.url}/in.php`, { key: SDK_KEY, method: 'userrecaptcha', googlekey: '6Le-json-body-SITEKEY', pageurl: PAGE, json: 1 });
      assert.equal(viaJson.status, 1);
      const polled = (await (await fetch(`${g.url}/res.php?key=${SDK_KEY}&action=get&id=${String(viaJson.request)}&json=1`)).json()) as { status: number; request: string };
      assert.ok(polled.status === 0 ? polled.request === 'CAPCHA_NOT_READY' : /^03AGdBq2/.test(polled.request), JSON.stringify(polled));
      assert.match(await pollUntilDone(g, SDK_KEY, String(viaJson.request)), /^OK\|03AGdBq2/);
      const wrongFile = new FormData();
      wrongFile.set('key', SDK_KEY);
      wrongFile.set('method', 'post');
      wrongFile.set('file', new Blob([Buffer.from(IMAGE, 'base64')]), 'captcha.exe');
      assert.equal(await (await fetch(`${g.url}/in.php`, { method: 'POST', body: wrongFile })).text(), 'ERROR_WRONG_FILE_EXTENSION');
      assert.equal(g.stats().starts, 2);
    });
  });

  test('`captcha-dlq gateway` reloads its keys file on SIGHUP; a bad file keeps the users in force', async () => {
    await withGateway('gw-sighup', undefined, async (_g, s) => {
      const dir = await mkdtemp(join(tmpdir(), 'gw-sighup-'));
      const file = join(dir, 'keys.json');
      const NEW_KEY = 'new-user-key-0123456789abcdef0123';
      await writeFile(file, JSON.stringify({ keys: [{ name: 'first', key: SEED_KEY, budget: 3 }] }));
      const child = spawn(process.execPath, [BIN, 'gateway', '--keys', file, '--port', '0'], { env: cliEnvOf(env, s) as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const waitFor = async (what: () => boolean, label: string) => {
        while (!what()) {
          if (child.exitCode !== null) assert.fail(`the gateway exited (${child.exitCode}) before ${label}: ${stdout}${stderr}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      try {
        await waitFor(() => /listening on (http:\/\/\S+) /.test(stdout), 'listening');
        const url = /listening on (http:\/\/\S+) /.exec(stdout)![1]!;
        const balance = (key: string) => get(`${url}/res.php?key=${key}&action=getbalance`);
        assert.equal(await balance(SEED_KEY), '3.0000');
        assert.equal(await balance(NEW_KEY), 'ERROR_WRONG_USER_KEY');

        await writeFile(file, JSON.stringify({ keys: [{ name: 'second', key: NEW_KEY, budget: 7 }] }));
        child.kill('SIGHUP');
        await waitFor(() => stdout.includes('gateway keys reloaded'), 'the reload');
        assert.match(stdout, /gateway keys reloaded from \S+keys\.json \(1 user\)/);
        assert.equal(await balance(NEW_KEY), '7.0000');
        assert.equal(await balance(SEED_KEY), 'ERROR_WRONG_USER_KEY');

        await writeFile(file, '{ "keys": [ { "name": "broken" ');
        child.kill('SIGHUP');
        await waitFor(() => stderr.includes('not reloaded'), 'the refused reload');
        assert.match(stderr, /gateway keys not reloaded, the users in force stay: the gateway keys file \S+ is not JSON/);
        assert.equal(await balance(NEW_KEY), '7.0000');
        assert.equal(child.exitCode, null, 'still serving');
      } finally {
        child.kill('SIGTERM');
        if (child.exitCode === null) await once(child, 'exit');
      }
    });
  });

  test('a worker SIGKILLed while gateway clients poll: every client gets its token, no task paid twice', async () => {
    const sitekey = '6Le-gw-sigkill';
    const n = 5;
    const sim = await startSimulator({ scenarios: { sitekeys: { [sitekey]: { outcome: { type: 'solve', afterMs: 6_000 } } } } });
    const taskQueue = uniqueTaskQueue('gw-sigkill');
    const dir = await mkdtemp(join(tmpdir(), 'gw-sigkill-'));
    const bundlePath = join(dir, 'workflow-bundle.js');
    await writeFile(bundlePath, (await bundleWorkflows()).code);
    const workerEnv = {
      ...FAST_ENV,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: env.namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DLQ_WORKFLOW_ID: `dlq-${taskQueue}`,
      CAPTCHA_PROVIDER: '2captcha',
      CAPTCHA_API_KEY: SENTINEL_KEY,
      CAPTCHA_BASE_URL: sim.url,
      SOLVE_POLL_FIRST_DELAY_MS: '200',
      SOLVE_POLL_INTERVAL_MS: '400',
      SOLVE_POLL_DEADLINE_MS: '60000',
      WORKER_STICKY_TIMEOUT_MS: '1000',
      WORKFLOW_BUNDLE_PATH: bundlePath,
    };
    const spawnWorker = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'worker-process.ts')], { env: { ...process.env, ...workerEnv }, stdio: ['ignore', 'pipe', 'inherit'] });
      const ready = new Promise<void>((resolve) => child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('WORKER_READY') && resolve()));
      return { child, ready };
    };
    const gateway = await startGateway({ client: env.client, config: loadConfig(workerEnv), users: USERS });
    const a = spawnWorker();
    let b: ReturnType<typeof spawnWorker> | undefined;
    try {
      await a.ready;
      const ids = await Promise.all(Array.from({ length: n }, async (_, i) => (await get(`${gateway.url}/in.php?key=${SEED_KEY}&method=userrecaptcha&googlekey=${sitekey}&pageurl=${PAGE}/${i}`)).slice(3)));
      const polling = Promise.all(ids.map((id) => pollUntilDone(gateway, SEED_KEY, id)));
      while (sim.stats().paidSubmits < n || (sim.stats().outcomes['res.php'].CAPCHA_NOT_READY ?? 0) < n) await new Promise((r) => setTimeout(r, 50));
      a.child.kill('SIGKILL');
      await once(a.child, 'exit');
      b = spawnWorker();
      await b.ready;
      const answers = await polling;
      for (const answer of answers) assert.match(answer, /^OK\|03AGdBq2/);
      assert.equal(sim.stats().paidSubmits, n, 'one paid submit per task');
      assert.equal(sim.stats().duplicatePaidSubmits, 0);
      assert.equal(gateway.stats().starts, n);
    } finally {
      a.child.kill('SIGKILL');
      if (b && b.child.exitCode === null && b.child.signalCode === null) {
        b.child.kill('SIGTERM');
        await once(b.child, 'exit');
      }
      await gateway.close();
      await sim.close();
    }
  });
});
