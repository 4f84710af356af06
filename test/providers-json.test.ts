// The JSON provider family (createTask / getTaskResult / getBalance) in each dialect — 2captcha v2, anti-captcha,
// CapSolver, CapMonster — against the simulator over real HTTP: every captcha type through the full workflow (client →
// solve workflow → activities → JSON client → simulator), and the dialects' own answers classified: HTTP 400 with
// errorId 1, integer or UUID task ids, `idle`, CapMonster's poll spacing and the per-task poll cap.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { CaptchaSolveError } from '../src/client';
import { createProvider } from '../src/providers';
import { CaptchaPermanentError, CaptchaResubmitError, ProviderAccountError, ProviderTransientError, type ProviderError } from '../src/providers/errors';
import { JSON_PROVIDERS, createJsonProvider, type JsonProvider, type JsonProviderName } from '../src/providers/json-client';
import { startSimulator, type ScenarioSpec, type Simulator } from '../src/simulator/server';
import type { CaptchaTask, FailureClass } from '../src/domain/types';
import { startStack, type Stack } from './helpers/stack';
import { startTestEnv, type TestEnv } from './helpers/temporal';

const KEY = 'JSONSENTINEL0123456789abcdef0123';
const PAGE = 'https://example.com/form';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.teardown();
});

const image = (tag = 'PNG'): string => Buffer.concat([Buffer.from(tag, 'latin1'), Buffer.alloc(150, 7)]).toString('base64');

/** What each dialect calls the scripted legacy code (CapSolver has its own spellings). */
const CODES: Record<JsonProviderName, { noSlot: string; badPage: string; unsolvable: string; badKey: string; badId: string }> = {
  '2captcha-v2': { noSlot: 'ERROR_NO_SLOT_AVAILABLE', badPage: 'ERROR_BAD_PARAMETERS', unsolvable: 'ERROR_CAPTCHA_UNSOLVABLE', badKey: 'ERROR_KEY_DOES_NOT_EXIST', badId: 'ERROR_NO_SUCH_CAPCHA_ID' },
  anticaptcha: { noSlot: 'ERROR_NO_SLOT_AVAILABLE', badPage: 'ERROR_BAD_PARAMETERS', unsolvable: 'ERROR_CAPTCHA_UNSOLVABLE', badKey: 'ERROR_KEY_DOES_NOT_EXIST', badId: 'ERROR_NO_SUCH_CAPCHA_ID' },
  capsolver: { noSlot: 'ERROR_SERVICE_UNAVALIABLE', badPage: 'ERROR_INVALID_TASK_DATA', unsolvable: 'ERROR_CAPTCHA_SOLVE_FAILED', badKey: 'ERROR_KEY_DENIED_ACCESS', badId: 'ERROR_TASKID_INVALID' },
  capmonster: { noSlot: 'ERROR_NO_SLOT_AVAILABLE', badPage: 'ERROR_BAD_PARAMETERS', unsolvable: 'ERROR_CAPTCHA_UNSOLVABLE', badKey: 'ERROR_KEY_DOES_NOT_EXIST', badId: 'ERROR_NO_SUCH_CAPCHA_ID' },
};

const TYPE_TASKS: { name: string; task: CaptchaTask; token: RegExp; params: Record<string, string> }[] = [
  {
    name: 'reCAPTCHA v2 invisible enterprise',
    task: { type: 'recaptcha-v2', sitekey: '6Le-v2-SITEKEY-json', pageUrl: PAGE, options: { invisible: true, enterprise: true } },
    token: /^03AGdBq2[\w-]{390,}$/,
    params: { method: 'userrecaptcha', googlekey: '6Le-v2-SITEKEY-json', pageurl: PAGE, invisible: '1', enterprise: '1' },
  },
  {
    name: 'reCAPTCHA v3 with action and min score',
    task: { type: 'recaptcha-v3', sitekey: '6Le-v3-SITEKEY-json', pageUrl: PAGE, options: { action: 'login', minScore: 0.7 } },
    token: /^03AGdBq2/,
    params: { method: 'userrecaptcha', version: 'v3', action: 'login', min_score: '0.7' },
  },
  {
    name: 'hCaptcha',
    task: { type: 'hcaptcha', sitekey: 'hc-SITEKEY-json-0001', pageUrl: PAGE },
    token: /^P1_eyJ/,
    params: { method: 'hcaptcha', sitekey: 'hc-SITEKEY-json-0001' },
  },
  {
    name: 'Turnstile with action',
    task: { type: 'turnstile', sitekey: '0x4AAAAAAA-json', pageUrl: PAGE, options: { action: 'signup' } },
    token: /^0\.[\w-]+\.[0-9a-f]{64}$/,
    params: { method: 'turnstile', sitekey: '0x4AAAAAAA-json', action: 'signup' },
  },
  { name: 'image (base64)', task: { type: 'image', body: image() }, token: /^[a-z0-9]{4,6}$/, params: { method: 'base64' } },
];

/** The simulator script of the error cases, per sitekey. */
const SCRIPT: ScenarioSpec = {
  sitekeys: {
    'sk-json-no-slot': { noSlot: 1 },
    'sk-json-bad-page': { submit: [{ type: 'error', code: 'ERROR_PAGEURL' }] },
    'sk-json-zero-balance': { submit: [{ type: 'error', code: 'ERROR_ZERO_BALANCE' }] },
    'sk-json-unsolvable': { outcome: { type: 'unsolvable', afterMs: 5 } },
  },
};

async function failureOf(s: Stack, task: CaptchaTask): Promise<CaptchaSolveError> {
  const err = await s.solver.solve(task, { deadLetter: false }).then(
    () => assert.fail('expected the solve to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CaptchaSolveError, `expected CaptchaSolveError, got ${String(err)}`);
  return err;
}

for (const dialect of JSON_PROVIDERS) {
  describe(`${dialect} through the workflow`, () => {
    test('every captcha type solves, mapped to the dialect; scripted errors end in the shared failure classes', async () => {
      const stack = await startStack(env, { name: `json-${dialect}`, provider: dialect, simulator: { scenarios: SCRIPT } });
      try {
        assert.equal(stack.sim.dialect, dialect);
        assert.equal(stack.config.provider.name, dialect);
        const task = (sitekey: string): CaptchaTask => ({ type: 'recaptcha-v2', sitekey, pageUrl: PAGE });
        await stack.run(async () => {
          const [solved, noSlot, badPage, zeroBalance, unsolvable] = await Promise.all([
            Promise.all(TYPE_TASKS.map(({ task: t }) => stack.solver.solve(t))),
            stack.solver.solve(task('sk-json-no-slot')),
            failureOf(stack, task('sk-json-bad-page')),
            failureOf(stack, task('sk-json-zero-balance')),
            failureOf(stack, task('sk-json-unsolvable')),
          ]);
          solved.forEach((result, i) => {
            const { name, token, params } = TYPE_TASKS[i]!;
            assert.match(result.token, token, `${name}: token shape`);
            assert.equal(result.paidSubmits, 1, name);
            assert.match(result.providerTaskId, dialect === 'capsolver' ? /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/ : /^\d+$/);
            const view = stack.sim.task(result.providerTaskId);
            assert.ok(view, `${name}: the simulator knows task ${result.providerTaskId}`);
            for (const [param, value] of Object.entries(params)) assert.equal(view.params[param], value, `${name}: ${param}`);
          });
          assert.equal(noSlot.attempts, 2, 'a transient no-slot answer is retried');
          const expect = (err: CaptchaSolveError, failureClass: FailureClass, code: string) => {
            assert.equal(err.failureClass, failureClass, `${code}: ${err.message}`);
            assert.equal(err.details?.code, code);
          };
          expect(badPage, 'permanent', CODES[dialect].badPage);
          assert.equal(badPage.details?.attempts, 1, 'a permanent error is not retried');
          expect(zeroBalance, 'account', 'ERROR_ZERO_BALANCE');
          expect(unsolvable, 'resubmit', CODES[dialect].unsolvable);
          assert.equal(unsolvable.details?.paidSubmits, 3, 'unsolvable: 1 + 2 resubmits');
        });
        const stats = stack.sim.stats();
        // every request went to the JSON endpoints, none to in.php / res.php directly
        const creates = TYPE_TASKS.length + 1 + 1 + 3; // types, no-slot's accepted one, zero balance, three unsolvable
        assert.equal(stats.json.createTask, creates + 1 + 1, JSON.stringify(stats.json)); // + the no-slot and bad-page refusals
        assert.equal(stats.requests['in.php'], stats.json.createTask);
        assert.equal(stats.paidSubmits, TYPE_TASKS.length + 1 + 3);
        assert.equal(stats.outcomes['res.php'].ERROR_TOO_MUCH_REQUESTS ?? 0, 0, 'the client kept the dialect poll spacing');
      } finally {
        await stack.close();
      }
    });
  });
}

// ---- the dialects' answers, client against simulator ------------------------------------------------------------

describe('dialect answers and their classification', () => {
  const sims = new Map<JsonProviderName, Simulator>();
  const clients: JsonProvider[] = [];
  const client = (name: JsonProviderName, options: Partial<Parameters<typeof createJsonProvider>[0]> = {}): JsonProvider => {
    const c = createJsonProvider({ name, baseUrl: sims.get(name)!.url, apiKey: KEY, requestTimeoutMs: 2_000, ...options });
    clients.push(c);
    return c;
  };
  before(async () => {
    for (const name of JSON_PROVIDERS) sims.set(name, await startSimulator({ provider: name, timeScale: 0.001, apiKey: KEY, seed: 3 }));
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([...sims.values()].map((s) => s.close()));
  });

  /** The raw answer of one JSON request (to see the wire, not the client's reading of it). */
  async function raw(name: JsonProviderName, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(`${sims.get(name)!.url}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  async function rejection<T extends ProviderError>(promise: Promise<unknown>, errorClass: abstract new (...args: never[]) => T, code: string): Promise<T> {
    const err = await promise.then(
      () => assert.fail(`expected ${errorClass.name} ${code}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof errorClass, `expected ${errorClass.name}, got ${inspect(err)}`);
    assert.equal(err.code, code);
    const texts = [inspect(err, { depth: 10 }), err.message, err.stack ?? '', JSON.stringify(err)];
    for (const text of texts) assert.ok(!text.includes(KEY), `the key leaked: ${text}`);
    return err;
  }

  const v2 = (sitekey: string): CaptchaTask => ({ type: 'recaptcha-v2', sitekey, pageUrl: PAGE });

  test('CapSolver: errors are HTTP 400 (401 for the key) with errorId 1, classified by code', async () => {
    const bad = await raw('capsolver', 'createTask', { clientKey: KEY, task: { type: 'NoSuchTaskProxyLess', websiteURL: PAGE } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.errorId, 1);
    assert.equal(bad.json.errorCode, 'ERROR_INVALID_TASK_DATA');
    const key = await raw('capsolver', 'getBalance', { clientKey: 'x'.repeat(32) });
    assert.equal(key.status, 401);
    assert.equal(key.json.errorCode, 'ERROR_KEY_DENIED_ACCESS');

    await rejection(client('capsolver', { apiKey: 'y'.repeat(32) }).balance(), ProviderAccountError, 'ERROR_KEY_DENIED_ACCESS');
    sims.get('capsolver')!.setScenarios({ sitekeys: { 'sk-cs-page': { submit: [{ type: 'error', code: 'ERROR_PAGEURL' }] } } });
    await rejection(client('capsolver').submit(v2('sk-cs-page')), CaptchaPermanentError, 'ERROR_INVALID_TASK_DATA');
    await rejection(client('capsolver').poll('00000000-0000-4000-a000-000000000000'), CaptchaResubmitError, 'ERROR_TASKID_INVALID');
  });

  test('numbered errorIds (anti-captcha, 2captcha v2) with HTTP 200; the client reads the code, or the id without one', async () => {
    for (const name of ['anticaptcha', '2captcha-v2'] as const) {
      const answer = await raw(name, 'getBalance', { clientKey: 'z'.repeat(32) });
      assert.equal(answer.status, 200);
      assert.deepEqual([answer.json.errorId, answer.json.errorCode], [1, 'ERROR_KEY_DOES_NOT_EXIST']);
      sims.get(name)!.setScenarios({ sitekeys: { 'sk-zero': { submit: [{ type: 'error', code: 'ERROR_ZERO_BALANCE' }] } } });
      const zero = await raw(name, 'createTask', { clientKey: KEY, task: { type: 'RecaptchaV2TaskProxyless', websiteURL: PAGE, websiteKey: 'sk-zero' } });
      assert.deepEqual([zero.status, zero.json.errorId, zero.json.errorCode], [200, 10, 'ERROR_ZERO_BALANCE']);
      await rejection(client(name).submit(v2('sk-zero')), ProviderAccountError, 'ERROR_ZERO_BALANCE');
      await rejection(client(name).poll('999'), CaptchaResubmitError, 'ERROR_NO_SUCH_CAPCHA_ID');
    }
  });

  test('integer task ids travel as JSON numbers; CapSolver ids are UUIDs', async () => {
    const created = await raw('anticaptcha', 'createTask', { clientKey: KEY, task: { type: 'ImageToTextTask', body: image() } });
    assert.equal(typeof created.json.taskId, 'number');
    const byNumber = await raw('anticaptcha', 'getTaskResult', { clientKey: KEY, taskId: created.json.taskId });
    assert.equal(byNumber.json.errorId, 0);
    const id = await client('capmonster').submit(v2('sk-cm-ids'));
    assert.match(id, /^\d+$/);
    const uuid = await client('capsolver').submit(v2('sk-cs-ids'));
    assert.match(uuid, /^[0-9a-f-]{36}$/);
  });

  test('CapSolver: a queued task answers `idle`, then `processing`, both "not ready"; image tasks are answered by createTask', async () => {
    const cs = client('capsolver');
    sims.get('capsolver')!.setScenarios({ sitekeys: { 'sk-cs-slow': { outcome: { type: 'solve', afterMs: 400 } } } });
    const id = await cs.submit(v2('sk-cs-slow'));
    const first = await raw('capsolver', 'getTaskResult', { clientKey: KEY, taskId: id });
    assert.deepEqual([first.status, first.json.status, first.json.taskId], [200, 'idle', id]);
    assert.deepEqual(await cs.poll(id), { ready: false });
    const second = await raw('capsolver', 'getTaskResult', { clientKey: KEY, taskId: id });
    assert.equal(second.json.status, 'processing');

    const imageId = await cs.submit({ type: 'image', body: image() });
    const afterSubmit = sims.get('capsolver')!.stats().json.getTaskResult ?? 0;
    const answer = await cs.poll(imageId);
    assert.ok(answer.ready && /^[a-z0-9]{4,6}$/.test(answer.token));
    // the answer comes with createTask when the image is recognised in time; on a loaded machine one poll may follow
    assert.ok((sims.get('capsolver')!.stats().json.getTaskResult ?? 0) <= afterSubmit + 1, 'the client polled more than once');
  });

  test('CapMonster: polls less than 2 s apart get ERROR_TOO_MUCH_REQUESTS (transient); the client keeps the spacing itself', async () => {
    const sim = sims.get('capmonster')!;
    sim.setScenarios({ sitekeys: { 'sk-cm-slow': { outcome: { type: 'solve', afterMs: 500 } } } });
    const eager = client('capmonster', { minPollIntervalMs: 0 });
    const id = await eager.submit(v2('sk-cm-slow'));
    assert.deepEqual(await eager.poll(id), { ready: false });
    await rejection(eager.poll(id), ProviderTransientError, 'ERROR_TOO_MUCH_REQUESTS');

    const polite = client('capmonster');
    const id2 = await polite.submit(v2('sk-cm-slow'));
    const started = Date.now();
    assert.deepEqual(await polite.poll(id2), { ready: false });
    const answer = await polite.poll(id2);
    const gap = Date.now() - started;
    assert.ok(answer.ready, 'ready after the spaced second poll');
    assert.ok(gap >= 1_950, `the second poll waited for the 2 s spacing (${gap} ms)`);
    assert.equal(sim.task(id2)?.polls, 2);
  });

  test('the 120-poll cap: the client stops itself (resubmit, no request); past the provider cap the result is lost (resubmit)', async () => {
    const sim = await startSimulator({ provider: 'capmonster', timeScale: 0.001, apiKey: KEY, jsonMinPollIntervalMs: 0, jsonMaxPollsPerTask: 2 });
    const c = createJsonProvider({ name: 'capmonster', baseUrl: sim.url, apiKey: KEY, minPollIntervalMs: 0, maxPollsPerTask: 3 });
    try {
      sim.setScenarios({ sitekeys: { 'sk-never': { outcome: { type: 'never-ready' } } } });
      const id = await c.submit(v2('sk-never'));
      assert.deepEqual(await c.poll(id), { ready: false });
      assert.deepEqual(await c.poll(id), { ready: false });
      await rejection(c.poll(id), CaptchaResubmitError, 'ERROR_NO_SUCH_CAPCHA_ID'); // the provider's cap (2)
      const id2 = await c.submit(v2('sk-never'));
      const capped = createJsonProvider({ name: 'capmonster', baseUrl: sim.url, apiKey: KEY, minPollIntervalMs: 0, maxPollsPerTask: 1 });
      try {
        assert.deepEqual(await capped.poll(id2), { ready: false });
        const requests = sim.stats().json.getTaskResult;
        await rejection(capped.poll(id2), CaptchaResubmitError, 'ERROR_POLL_LIMIT');
        assert.equal(sim.stats().json.getTaskResult, requests, 'no request past the client cap');
      } finally {
        await capped.close();
      }
    } finally {
      await c.close();
      await sim.close();
    }
  });

  test('transport faults and odd bodies are transient in every dialect; balance and reports', async () => {
    for (const name of JSON_PROVIDERS) {
      const sim = sims.get(name)!;
      const c = client(name);
      sim.setScenarios({ all: [{ type: 'http', status: 503, times: 1, endpoint: 'in.php' }] });
      await rejection(c.submit(v2(`sk-fault-${name}`)), ProviderTransientError, 'HTTP_503');
      sim.setScenarios({ all: [{ type: 'bad-json', times: 1, endpoint: 'in.php' }] });
      await rejection(c.submit(v2(`sk-fault-${name}`)), ProviderTransientError, 'BAD_JSON');
      sim.setScenarios({ all: [{ type: 'html', status: 200, times: 1, endpoint: 'res.php' }] });
      await rejection(c.balance(), ProviderTransientError, 'BAD_JSON');
      assert.ok((await c.balance()) > 900);
      const id = await c.submit({ type: 'image', body: image() });
      let answer = await c.poll(id);
      for (let i = 0; !answer.ready && i < 20; i++) answer = await c.poll(id);
      assert.ok(answer.ready);
      await c.report(id, 'bad'); // CapMonster has no report API: resolves without a request
      if (name !== 'capmonster') assert.equal(sim.stats().reports.bad, 1, `${name} recorded the report`);
    }
  });

  test('the factory builds each dialect from configuration, with its default host', () => {
    for (const name of JSON_PROVIDERS) {
      const provider = createProvider({ name, apiKey: KEY, limits: false });
      assert.equal(provider.name, name);
      void provider.close();
    }
    assert.equal(CODES.capsolver.badId, 'ERROR_TASKID_INVALID');
  });
});
