// The capability table (src/providers/capabilities.ts) row by row against the simulator, and against what our own
// clients send: accepted kinds, type names with their legacy aliases and proxy variants, poll spacing and caps, error
// texts, extra actions. Plain HTTP to the simulator; no Temporal needed.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { CAPTCHA_KINDS, JSON_CAPABILITIES, LEGACY_CAPABILITIES, acceptedTypeNames, providersSupporting, type CaptchaKind } from '../src/providers/capabilities';
import { JSON_PROVIDERS, jsonTaskFor } from '../src/providers/json-client';
import { startSimulator, type Simulator } from '../src/simulator/server';
import type { CaptchaTask } from '../src/domain/types';

const KEY = 'CAPABILITY0123456789abcdef012345';
const PAGE = 'https://example.com/capabilities';
const image = (tag: string): string => Buffer.concat([Buffer.from(tag, 'latin1'), Buffer.alloc(150, 7)]).toString('base64');

const started: Simulator[] = [];
after(async () => {
  await Promise.all(started.map((s) => s.close()));
});
async function simulator(options: Parameters<typeof startSimulator>[0]): Promise<Simulator> {
  const sim = await startSimulator({ apiKey: KEY, rateLimits: { pollBudget: false, submitBurst: false }, ...options });
  started.push(sim);
  return sim;
}
async function post(sim: Simulator, path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await fetch(`${sim.url}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientKey: KEY, ...body }) });
  return (await response.json()) as Record<string, unknown>;
}
async function legacy(sim: Simulator, endpoint: 'in.php' | 'res.php', params: Record<string, string>): Promise<{ status: number; request: unknown }> {
  const response = await fetch(`${sim.url}/${endpoint}?${new URLSearchParams({ key: KEY, json: '1', ...params }).toString()}`);
  return (await response.json()) as { status: number; request: unknown };
}

/** A minimal JSON task body of a kind under a type name. */
function jsonTask(type: string, kind: CaptchaKind, sitekey: string): Record<string, unknown> {
  if (kind === 'image') return { type, body: image(sitekey) };
  const proxy = /Proxy[Ll]ess$/.test(type) || type === 'ImageToTextTask' ? {} : { proxyType: 'http', proxyAddress: '10.0.0.1', proxyPort: 8080, proxy: 'http:10.0.0.1:8080' };
  return { type, websiteURL: PAGE, websiteKey: sitekey, ...(kind === 'recaptcha-v3' && { pageAction: 'login', minScore: 0.5 }), ...proxy };
}

/** One task per kind, as our client would send it. */
const TASKS: Record<CaptchaKind, CaptchaTask> = {
  'recaptcha-v2': { type: 'recaptcha-v2', sitekey: 'sk-cap', pageUrl: PAGE },
  'recaptcha-v3': { type: 'recaptcha-v3', sitekey: 'sk-cap', pageUrl: PAGE, options: { action: 'login' } },
  hcaptcha: { type: 'hcaptcha', sitekey: 'sk-cap', pageUrl: PAGE },
  turnstile: { type: 'turnstile', sitekey: 'sk-cap', pageUrl: PAGE },
  image: { type: 'image', body: image('CAP') },
};

void describe('kinds and type names', () => {
  for (const name of JSON_PROVIDERS) {
    test(`${name}: every name in the table is accepted as its kind; our client sends only names in the table`, async () => {
      const sim = await simulator({ dialect: name, timeScale: 0.0001 });
      const accepted = acceptedTypeNames(name);
      for (const [type, kind] of accepted) {
        const created = await post(sim, 'createTask', { task: jsonTask(type, kind, `sk-${type}`) });
        assert.equal(created.errorId, 0, `${type}: ${JSON.stringify(created)}`);
        assert.equal(sim.task(String(created.taskId))?.type, kind, type);
      }
      for (const kind of CAPTCHA_KINDS) {
        for (const options of [{}, { proxy: 'u:p@10.0.0.1:8080' }, { enterprise: true }]) {
          if (kind === 'image' && Object.keys(options).length > 0) continue;
          const task = { ...TASKS[kind], ...(kind !== 'image' && { options: { ...TASKS[kind].options, ...options } }) } as CaptchaTask;
          const sent = String(jsonTaskFor(name, task).type);
          assert.equal(accepted.get(sent), kind, `${name} client sends ${sent} for ${kind} ${JSON.stringify(options)}`);
        }
      }
      const unknown = await post(sim, 'createTask', { task: { type: 'FunCaptchaTaskProxyless', websiteURL: PAGE, websiteKey: 'x' } });
      assert.notEqual(unknown.errorId, 0);
    });
  }

  for (const name of ['captchaai', '2captcha'] as const) {
    test(`${name}: in.php accepts exactly the kinds in the table`, async () => {
      const sim = await simulator({ provider: name, timeScale: 0.0001 });
      const submits: Record<CaptchaKind, Record<string, string>> = {
        'recaptcha-v2': { method: 'userrecaptcha', googlekey: 'sk', pageurl: PAGE },
        'recaptcha-v3': { method: 'userrecaptcha', version: 'v3', googlekey: 'sk', pageurl: PAGE },
        hcaptcha: { method: 'hcaptcha', sitekey: 'sk', pageurl: PAGE },
        turnstile: { method: 'turnstile', sitekey: 'sk', pageurl: PAGE },
        image: { method: 'base64', body: image('LEG') },
      };
      for (const kind of CAPTCHA_KINDS) {
        const answer = await legacy(sim, 'in.php', submits[kind]);
        assert.equal(answer.status === 1, LEGACY_CAPABILITIES[name].kinds.includes(kind), `${name} ${kind}: ${JSON.stringify(answer)}`);
      }
    });
  }

  test('the providers that solve hCaptcha are named from the table (CaptchaAI is not one)', () => {
    assert.deepEqual(providersSupporting('hcaptcha'), ['2captcha', '2captcha-v2', 'anticaptcha', 'capsolver', 'capmonster']);
  });
});

void describe('poll spacing and caps', () => {
  for (const name of JSON_PROVIDERS) {
    const rules = JSON_CAPABILITIES[name].poll;
    test(`${name}: two quick polls of a task are refused exactly for the spaced kinds (${rules.spacedKinds.join(', ') || 'none'})`, async () => {
      const sim = await simulator({ dialect: name, scenarios: { sitekeys: { 'sk-never': { outcome: { type: 'never-ready' } }, 'image:NEVER': { outcome: { type: 'never-ready' } } } } });
      const accepted = [...acceptedTypeNames(name)];
      for (const kind of CAPTCHA_KINDS) {
        // CapSolver answers images with createTask: no poll to space
        if (name === 'capsolver' && kind === 'image') continue;
        const [type] = accepted.find(([, k]) => k === kind) ?? [];
        assert.ok(type);
        const created = await post(sim, 'createTask', { task: jsonTask(type, kind, kind === 'image' ? 'NEVER' : 'sk-never') });
        await post(sim, 'getTaskResult', { taskId: created.taskId });
        const second = await post(sim, 'getTaskResult', { taskId: created.taskId });
        const refused = second.errorCode === 'ERROR_TOO_MUCH_REQUESTS';
        assert.equal(refused, rules.minIntervalMs > 0 && rules.spacedKinds.includes(kind), `${name} ${kind}: ${JSON.stringify(second)}`);
      }
    });

    if (Number.isFinite(rules.maxPollsPerTask)) {
      test(`${name}: the result is lost after ${rules.maxPollsPerTask} polls`, async () => {
        const sim = await simulator({ dialect: name, jsonMinPollIntervalMs: 0, scenarios: { sitekeys: { 'sk-never': { outcome: { type: 'never-ready' } } } } });
        const type = JSON_CAPABILITIES[name].typeNames['recaptcha-v2'];
        const created = await post(sim, 'createTask', { task: jsonTask(type, 'recaptcha-v2', 'sk-never') });
        for (let i = 0; i < rules.maxPollsPerTask; i++) assert.equal((await post(sim, 'getTaskResult', { taskId: created.taskId })).errorId, 0);
        const lost = await post(sim, 'getTaskResult', { taskId: created.taskId });
        assert.equal(lost.errorCode, name === 'capsolver' ? 'ERROR_TASKID_INVALID' : 'ERROR_NO_SUCH_CAPCHA_ID');
      });
    }
  }
});

void describe('error texts', () => {
  for (const name of JSON_PROVIDERS) {
    const texts = JSON_CAPABILITIES[name].errorTexts;
    test(`${name}: each of its ${Object.keys(texts).length} error codes is answered with the table's text`, async () => {
      const codes = Object.keys(texts);
      // scripted as answers to the polls of one never-ready task, one code each, in order
      const sim = await simulator({
        dialect: name,
        jsonMinPollIntervalMs: 0,
        scenarios: { sitekeys: { 'sk-errors': { outcome: { type: 'never-ready' }, poll: codes.map((code) => ({ type: 'error' as const, code, times: 1 })) } } },
      });
      const created = await post(sim, 'createTask', { task: jsonTask(JSON_CAPABILITIES[name].typeNames['recaptcha-v2'], 'recaptcha-v2', 'sk-errors') });
      for (const code of codes) {
        const answer = await post(sim, 'getTaskResult', { taskId: created.taskId });
        assert.equal(answer.errorCode, code);
        assert.equal(answer.errorDescription, texts[code]);
      }
    });
  }
});

void describe('extra actions', () => {
  for (const name of ['captchaai', '2captcha'] as const) {
    test(`${name}: each extra res.php action in the table is served, the others are not`, async () => {
      const sim = await simulator({ provider: name, timeScale: 0.0001 });
      const submitted = await legacy(sim, 'in.php', { method: 'userrecaptcha', googlekey: 'sk', pageurl: PAGE });
      const id = String(submitted.request);
      const params: Record<string, Record<string, string>> = {
        getbalance: { action: 'getbalance' },
        reportgood: { action: 'reportgood', id },
        reportbad: { action: 'reportbad', id },
        threadsinfo: { action: 'threadsinfo' },
        'get-multi': { action: 'get', ids: id },
      };
      for (const [action, query] of Object.entries(params)) {
        const answer = await legacy(sim, 'res.php', query);
        assert.equal(answer.request !== 'ERROR_EMPTY_ACTION', LEGACY_CAPABILITIES[name].extraActions.includes(action), `${name} ${action}: ${JSON.stringify(answer)}`);
      }
    });
  }

  for (const name of JSON_PROVIDERS) {
    test(`${name}: each extra endpoint in the table answers in the dialect (${JSON_CAPABILITIES[name].extraActions.join(', ')})`, async () => {
      const sim = await simulator({ dialect: name, timeScale: 0.0001 });
      const type = JSON_CAPABILITIES[name].typeNames['recaptcha-v2'];
      for (const endpoint of JSON_CAPABILITIES[name].extraActions) {
        const created = await post(sim, 'createTask', { task: jsonTask(type, 'recaptcha-v2', 'sk-extra') });
        let result: Record<string, unknown>;
        do result = await post(sim, 'getTaskResult', { taskId: created.taskId });
        while (result.status !== 'ready');
        const body = endpoint === 'feedbackTask' ? { taskId: created.taskId, result: { invalid: true } } : { taskId: created.taskId };
        const answer = await post(sim, endpoint, body);
        assert.equal(answer.errorId, 0, `${name} ${endpoint}: ${JSON.stringify(answer)}`);
      }
    });
  }
});
