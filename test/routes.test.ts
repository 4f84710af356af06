// Provider routes without a server: the health circuit (account, capacity window, half-open probe), the router's
// order and its refusal to move a submit that may have been paid, route validation, CAPTCHA_PROVIDERS parsing, and
// the simulator's schedule (over real HTTP, through our own client).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, ConfigError } from '../src/config';
import { createProvider } from '../src/providers';
import { CaptchaPermanentError, ProviderAccountError, ProviderTransientError } from '../src/providers/errors';
import { ProviderHealth, ProviderRouter, routeProblem } from '../src/providers/routes';
import type { CaptchaProvider, SubmitOptions } from '../src/providers/types';
import type { CaptchaTask } from '../src/domain/types';
import { startSimulator } from '../src/simulator/server';

const KEY = 'SENTINELKEY0123456789abcdef01234';
const task: CaptchaTask = { type: 'recaptcha-v2', sitekey: '6Le-ROUTES', pageUrl: 'https://example.com/r' };

/** A provider whose submits answer from a script: an id, or an error to throw. */
function scripted(name: string, answers: (string | Error)[]): CaptchaProvider & { submits: number; options: (SubmitOptions | undefined)[] } {
  const p = {
    name,
    submits: 0,
    options: [] as (SubmitOptions | undefined)[],
    async submit(_task: CaptchaTask, _signal?: AbortSignal, options?: SubmitOptions) {
      p.submits++;
      p.options.push(options);
      const next = answers.shift() ?? `${name}-id`;
      if (next instanceof Error) throw next;
      return next;
    },
    poll: async () => ({ ready: true as const, token: 't' }),
    balance: async () => 1,
    report: async () => undefined,
    close: async () => undefined,
  };
  return p;
}

test('health: an account error opens the circuit; after the cooldown one probe passes, and its success closes it', () => {
  const h = new ProviderHealth({ accountThreshold: 1, capacityThreshold: 3, windowMs: 1_000, cooldownMs: 500 });
  assert.equal(h.acquire(0), 'use');
  h.failed(new ProviderAccountError('dry', 'ERROR_ZERO_BALANCE'), 0);
  assert.equal(h.acquire(100), false);
  assert.equal(h.acquire(600), 'probe');
  assert.equal(h.acquire(600), false, 'one probe at a time');
  h.failed(new ProviderAccountError('dry', 'ERROR_ZERO_BALANCE'), 700);
  assert.equal(h.acquire(1_100), false, 'a failed probe starts a new cooldown');
  assert.equal(h.acquire(1_200), 'probe');
  h.succeeded();
  assert.equal(h.acquire(1_200), 'use');
  assert.deepEqual([h.snapshot().opened, h.snapshot().closed], [2, 1], 'opened, reopened after the failed probe, closed');
});

test('health: capacity failures open the circuit only when enough fall within the window', () => {
  const h = new ProviderHealth({ accountThreshold: 1, capacityThreshold: 3, windowMs: 1_000, cooldownMs: 500 });
  const noSlot = () => new ProviderTransientError('busy', 'ERROR_NO_SLOT_AVAILABLE');
  h.failed(noSlot(), 0);
  h.failed(noSlot(), 900);
  h.failed(noSlot(), 1_850); // the first one left the window
  assert.equal(h.snapshot().state, 'closed');
  h.failed(noSlot(), 1_860);
  assert.equal(h.snapshot().state, 'open');
  assert.equal(h.snapshot().code, 'ERROR_NO_SLOT_AVAILABLE');
});

test('router: a refusal moves the submit to the next provider; an unknown outcome never does (it may have been paid)', async () => {
  const a = scripted('2captcha-v2', [new ProviderTransientError('busy', 'ERROR_NO_SLOT_AVAILABLE'), new ProviderTransientError('timeout', 'TIMEOUT', undefined, undefined, 'unknown')]);
  const b = scripted('capsolver', []);
  const router = new ProviderRouter([
    { name: 'a', kind: '2captcha-v2', client: a },
    { name: 'b', kind: 'capsolver', client: b },
  ]);
  const first = await router.submit(task);
  assert.deepEqual([first.provider, first.skipped], ['b', [{ provider: 'a', reason: 'ERROR_NO_SLOT_AVAILABLE' }]]);
  await assert.rejects(router.submit(task), (err: unknown) => err instanceof ProviderTransientError && err.code === 'TIMEOUT');
  assert.equal(b.submits, 1, 'the unknown outcome was not sent elsewhere');
  const avoided = await router.submit(task, ['a', 'b'], { avoid: ['a'] });
  assert.equal(avoided.provider, 'b');
});

test('router: with every circuit open the first choice is tried anyway (as a single provider always was)', async () => {
  const a = scripted('capsolver', [new ProviderAccountError('dry', 'ERROR_ZERO_BALANCE'), new ProviderAccountError('dry', 'ERROR_ZERO_BALANCE')]);
  const router = new ProviderRouter([{ name: 'a', kind: 'capsolver', client: a }], { accountThreshold: 1, capacityThreshold: 3, windowMs: 1_000, cooldownMs: 60_000 });
  await assert.rejects(router.submit(task), ProviderAccountError);
  await assert.rejects(router.submit(task), ProviderAccountError);
  const fixed = await router.submit(task);
  assert.deepEqual([fixed.provider, fixed.skipped], ['a', []]);
  assert.equal(a.submits, 3);
  assert.equal(router.healthOf('a')?.state, 'closed');
});

test('router: the callback URL goes to the provider that takes the task, also after a refusal moved it', async () => {
  const a = scripted('2captcha-v2', [new ProviderTransientError('busy', 'ERROR_NO_SLOT_AVAILABLE')]);
  const b = scripted('capsolver', []);
  const router = new ProviderRouter([
    { name: 'a', kind: '2captcha-v2', client: a },
    { name: 'b', kind: 'capsolver', client: b },
  ]);
  const callbackUrl = 'https://hooks.example.com/cb/solve%2Fx?sig=abc';
  const routed = await router.submit(task, undefined, { callbackUrl });
  assert.equal(routed.provider, 'b');
  assert.deepEqual([a.options, b.options], [[{ callbackUrl }], [{ callbackUrl }]]);
  await router.submit(task);
  assert.deepEqual(a.options.at(-1), undefined, 'no callback URL: none is passed');
});

test('router: a default route where no provider solves the type refuses it unpaid, as UNSUPPORTED_TYPE', async () => {
  const ai = scripted('captchaai', []);
  const router = new ProviderRouter([{ name: 'ai', kind: 'captchaai', client: ai }]);
  await assert.rejects(
    router.submit({ type: 'hcaptcha', sitekey: 'hc-ROUTES', pageUrl: 'https://example.com/r' }),
    (err: unknown) => err instanceof CaptchaPermanentError && err.code === 'UNSUPPORTED_TYPE' && /not solved by captchaai/.test(err.message),
  );
  assert.equal(ai.submits, 0);
});

test('route validation: one sentence per mistake', () => {
  const configured = new Map([
    ['main', '2captcha' as const],
    ['ai', 'captchaai' as const],
  ]);
  assert.equal(routeProblem(['main'], ['hcaptcha'], configured), undefined);
  assert.equal(routeProblem(['ai'], ['hcaptcha'], configured), 'no provider in the route ai solves hcaptcha tasks');
  assert.equal(routeProblem(['main', 'x'], ['image'], configured), 'unknown provider "x" in the route; configured: main, ai');
  assert.equal(routeProblem(['main', 'main'], [], configured), 'provider main appears twice in the route');
  assert.equal(routeProblem('main', [], configured), 'a route is a non-empty list of provider names');
});

test('CAPTCHA_PROVIDERS: keys inline or by variable; mistakes named without the key', () => {
  const config = loadConfig({
    CAPTCHA_PROVIDERS: JSON.stringify([
      { name: 'capsolver', apiKeyEnv: 'CS_KEY' },
      { name: 'backup', provider: '2captcha-v2', apiKey: KEY, baseUrl: 'http://127.0.0.1:1/' },
    ]),
    CS_KEY: KEY,
  });
  assert.deepEqual(
    config.providers.map((p) => [p.name, p.provider, p.baseUrl]),
    [
      ['capsolver', 'capsolver', 'https://api.capsolver.com'],
      ['backup', '2captcha-v2', 'http://127.0.0.1:1'],
    ],
  );
  assert.ok(Object.isFrozen(config.providers[0]));
  const refused = (value: string, env: Record<string, string> = {}) => {
    try {
      loadConfig({ CAPTCHA_PROVIDERS: value, ...env });
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.ok(!err.message.includes(KEY), 'the key leaked into the message');
      return err.message;
    }
    assert.fail('accepted');
  };
  assert.match(refused(JSON.stringify([{ name: 'mine', apiKey: KEY }])), /provider mine needs "provider"/);
  assert.match(refused(JSON.stringify([{ name: 'capsolver', apiKeyEnv: 'NOPE' }])), /capsolver's key variable NOPE is not set/);
  assert.match(refused(JSON.stringify([{ name: 'capsolver', apiKey: KEY, secret: KEY }])), /CAPTCHA_PROVIDERS\[0\]/);
  assert.match(refused(`[{"name":"capsolver","apiKey":"${KEY}"`), /not valid JSON/);
  assert.match(refused('/no/such/file.json'), /neither a JSON list nor an existing file/);
  // the single-provider variables keep working as a one-provider route
  const single = loadConfig({ CAPTCHA_PROVIDER: 'capmonster', CAPTCHA_API_KEY: KEY });
  assert.deepEqual(single.providers.map((p) => [p.name, p.provider, p.apiKey]), [['capmonster', 'capmonster', KEY]]);
});

test('simulator schedule: down after N submits, back after more; the balance runs dry; answers late while slow', async () => {
  const sim = await startSimulator({ provider: 'capsolver', timeScale: 0.001 });
  const client = createProvider({ name: 'capsolver', apiKey: KEY, baseUrl: sim.url, limits: false });
  try {
    sim.setScenarios({
      schedule: [
        { afterSubmits: 2, set: { type: 'down', code: 'ERROR_NO_SLOT_AVAILABLE' } },
        { afterSubmits: 3, set: { type: 'http', status: 503 } },
        { afterSubmits: 4, set: { type: 'up' } },
        { afterSubmits: 5, set: { type: 'balance', balance: 0 } },
      ],
    });
    // (CapSolver words "no slot" as ERROR_SERVICE_UNAVALIABLE)
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      outcomes.push(await client.submit(task).then(() => 'paid', (err: { code: string }) => err.code));
    }
    assert.deepEqual(outcomes, ['paid', 'paid', 'ERROR_SERVICE_UNAVALIABLE', 'HTTP_503', 'paid', 'ERROR_ZERO_BALANCE']);
    assert.equal(sim.stats().paidSubmits, 3);
    sim.setScenarios({ schedule: [{ afterMs: 0, set: { type: 'slow', delayMs: 200 } }] });
    assert.equal(await client.balance(), 0);
    assert.equal(sim.stats().faults.slow, 1);
    assert.throws(() => sim.setScenarios({ schedule: [{ set: { type: 'up' } }] }), /either afterSubmits or afterMs/);
  } finally {
    await client.close();
    await sim.close();
  }
});
