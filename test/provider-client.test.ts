// The legacy provider client against the simulator over real HTTP: parameter mapping, answers, classification of
// every failure, transport faults, timeouts, redaction of the key, the connection pool.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import type { CaptchaTask } from '../src/domain/types';
import { classifyProviderCode } from '../src/providers/classify';
import {
  CaptchaPermanentError,
  CaptchaResubmitError,
  ProviderAccountError,
  ProviderTransientError,
  ProviderError,
} from '../src/providers/errors';
import { createProvider } from '../src/providers';
import { createLegacyProvider, type LegacyProvider } from '../src/providers/legacy-client';
import { startSimulator, type ScenarioSpec, type Simulator } from '../src/simulator/server';

const KEY = 'SENTINEL0123456789abcdef01234567';
const PAGE = 'https://example.com/login';

let twoCaptchaSim: Simulator;
let captchaAiSim: Simulator;
let twoCaptcha: LegacyProvider;
let captchaAi: LegacyProvider;
const extraClients: LegacyProvider[] = [];

before(async () => {
  [twoCaptchaSim, captchaAiSim] = await Promise.all([
    startSimulator({ timeScale: 0.001, seed: 5 }),
    startSimulator({ provider: 'captchaai', timeScale: 0.001, seed: 5, apiKey: KEY }),
  ]);
  twoCaptcha = createLegacyProvider({ name: '2captcha', baseUrl: twoCaptchaSim.url, apiKey: KEY, requestTimeoutMs: 400, submitTimeoutMs: 400, softId: 4242 });
  captchaAi = createLegacyProvider({ name: 'captchaai', baseUrl: `${captchaAiSim.url}/`, apiKey: KEY, requestTimeoutMs: 400 });
});
after(async () => {
  await Promise.all([twoCaptcha.close(), captchaAi.close(), ...extraClients.map((client) => client.close())]);
  await Promise.all([twoCaptchaSim.close(), captchaAiSim.close()]);
});

let unique = 0;
const sitekey = (name: string): string => `${name}-${++unique}-0x4AAAAAAAC3DHQFLr1GavRN`;
const v2 = (site: string, options: CaptchaTask['options'] = {}): CaptchaTask => ({ type: 'recaptcha-v2', sitekey: site, pageUrl: PAGE, options });
const image = (tag = 'PNG'): string => Buffer.concat([Buffer.from(tag, 'latin1'), Buffer.alloc(150, 1)]).toString('base64');

/** Every string a logger, a serializer or Temporal could produce from the error, its stack and its cause chain. */
function assertKeyAbsent(error: unknown): void {
  const texts: string[] = [inspect(error, { depth: 20, showHidden: true }), JSON.stringify(error) ?? '', String(error)];
  for (let link: unknown = error, depth = 0; link instanceof Error && depth < 10; link = link.cause, depth++) {
    texts.push(link.message, link.stack ?? '', JSON.stringify(link) ?? '', inspect(link, { depth: 20 }));
  }
  for (const text of texts) assert.ok(!text.includes(KEY) && !text.includes(encodeURIComponent(KEY)), `the key leaked into: ${text}`);
}

/** Awaits a rejection, checks its class, code and class tag, and that the key is nowhere in it. */
async function rejection<T extends ProviderError>(
  promise: Promise<unknown>,
  errorClass: abstract new (...args: never[]) => T,
  code: string,
): Promise<T> {
  const error = await promise.then(
    (value: unknown) => assert.fail(`expected ${errorClass.name} ${code}, got ${inspect(value)}`),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${inspect(error)}`);
  assert.equal(error.code, code, error.message);
  assertKeyAbsent(error);
  return error;
}

async function pollUntilReady(client: LegacyProvider, id: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const answer = await client.poll(id);
    if (answer.ready) return answer.token;
    await sleep(5);
  }
  throw new Error(`task ${id} never became ready`);
}

void describe('submit and poll', () => {
  void test('maps every task type to the provider parameters, and returns string ids', async () => {
    const tasks: CaptchaTask[] = [
      v2(sitekey('v2'), { invisible: true, enterprise: true, data: 'ds-value', userAgent: 'UA/1.0', proxy: 'u:p@10.0.0.1:3128', proxyType: 'SOCKS5' }),
      { type: 'recaptcha-v3', sitekey: sitekey('v3'), pageUrl: PAGE, options: { action: 'login', minScore: 0.7 } },
      { type: 'hcaptcha', sitekey: sitekey('hc'), pageUrl: PAGE },
      { type: 'turnstile', sitekey: sitekey('ts'), pageUrl: PAGE, options: { action: 'signup', data: 'cdata', pageData: 'pdata' } },
      { type: 'image', body: `data:image/png;base64,${image()}` },
    ];
    const ids = await Promise.all(tasks.map((task) => twoCaptcha.submit(task)));
    for (const id of ids) assert.match(id, /^\d+$/);
    const seen = ids.map((id) => twoCaptchaSim.task(id));
    assert.deepEqual(seen.map((task) => task?.type), ['recaptcha-v2', 'recaptcha-v3', 'hcaptcha', 'turnstile', 'image']);
    assert.deepEqual(seen[0]?.params, {
      json: '1',
      method: 'userrecaptcha',
      googlekey: tasks[0]?.sitekey,
      pageurl: PAGE,
      invisible: '1',
      enterprise: '1',
      'data-s': 'ds-value',
      userAgent: 'UA/1.0',
      proxy: 'u:p@10.0.0.1:3128',
      proxytype: 'SOCKS5',
      soft_id: '4242',
    });
    assert.equal(seen[1]?.params.version, 'v3');
    assert.equal(seen[1]?.params.action, 'login');
    assert.equal(seen[1]?.params.min_score, '0.7');
    assert.equal(seen[2]?.params.sitekey, tasks[2]?.sitekey);
    assert.deepEqual([seen[3]?.params.action, seen[3]?.params.data, seen[3]?.params.pagedata], ['signup', 'cdata', 'pdata']);
    assert.equal(seen[4]?.params.method, 'base64');
    assert.ok(seen[4]?.params.body?.startsWith(image().slice(0, 64)), 'the data: prefix is stripped');
  });

  void test('CaptchaAI numeric ids come back as strings; polls are not ready, then ready', async () => {
    const site = sitekey('ready');
    captchaAiSim.setScenarios({ sitekeys: { [site]: { outcome: { type: 'solve', afterMs: 300 } } } });
    const id = await captchaAi.submit(v2(site));
    assert.equal(typeof id, 'string');
    assert.match(id, /^\d+$/);
    assert.deepEqual(await captchaAi.poll(id), { ready: false });
    await sleep(320);
    const answer = await captchaAi.poll(id);
    assert.ok(answer.ready);
    assert.match(answer.token, /^03AGdBq2[\w-]{390,}$/);
  });

  void test('success after the scaled default solve time', async () => {
    const id = await twoCaptcha.submit({ type: 'turnstile', sitekey: sitekey('scaled'), pageUrl: PAGE });
    const started = Date.now();
    const token = await pollUntilReady(twoCaptcha, id);
    assert.match(token, /^0\./);
    assert.ok(Date.now() - started < 1_000, 'turnstile takes 5–20 s × 0.001');
  });

  void test('no-slot N times, then accepted', async () => {
    const site = sitekey('busy');
    captchaAiSim.setScenarios({ sitekeys: { [site]: { noSlot: 2 } } });
    await rejection(captchaAi.submit(v2(site)), ProviderTransientError, 'ERROR_NO_SLOT_AVAILABLE');
    await rejection(captchaAi.submit(v2(site)), ProviderTransientError, 'ERROR_NO_SLOT_AVAILABLE');
    assert.match(await captchaAi.submit(v2(site)), /^\d+$/);
  });

  void test('unsolvable → resubmit class with the task id; never-ready stays not ready', async () => {
    const unsolvable = sitekey('unsolvable');
    const never = sitekey('never');
    twoCaptchaSim.setScenarios({
      sitekeys: { [unsolvable]: { outcome: { type: 'unsolvable', afterMs: 0 } }, [never]: { outcome: { type: 'never-ready' } } },
    });
    const id = await twoCaptcha.submit(v2(unsolvable));
    const error = await rejection(twoCaptcha.poll(id), CaptchaResubmitError, 'ERROR_CAPTCHA_UNSOLVABLE');
    assert.equal(error.providerTaskId, id);
    assert.equal(error.failureClass, 'resubmit');
    const neverId = await twoCaptcha.submit(v2(never));
    await sleep(70);
    for (let i = 0; i < 3; i++) assert.deepEqual(await twoCaptcha.poll(neverId), { ready: false });
    await rejection(twoCaptcha.poll('12345'), CaptchaResubmitError, 'ERROR_WRONG_CAPTCHA_ID');
  });

  void test('pollMany: one ids= request, one answer or classified error per id', async () => {
    const solved = sitekey('many-solved');
    const unsolvable = sitekey('many-unsolvable');
    const pending = sitekey('many-pending');
    twoCaptchaSim.setScenarios({
      sitekeys: {
        [solved]: { outcome: { type: 'solve', afterMs: 0, token: 'ABCD' } },
        [unsolvable]: { outcome: { type: 'unsolvable', afterMs: 0 } },
        [pending]: { outcome: { type: 'never-ready' } },
      },
    });
    const ids = [await twoCaptcha.submit(v2(solved)), await twoCaptcha.submit(v2(unsolvable)), await twoCaptcha.submit(v2(pending)), '777'];
    const before = twoCaptchaSim.stats().resActions['get-multi'] ?? 0;
    const answers = await twoCaptcha.pollMany(ids);
    assert.equal(twoCaptchaSim.stats().resActions['get-multi'], before + 1);
    assert.deepEqual(answers[0], { ready: true, token: 'ABCD' }, 'an upper-case image answer is a token, not a code');
    assert.ok(answers[1] instanceof CaptchaResubmitError && answers[1].code === 'ERROR_CAPTCHA_UNSOLVABLE' && answers[1].providerTaskId === ids[1]);
    assert.deepEqual(answers[2], { ready: false });
    assert.ok(answers[3] instanceof CaptchaResubmitError && answers[3].code === 'ERROR_WRONG_CAPTCHA_ID');
  });
});

void describe('classification of provider answers', () => {
  void test('every account code is account-wide, for both providers', async () => {
    for (const code of ['ERROR_WRONG_USER_KEY', 'ERROR_KEY_DOES_NOT_EXIST', 'IP_BANNED', 'ERROR_IP_NOT_ALLOWED']) {
      for (const [client, sim] of [
        [twoCaptcha, twoCaptchaSim],
        [captchaAi, captchaAiSim],
      ] as const) {
        const site = sitekey(code);
        sim.setScenarios({ sitekeys: { [site]: { submit: [{ type: 'error', code, times: 1 }] } } });
        const error = await rejection(client.submit(v2(site)), ProviderAccountError, code);
        assert.equal(error.failureClass, 'account');
      }
    }
  });

  void test('the real key checks: a malformed key and a key the account does not know', async () => {
    const shortKey = createLegacyProvider({ name: 'captchaai', baseUrl: captchaAiSim.url, apiKey: 'SENTINEL-short' });
    const unknownKey = createLegacyProvider({ name: 'captchaai', baseUrl: captchaAiSim.url, apiKey: 'SENTINELffffffffffffffffffffffff' });
    extraClients.push(shortKey, unknownKey);
    await rejection(shortKey.submit(v2(sitekey('short'))), ProviderAccountError, 'ERROR_WRONG_USER_KEY');
    await rejection(unknownKey.balance(), ProviderAccountError, 'ERROR_KEY_DOES_NOT_EXIST');
  });

  void test('ERROR_ZERO_BALANCE: transient on CaptchaAI (no free thread), account-wide on 2captcha', async () => {
    const site = sitekey('zero');
    const spec: ScenarioSpec = { sitekeys: { [site]: { submit: [{ type: 'error', code: 'ERROR_ZERO_BALANCE', times: 1 }] } } };
    captchaAiSim.setScenarios(spec);
    twoCaptchaSim.setScenarios(spec);
    await rejection(captchaAi.submit(v2(site)), ProviderTransientError, 'ERROR_ZERO_BALANCE');
    await rejection(twoCaptcha.submit(v2(site)), ProviderAccountError, 'ERROR_ZERO_BALANCE');
    assert.equal(classifyProviderCode('captchaai', 'ERROR_ZERO_BALANCE'), 'transient');
    assert.equal(classifyProviderCode('2captcha', 'ERROR_ZERO_BALANCE'), 'account');
  });

  void test('permanent codes: a real missing pageurl, a scripted ERROR_GOOGLEKEY, hCaptcha on CaptchaAI', async () => {
    const error = await rejection(twoCaptcha.submit({ type: 'recaptcha-v2', sitekey: sitekey('nopage') }), CaptchaPermanentError, 'ERROR_PAGEURL');
    assert.equal(error.failureClass, 'permanent');
    const site = sitekey('googlekey');
    twoCaptchaSim.setScenarios({ sitekeys: { [site]: { submit: [{ type: 'error', code: 'ERROR_GOOGLEKEY' }] } } });
    await rejection(twoCaptcha.submit(v2(site)), CaptchaPermanentError, 'ERROR_GOOGLEKEY');
    const submitsBefore = captchaAiSim.stats().requests['in.php'];
    await rejection(captchaAi.submit({ type: 'hcaptcha', sitekey: sitekey('hc'), pageUrl: PAGE }), CaptchaPermanentError, 'UNSUPPORTED_TYPE');
    assert.equal(captchaAiSim.stats().requests['in.php'], submitsBefore, 'refused without a request');
  });

  void test('rate limits and unknown codes are transient', async () => {
    const site = sitekey('limits');
    twoCaptchaSim.setScenarios({
      sitekeys: {
        [site]: {
          outcome: { type: 'solve', afterMs: 0 },
          submit: [
            { type: 'error', code: 'MAX_USER_TURN', times: 1 },
            { type: 'error', code: 'ERROR_SOMETHING_NEW', times: 1 },
          ],
          poll: [{ type: 'error', code: 'ERROR: 1005', times: 1 }],
        },
      },
    });
    await rejection(twoCaptcha.submit(v2(site)), ProviderTransientError, 'MAX_USER_TURN');
    await rejection(twoCaptcha.submit(v2(site)), ProviderTransientError, 'ERROR_SOMETHING_NEW');
    const id = await twoCaptcha.submit(v2(site));
    await rejection(twoCaptcha.poll(id), ProviderTransientError, 'ERROR: 1005');
    assert.equal((await twoCaptcha.poll(id)).ready, true);
  });

  void test('a real burst: more than 60 submits in 3 s gets MAX_USER_TURN, classified transient', async () => {
    const burstKey = 'SENTINELburst0123456789abcdef012';
    const client = createLegacyProvider({ name: '2captcha', baseUrl: twoCaptchaSim.url, apiKey: burstKey, connections: 8 });
    extraClients.push(client);
    const bansBefore = twoCaptchaSim.stats().bans.MAX_USER_TURN;
    const results = await Promise.allSettled(Array.from({ length: 64 }, () => client.submit(v2(sitekey('burst')))));
    const refused = results.filter((result) => result.status === 'rejected').map((result) => (result as PromiseRejectedResult).reason as unknown);
    assert.equal(refused.length, 4);
    for (const error of refused) assert.ok(error instanceof ProviderTransientError && error.code === 'MAX_USER_TURN');
    assert.equal(twoCaptchaSim.stats().bans.MAX_USER_TURN, bansBefore + 1);
  });
});

void describe('transport faults', () => {
  const faulty = (rule: object): CaptchaTask => {
    const site = sitekey('fault');
    twoCaptchaSim.setScenarios({ sitekeys: { [site]: { submit: [{ ...rule, times: 1 } as never] } } });
    return v2(site);
  };

  void test('HTTP 5xx → HTTP_<status>', async () => {
    await rejection(twoCaptcha.submit(faulty({ type: 'http', status: 503 })), ProviderTransientError, 'HTTP_503');
    await rejection(twoCaptcha.submit(faulty({ type: 'http', status: 500 })), ProviderTransientError, 'HTTP_500');
  });

  void test('an HTML page → BAD_BODY, malformed JSON → BAD_JSON', async () => {
    const html = await rejection(twoCaptcha.submit(faulty({ type: 'html' })), ProviderTransientError, 'BAD_BODY');
    assert.match(html.message, /DOCTYPE/, 'the message shows the start of the body');
    await rejection(twoCaptcha.submit(faulty({ type: 'bad-json' })), ProviderTransientError, 'BAD_JSON');
  });

  void test('a reset connection → ECONNRESET, with a sanitized cause', async () => {
    const error = await rejection(twoCaptcha.submit(faulty({ type: 'reset' })), ProviderTransientError, 'ECONNRESET');
    assert.ok(error.cause instanceof Error);
    assert.equal((error.cause as Error & { code?: string }).code, 'UND_ERR_SOCKET');
  });

  void test('a slow answer beyond the submit timeout → TIMEOUT with an unknown outcome; the pool still works after it', async () => {
    const started = Date.now();
    const error = await rejection(twoCaptcha.submit(faulty({ type: 'slow', delayMs: 1_500 })), ProviderTransientError, 'TIMEOUT');
    assert.equal(error.requestOutcome, 'unknown', 'the submit was sent: it may have been paid');
    assert.ok(Date.now() - started < 1_200, 'gave up at the 400 ms timeout');
    assert.match(await twoCaptcha.submit(v2(sitekey('after-timeout'))), /^\d+$/);
  });

  void test('a poll that fails with 503 twice, then works', async () => {
    const site = sitekey('flaky-poll');
    twoCaptchaSim.setScenarios({ sitekeys: { [site]: { outcome: { type: 'solve', afterMs: 0 }, poll: [{ type: 'http', status: 503, times: 2 }] } } });
    const id = await twoCaptcha.submit(v2(site));
    const first = await rejection(twoCaptcha.poll(id), ProviderTransientError, 'HTTP_503');
    assert.equal(first.providerTaskId, id);
    await rejection(twoCaptcha.poll(id), ProviderTransientError, 'HTTP_503');
    assert.equal((await twoCaptcha.poll(id)).ready, true);
  });

  void test('a refused connection and a caller abort are transient too', async () => {
    const dead = createLegacyProvider({ name: '2captcha', baseUrl: 'http://127.0.0.1:9', apiKey: KEY, requestTimeoutMs: 1_000 });
    extraClients.push(dead);
    const refused = await rejection(dead.poll('123'), ProviderTransientError, 'ECONNREFUSED');
    assert.equal(refused.requestOutcome, 'not-sent');
    const site = sitekey('abort');
    twoCaptchaSim.setScenarios({ sitekeys: { [site]: { submit: [{ type: 'slow', delayMs: 300, times: 1 }] } } });
    await rejection(twoCaptcha.submit(v2(site), AbortSignal.timeout(50)), ProviderTransientError, 'ABORTED');
  });
});

void describe('the key never leaks', () => {
  void test('a provider echoing the key in its error text is redacted', async () => {
    const site = sitekey('echo');
    twoCaptchaSim.setScenarios({
      sitekeys: { [site]: { submit: [{ type: 'error', code: 'ERROR_IP_NOT_ALLOWED', errorText: `key ${KEY} is not allowed from this IP`, times: 1 }] } },
    });
    const error = await rejection(twoCaptcha.submit(v2(site)), ProviderAccountError, 'ERROR_IP_NOT_ALLOWED');
    assert.match(error.message, /\[REDACTED\]/);
  });

  void test('a transport error of a GET (key in the query) carries no URL and no key', async () => {
    const site = sitekey('get-reset');
    twoCaptchaSim.setScenarios({ sitekeys: { [site]: { outcome: { type: 'solve', afterMs: 0 }, poll: [{ type: 'reset', times: 1 }, { type: 'slow', delayMs: 1_000, times: 1 }] } } });
    const id = await twoCaptcha.submit(v2(site));
    await rejection(twoCaptcha.poll(id), ProviderTransientError, 'ECONNRESET');
    await rejection(twoCaptcha.poll(id), ProviderTransientError, 'TIMEOUT');
    await rejection(twoCaptcha.balance(AbortSignal.abort()), ProviderTransientError, 'ABORTED');
  });
});

void describe('balance, reports, pool, lifecycle', () => {
  void test('balance, reportgood, reportbad; a repeated report is fine; a report without an answer is permanent', async () => {
    const balance = await twoCaptcha.balance();
    assert.ok(balance > 0 && Number.isFinite(balance));
    const site = sitekey('report');
    twoCaptchaSim.setScenarios({ sitekeys: { [site]: { outcome: { type: 'solve', afterMs: 0 } } } });
    const good = await twoCaptcha.submit(v2(site));
    const bad = await twoCaptcha.submit(v2(site));
    await pollUntilReady(twoCaptcha, good);
    await pollUntilReady(twoCaptcha, bad);
    await twoCaptcha.report(good, 'good');
    await twoCaptcha.report(good, 'good');
    await twoCaptcha.report(bad, 'bad');
    assert.deepEqual(twoCaptchaSim.task(good)?.report, 'good');
    assert.deepEqual(twoCaptchaSim.task(bad)?.report, 'bad');
    const pendingSite = sitekey('report-pending');
    twoCaptchaSim.setScenarios({ sitekeys: { [pendingSite]: { outcome: { type: 'never-ready' } } } });
    const pending = await twoCaptcha.submit(v2(pendingSite));
    await rejection(twoCaptcha.report(pending, 'bad'), CaptchaPermanentError, 'ERROR_REPORT_NOT_RECORDED');
  });

  void test('the pool holds at most `connections` requests in flight; the active-task gauge follows delivery', async () => {
    const sim = await startSimulator({ timeScale: 0.001 });
    const client = createLegacyProvider({ name: '2captcha', baseUrl: sim.url, apiKey: KEY, connections: 3 });
    try {
      sim.setScenarios({ sitekeys: { '*': { outcome: { type: 'solve', afterMs: 0 }, submit: [{ type: 'slow', delayMs: 40 }] } } });
      const ids = await Promise.all(Array.from({ length: 9 }, (_, i) => client.submit(v2(`pool-${i}`))));
      let stats = sim.stats();
      assert.equal(stats.peakInflightRequests, 3, 'undici kept to 3 connections');
      assert.equal(stats.activeTasks, 9);
      assert.equal(stats.paidSubmits, 9);
      await Promise.all(ids.map((id) => pollUntilReady(client, id)));
      stats = sim.stats();
      assert.equal(stats.activeTasks, 0);
      assert.equal(stats.peakActiveTasks, 9);
      assert.equal(stats.solved, 9);
    } finally {
      await client.close();
      await sim.close();
    }
  });

  void test('createProvider builds the legacy client; a closed client refuses with CLIENT_CLOSED', async () => {
    const provider = createProvider({ name: 'captchaai', baseUrl: captchaAiSim.url, apiKey: KEY });
    assert.equal(provider.name, 'captchaai');
    assert.ok((await provider.balance()) > 0);
    await provider.close();
    await rejection(provider.balance(), ProviderTransientError, 'CLIENT_CLOSED');
  });
});

test('an answer that echoes the key, in any case, never becomes a code or a message', async () => {
  const key = 'abcdef0123456789abcdef0123456789';
  const server = createServer((_req, res) => res.end(JSON.stringify({ status: 0, request: key.toUpperCase() })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const provider = createLegacyProvider({ name: '2captcha', baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: key });
  try {
    const err = await provider.poll('123').then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ProviderError);
    assert.equal(err.code, 'UNRECOGNIZED_ANSWER');
    assert.ok(!inspect(err, { depth: 10 }).toLowerCase().includes(key), 'the key leaked');
  } finally {
    await provider.close();
    server.close();
  }
});
