// The provider simulator over real HTTP: encodings, answers, scripted outcomes, faults, limits, counters, seeds, CLI.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FormData, fetch } from 'undici';
import { startSimulator, type Simulator, type SimulatorStats } from '../src/simulator/server';

const KEY = 'SENTINEL0123456789abcdef01234567';
const OTHER_KEY = 'OTHERKEY0123456789abcdef01234567';
const PAGE = 'https://example.com/login';
/** a 120-byte "image" whose first bytes are its scenario tag */
const image = (tag = 'PNG'): Buffer => Buffer.concat([Buffer.from(tag, 'latin1'), Buffer.alloc(120 - tag.length, 7)]);

let sim: Simulator; // 2captcha style: string ids, any 32-character key
let ai: Simulator; // CaptchaAI style: numeric ids for userrecaptcha, one known key

before(async () => {
  [sim, ai] = await Promise.all([
    startSimulator({ timeScale: 0.001, seed: 1 }),
    startSimulator({ provider: 'captchaai', timeScale: 0.001, apiKey: KEY }),
  ]);
});
after(async () => {
  await Promise.all([sim.close(), ai.close()]);
});

let unique = 0;
const sitekey = (name: string): string => `${name}-${++unique}-6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-`;

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function get(base: string, path: string, query: Record<string, string>): Promise<Answer> {
  const response = await fetch(`${base}/${path}?${new URLSearchParams(query)}`);
  return { status: response.status, headers: response.headers as unknown as Headers, text: await response.text() };
}

async function post(base: string, path: string, body: URLSearchParams | FormData | string, contentType?: string): Promise<Answer> {
  const response = await fetch(`${base}/${path}`, {
    method: 'POST',
    body,
    ...(contentType && { headers: { 'content-type': contentType } }),
  });
  return { status: response.status, headers: response.headers as unknown as Headers, text: await response.text() };
}

/** a 200 answer with a parsable JSON body (chaos may have replaced it) */
function readable(answer: Answer): boolean {
  try {
    return answer.status === 200 && typeof JSON.parse(answer.text) === 'object';
  } catch {
    return false;
  }
}

const json = (answer: Answer): { status: number; request: string | number; error_text?: string } => JSON.parse(answer.text);

async function submitV2(base: string, key: string, site: string, extra: Record<string, string> = {}): Promise<string> {
  const answer = json(await post(base, 'in.php', new URLSearchParams({ key, method: 'userrecaptcha', googlekey: site, pageurl: PAGE, json: '1', ...extra })));
  assert.equal(answer.status, 1, `submit refused: ${String(answer.request)}`);
  return String(answer.request);
}

const poll = async (base: string, id: string, key = KEY) => json(await get(base, 'res.php', { key, action: 'get', id, json: '1' }));

async function pollUntilFinal(base: string, id: string): Promise<{ status: number; request: string | number }> {
  for (let i = 0; i < 200; i++) {
    const answer = await poll(base, id);
    if (answer.request !== 'CAPCHA_NOT_READY') return answer;
    await sleep(5);
  }
  throw new Error(`task ${id} never became ready`);
}

const adminStats = async (base: string): Promise<SimulatorStats> => JSON.parse((await get(base, 'admin/stats', {})).text) as SimulatorStats;
const setScenarios = async (base: string, spec: unknown): Promise<Answer> => post(base, 'admin/scenarios', JSON.stringify(spec), 'application/json');

void describe('in.php encodings', () => {
  void test('GET with a query string answers plain OK|id', async () => {
    const answer = await get(sim.url, 'in.php', { key: KEY, method: 'userrecaptcha', googlekey: sitekey('get'), pageurl: PAGE });
    assert.equal(answer.status, 200);
    const id = /^OK\|(\d+)$/.exec(answer.text)?.[1];
    assert.ok(id, answer.text);
    assert.equal(sim.task(id)?.type, 'recaptcha-v2');
  });

  void test('POST form with json=1 answers {status:1, request:"<id>"}', async () => {
    const answer = json(
      await post(sim.url, 'in.php', new URLSearchParams({ key: KEY, method: 'turnstile', sitekey: sitekey('form'), pageurl: PAGE, json: '1' })),
    );
    assert.equal(answer.status, 1);
    assert.equal(typeof answer.request, 'string');
    assert.equal(sim.task(String(answer.request))?.type, 'turnstile');
  });

  void test('POST multipart with method=post and a file', async () => {
    const form = new FormData();
    form.set('key', KEY);
    form.set('method', 'post');
    form.set('json', '1');
    form.set('numeric', '1');
    form.set('file', new Blob([image()]), 'captcha.png');
    const answer = json(await post(sim.url, 'in.php', form));
    assert.equal(answer.status, 1, String(answer.request));
    const id = String(answer.request);
    assert.equal(sim.task(id)?.type, 'image');
    const final = await pollUntilFinal(sim.url, id);
    assert.match(String(final.request), /^\d{4,6}$/, 'numeric=1 gives a digits-only answer');
  });

  void test('POST JSON body (rucaptcha style) and base64 images', async () => {
    const answer = json(
      await post(sim.url, 'in.php', JSON.stringify({ key: KEY, method: 'base64', body: image().toString('base64'), json: 1 }), 'application/json'),
    );
    assert.equal(answer.status, 1, String(answer.request));
    const final = await pollUntilFinal(sim.url, String(answer.request));
    assert.match(String(final.request), /^[a-z0-9]{4,6}$/);
  });

  void test('a bad multipart file extension and a too small image are refused', async () => {
    const form = new FormData();
    form.set('key', KEY);
    form.set('method', 'post');
    form.set('file', new Blob([image()]), 'captcha.exe');
    assert.equal((await post(sim.url, 'in.php', form)).text, 'ERROR_WRONG_FILE_EXTENSION');
    const small = await get(sim.url, 'in.php', { key: KEY, method: 'base64', body: Buffer.from('tiny').toString('base64') });
    assert.equal(small.text, 'ERROR_ZERO_CAPTCHA_FILESIZE');
  });
});

void describe('in.php validation and answer formats', () => {
  void test('key errors: missing or malformed → ERROR_WRONG_USER_KEY, unknown → ERROR_KEY_DOES_NOT_EXIST', async () => {
    const base = { method: 'userrecaptcha', googlekey: sitekey('key'), pageurl: PAGE };
    assert.equal((await get(sim.url, 'in.php', base)).text, 'ERROR_WRONG_USER_KEY');
    assert.equal((await get(sim.url, 'in.php', { ...base, key: 'short' })).text, 'ERROR_WRONG_USER_KEY');
    assert.equal((await get(ai.url, 'in.php', { ...base, key: OTHER_KEY })).text, 'ERROR_KEY_DOES_NOT_EXIST');
    const answer = json(await get(ai.url, 'in.php', { ...base, key: OTHER_KEY, json: '1' }));
    assert.equal(answer.status, 0);
    assert.equal(answer.request, 'ERROR_KEY_DOES_NOT_EXIST');
    assert.ok(answer.error_text && answer.error_text.length > 0);
  });

  void test('parameter errors: googlekey, pageurl, sitekey, method, proxy', async () => {
    const ask = async (query: Record<string, string>) => (await get(sim.url, 'in.php', { key: KEY, ...query })).text;
    assert.equal(await ask({ method: 'userrecaptcha', pageurl: PAGE }), 'ERROR_GOOGLEKEY');
    assert.equal(await ask({ method: 'userrecaptcha', googlekey: 'x' }), 'ERROR_PAGEURL');
    assert.equal(await ask({ method: 'turnstile', pageurl: PAGE }), 'ERROR_SITEKEY');
    assert.equal(await ask({ method: 'funcaptcha' }), 'ERROR_NO_SUCH_METHOD');
    assert.equal(await ask({}), 'ERROR_NO_SUCH_METHOD');
    assert.equal(await ask({ method: 'userrecaptcha', googlekey: 'x', pageurl: PAGE, proxy: 'not a proxy' }), 'ERROR_PROXY_FORMAT');
    assert.match(await ask({ method: 'userrecaptcha', googlekey: 'x', pageurl: PAGE, proxy: 'u:p@10.0.0.1:3128', proxytype: 'HTTP' }), /^OK\|/);
  });

  void test('numeric ids (CaptchaAI, userrecaptcha) vs string ids', async () => {
    const query = { key: KEY, method: 'userrecaptcha', googlekey: sitekey('ids'), pageurl: PAGE, json: '1' };
    const numeric = json(await get(ai.url, 'in.php', query));
    assert.equal(typeof numeric.request, 'number');
    const text = json(await get(sim.url, 'in.php', query));
    assert.equal(typeof text.request, 'string');
    const turnstile = json(await get(ai.url, 'in.php', { ...query, method: 'turnstile', sitekey: 'x' }));
    assert.equal(typeof turnstile.request, 'string', 'only userrecaptcha ids are numbers');
    assert.equal((await get(ai.url, 'in.php', { ...query, method: 'hcaptcha', sitekey: 'x' })).text.includes('ERROR_SERVER_ERROR'), true);
  });

  void test('header_acao=1 adds Access-Control-Allow-Origin', async () => {
    const answer = await get(sim.url, 'in.php', { key: KEY, method: 'userrecaptcha', googlekey: sitekey('acao'), pageurl: PAGE, header_acao: '1' });
    assert.equal(answer.headers.get('access-control-allow-origin'), '*');
    const plain = await get(sim.url, 'in.php', { key: KEY, method: 'userrecaptcha', googlekey: sitekey('acao'), pageurl: PAGE });
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
  });
});

void describe('res.php', () => {
  void test('not ready (json and plain), then ready', async () => {
    const site = sitekey('not-ready');
    sim.setScenarios({ sitekeys: { [site]: { outcome: { type: 'solve', afterMs: 300, token: 'tok-late' } } } });
    const id = await submitV2(sim.url, KEY, site);
    assert.deepEqual(await poll(sim.url, id), { status: 0, request: 'CAPCHA_NOT_READY' });
    assert.equal((await get(sim.url, 'res.php', { key: KEY, action: 'get', id })).text, 'CAPCHA_NOT_READY');
    await sleep(320);
    assert.deepEqual(await poll(sim.url, id), { status: 1, request: 'tok-late' });
  });

  void test('a realistic token after the scaled solve time', async () => {
    const id = await submitV2(sim.url, KEY, sitekey('timing'));
    const view = sim.task(id);
    const solveMs = Date.parse(view?.readyAt ?? '') - Date.parse(view?.createdAt ?? '');
    assert.ok(solveMs >= 15 && solveMs <= 60, `v2 takes 15–60 s × 0.001, drew ${solveMs} ms`);
    await sleep(65);
    const ready = await poll(sim.url, id);
    assert.equal(ready.status, 1);
    assert.match(String(ready.request), /^03AGdBq2[A-Za-z0-9_-]{390,450}$/);
    assert.equal((await get(sim.url, 'res.php', { key: KEY, action: 'get', id })).text, `OK|${String(ready.request)}`);
  });

  void test('token shapes per type: turnstile 0., hCaptcha P1_', async () => {
    const submit = async (method: string) =>
      String(json(await get(sim.url, 'in.php', { key: KEY, method, sitekey: sitekey(method), pageurl: PAGE, json: '1' })).request);
    const [turnstile, hcaptcha] = await Promise.all([submit('turnstile'), submit('hcaptcha')]);
    assert.match(String((await pollUntilFinal(sim.url, turnstile)).request), /^0\.[A-Za-z0-9_-]+\.[0-9a-f]{64}$/);
    assert.match(String((await pollUntilFinal(sim.url, hcaptcha)).request), /^P1_eyJ/);
  });

  void test('wrong ids, other accounts, missing action', async () => {
    assert.equal((await get(sim.url, 'res.php', { key: KEY, action: 'get', id: '123' })).text, 'ERROR_WRONG_CAPTCHA_ID');
    assert.equal((await get(sim.url, 'res.php', { key: KEY, action: 'get', id: 'abc' })).text, 'ERROR_WRONG_ID_FORMAT');
    assert.equal((await get(sim.url, 'res.php', { key: KEY })).text, 'ERROR_EMPTY_ACTION');
    const id = await submitV2(sim.url, KEY, sitekey('owner'));
    assert.equal((await get(sim.url, 'res.php', { key: OTHER_KEY, action: 'get', id })).text, 'ERROR_WRONG_CAPTCHA_ID');
  });

  void test('ids= polls many tasks in one request', async () => {
    const solved = sitekey('multi-solved');
    const never = sitekey('multi-never');
    const unsolvable = sitekey('multi-unsolvable');
    await setScenarios(sim.url, {
      sitekeys: {
        [solved]: { outcome: { type: 'solve', afterMs: 0, token: 'tok-1' } },
        [never]: { outcome: { type: 'never-ready' } },
        [unsolvable]: { outcome: { type: 'unsolvable', afterMs: 0 } },
      },
    });
    const ids = [await submitV2(sim.url, KEY, solved), await submitV2(sim.url, KEY, never), await submitV2(sim.url, KEY, unsolvable), '999'];
    const answer = json(await get(sim.url, 'res.php', { key: KEY, action: 'get', ids: ids.join(','), json: '1' }));
    assert.deepEqual(answer, { status: 1, request: 'tok-1|CAPCHA_NOT_READY|ERROR_CAPTCHA_UNSOLVABLE|ERROR_WRONG_CAPTCHA_ID' });
  });

  void test('reportgood / reportbad / duplicate / not recorded, and getbalance', async () => {
    const site = sitekey('report');
    sim.setScenarios({ sitekeys: { [site]: { outcome: { type: 'solve', afterMs: 0 } } } });
    const balanceOf = async () => Number(json(await get(sim.url, 'res.php', { key: KEY, action: 'getbalance', json: '1' })).request);
    const before = await balanceOf();
    assert.match((await get(sim.url, 'res.php', { key: KEY, action: 'getbalance' })).text, /^\d+\.\d{4}$/);
    const good = await submitV2(sim.url, KEY, site);
    const bad = await submitV2(sim.url, KEY, site);
    assert.ok((await balanceOf()) < before, 'submits are paid');
    const pending = await submitV2(sim.url, KEY, sitekey('report-pending'));
    await pollUntilFinal(sim.url, good);
    await pollUntilFinal(sim.url, bad);
    const report = async (action: string, id: string) => (await get(sim.url, 'res.php', { key: KEY, action, id })).text;
    assert.equal(await report('reportgood', good), 'OK_REPORT_RECORDED');
    assert.equal(await report('reportgood', good), 'ERROR_DUPLICATE_REPORT');
    const beforeRefund = await balanceOf();
    assert.deepEqual(json(await get(sim.url, 'res.php', { key: KEY, action: 'reportbad', id: bad, json: '1' })), {
      status: 1,
      request: 'OK_REPORT_RECORDED',
    });
    assert.ok((await balanceOf()) > beforeRefund, 'reportbad refunds');
    assert.equal(await report('reportbad', pending), 'ERROR_REPORT_NOT_RECORDED');
  });
});

void describe('scripted outcomes', () => {
  void test('no-slot N times per sitekey, then accepted', async () => {
    const site = sitekey('busy');
    assert.equal((await setScenarios(sim.url, { sitekeys: { [site]: { noSlot: 2 } } })).status, 200);
    const query = { key: KEY, method: 'userrecaptcha', googlekey: site, pageurl: PAGE };
    assert.equal((await get(sim.url, 'in.php', query)).text, 'ERROR_NO_SLOT_AVAILABLE');
    assert.equal((await get(sim.url, 'in.php', query)).text, 'ERROR_NO_SLOT_AVAILABLE');
    assert.match((await get(sim.url, 'in.php', query)).text, /^OK\|\d+$/);
  });

  void test('unsolvable after t, never-ready, any final code, solve after t', async () => {
    const unsolvable = sitekey('unsolvable');
    const never = sitekey('never');
    const duplicates = sitekey('duplicates');
    const slowSolve = sitekey('slow-solve');
    sim.setScenarios({
      sitekeys: {
        [unsolvable]: { outcome: { type: 'unsolvable', afterMs: 300 } },
        [never]: { outcome: { type: 'never-ready' } },
        [duplicates]: { outcome: { type: 'error', code: 'ERROR_BAD_DUPLICATES', afterMs: 0 } },
        [slowSolve]: { outcome: { type: 'solve', afterMs: 600 } },
      },
    });
    const [u, n, d, s] = await Promise.all([unsolvable, never, duplicates, slowSolve].map((site) => submitV2(sim.url, KEY, site)));
    assert.equal((await poll(sim.url, u!)).request, 'CAPCHA_NOT_READY');
    await sleep(320);
    assert.deepEqual(await poll(sim.url, u!), { status: 0, request: 'ERROR_CAPTCHA_UNSOLVABLE', error_text: 'Workers could not solve the captcha.' });
    assert.equal((await poll(sim.url, d!)).request, 'ERROR_BAD_DUPLICATES');
    assert.equal((await poll(sim.url, s!)).request, 'CAPCHA_NOT_READY', 'afterMs is not scaled');
    await sleep(300);
    assert.equal((await poll(sim.url, s!)).status, 1);
    assert.equal((await poll(sim.url, n!)).request, 'CAPCHA_NOT_READY');
    assert.equal(sim.task(n!)?.outcome, 'never-ready');
  });

  void test('a fault on the first N polls of a task, set by task id at runtime', async () => {
    const site = sitekey('flaky-poll');
    sim.setScenarios({ sitekeys: { [site]: { outcome: { type: 'solve', afterMs: 0 } } } });
    const id = await submitV2(sim.url, KEY, site);
    await setScenarios(sim.url, { tasks: { [id]: { poll: [{ type: 'http', status: 503, times: 2 }] } } });
    const first = await get(sim.url, 'res.php', { key: KEY, action: 'get', id, json: '1' });
    const second = await get(sim.url, 'res.php', { key: KEY, action: 'get', id, json: '1' });
    assert.deepEqual([first.status, second.status], [503, 503]);
    assert.match(first.text, /<html>/);
    assert.equal((await poll(sim.url, id)).status, 1);
  });

  void test('a task-id outcome set at runtime replaces the drawn one', async () => {
    const id = await submitV2(sim.url, KEY, sitekey('override'));
    sim.setScenarios({ tasks: { [id]: { outcome: { type: 'never-ready' } } } });
    await sleep(70);
    assert.equal((await poll(sim.url, id)).request, 'CAPCHA_NOT_READY');
    sim.setScenarios({ tasks: { [id]: { outcome: { type: 'solve', afterMs: 0, token: 'scripted' } } } });
    assert.deepEqual(await poll(sim.url, id), { status: 1, request: 'scripted' });
  });

  void test('page scenarios match the pageurl when the sitekey has none', async () => {
    const page = `https://shop.example/checkout/${++unique}`;
    const site = sitekey('page-and-site');
    sim.setScenarios({ pages: { [page]: { outcome: { type: 'never-ready' } } }, sitekeys: { [site]: { outcome: { type: 'solve', afterMs: 0 } } } });
    const byPage = await submitV2(sim.url, KEY, sitekey('page-only'), { pageurl: page });
    const bySite = await submitV2(sim.url, KEY, site, { pageurl: page });
    assert.equal(sim.task(byPage)?.scenario, `page:${page}`);
    assert.equal(sim.task(bySite)?.scenario, site, 'the sitekey wins');
  });

  void test('image tasks match image:<tag> scenarios by their first bytes', async () => {
    sim.setScenarios({ sitekeys: { 'image:BROKEN': { outcome: { type: 'unsolvable', afterMs: 0 } } } });
    const broken = json(await get(sim.url, 'in.php', { key: KEY, method: 'base64', body: image('BROKEN-1').toString('base64'), json: '1' }));
    const fine = json(await get(sim.url, 'in.php', { key: KEY, method: 'base64', body: image('FINE').toString('base64'), json: '1' }));
    assert.equal(sim.task(String(broken.request))?.scenario, 'image:BROKEN');
    assert.equal(sim.task(String(fine.request))?.scenario, undefined);
    assert.equal((await poll(sim.url, String(broken.request))).request, 'ERROR_CAPTCHA_UNSOLVABLE');
  });

  void test('account and permanent codes, transport faults: html, bad json, reset, slow', async () => {
    const site = sitekey('faults');
    sim.setScenarios({
      sitekeys: {
        [site]: {
          submit: [
            { type: 'error', code: 'IP_BANNED', times: 1 },
            { type: 'error', code: 'ERROR_PAGEURL', times: 1 },
            { type: 'html', times: 1 },
            { type: 'bad-json', times: 1 },
            { type: 'reset', times: 1 },
            { type: 'slow', delayMs: 120, times: 1 },
          ],
        },
      },
    });
    const form = () => new URLSearchParams({ key: KEY, method: 'userrecaptcha', googlekey: site, pageurl: PAGE, json: '1' });
    assert.equal(json(await post(sim.url, 'in.php', form())).request, 'IP_BANNED');
    assert.equal(json(await post(sim.url, 'in.php', form())).request, 'ERROR_PAGEURL');
    const html = await post(sim.url, 'in.php', form());
    assert.equal(html.status, 200);
    assert.match(html.text, /^<!DOCTYPE html>/);
    const badJson = await post(sim.url, 'in.php', form());
    assert.throws(() => JSON.parse(badJson.text), SyntaxError);
    await assert.rejects(post(sim.url, 'in.php', form()), (error: Error) => error.message === 'fetch failed');
    const started = Date.now();
    assert.equal(json(await post(sim.url, 'in.php', form())).status, 1);
    assert.ok(Date.now() - started >= 110, 'the slow answer came late');
    assert.equal(json(await post(sim.url, 'in.php', form())).status, 1, 'every rule used up');
  });

  void test('`all` rules hit every request of an endpoint; bad scripts are refused with 400', async () => {
    await setScenarios(sim.url, { all: [{ type: 'http', status: 502, times: 1, endpoint: 'res.php' }] });
    assert.equal((await get(sim.url, 'res.php', { key: KEY, action: 'getbalance' })).status, 502);
    assert.equal((await get(sim.url, 'res.php', { key: KEY, action: 'getbalance' })).status, 200);
    const refused = await setScenarios(sim.url, { sitekeys: { x: { outcome: { type: 'explode' } } } });
    assert.equal(refused.status, 400);
    assert.throws(() => sim.setScenarios({ all: [{ type: 'slow' } as never] }));
  });
});

void describe('admin stats and concurrency gauges', () => {
  void test('counters per endpoint and outcome, paid submits, active tasks and in-flight requests with peaks', async () => {
    assert.equal((await post(sim.url, 'admin/reset', '')).status, 200);
    const site = sitekey('gauge');
    sim.setScenarios({ sitekeys: { [site]: { outcome: { type: 'solve', afterMs: 0 }, submit: [{ type: 'slow', delayMs: 150 }] } } });
    const ids = await Promise.all(Array.from({ length: 5 }, () => submitV2(sim.url, KEY, site)));
    await get(sim.url, 'in.php', { key: KEY, method: 'nope' });
    let stats = await adminStats(sim.url);
    assert.equal(stats.requests['in.php'], 6);
    assert.equal(stats.paidSubmits, 5);
    assert.equal(stats.outcomes['in.php'].OK, 5);
    assert.equal(stats.outcomes['in.php'].ERROR_NO_SUCH_METHOD, 1);
    assert.equal(stats.faults.slow, 5);
    assert.ok(stats.activeTasks >= 5);
    assert.ok(stats.peakActiveTasks >= 5);
    assert.equal(stats.peakInflightRequests, 5, 'the five slow submits were in flight together');
    assert.equal(stats.inflightRequests, 0);
    const activeBefore = stats.activeTasks;
    for (const id of ids) assert.equal((await poll(sim.url, id)).status, 1);
    await get(sim.url, 'res.php', { key: KEY, action: 'get', ids: ids.join(',') });
    stats = await adminStats(sim.url);
    assert.equal(stats.activeTasks, activeBefore - 5, 'delivered tasks leave the gauge');
    assert.equal(stats.resActions.get, 5);
    assert.equal(stats.resActions['get-multi'], 1);
    assert.equal(stats.outcomes['res.php'].READY, 5);
    assert.equal(stats.solved, 5);
    assert.deepEqual(stats, sim.stats(), 'the programmatic stats are the admin JSON');
    const task = JSON.parse((await get(sim.url, `admin/tasks/${ids[0]}`, {})).text) as { polls: number; params: Record<string, string> };
    assert.equal(task.polls, 2);
    assert.equal(task.params.key, undefined, 'the key is not shown');
    assert.equal((await get(sim.url, 'admin/tasks/1', {})).status, 404);
    sim.resetStats();
    stats = sim.stats();
    assert.equal(stats.requests['in.php'], 0);
    assert.equal(stats.peakActiveTasks, stats.activeTasks);
  });

  void test('more than 60 submits in 3 s → MAX_USER_TURN and a ban event; other keys unaffected', async () => {
    const burstKey = 'BURSTKEY0123456789abcdef01234567';
    sim.resetStats();
    const query = { key: burstKey, method: 'userrecaptcha', googlekey: sitekey('burst'), pageurl: PAGE };
    const answers = [];
    for (let i = 0; i < 62; i++) answers.push((await get(sim.url, 'in.php', query)).text);
    assert.equal(answers.filter((text) => text.startsWith('OK|')).length, 60);
    assert.deepEqual(answers.slice(60), ['MAX_USER_TURN', 'MAX_USER_TURN']);
    const stats = sim.stats();
    assert.equal(stats.bans.MAX_USER_TURN, 1, 'one ban, however many refusals');
    assert.equal(stats.outcomes['in.php'].MAX_USER_TURN, 2);
    assert.match((await get(sim.url, 'in.php', { ...query, key: KEY })).text, /^OK\|/);
    sim.resetStats(); // lifts the ban
    assert.match((await get(sim.url, 'in.php', query)).text, /^OK\|/);
  });

  void test('res.php beyond perCaptcha × captchas + base → ERROR: 1005, counted as a ban', async () => {
    const limited = await startSimulator({ timeScale: 0.001, rateLimits: { pollBudget: { perCaptcha: 2, base: 1 } } });
    try {
      const id = await submitV2(limited.url, KEY, 'limited');
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push((await get(limited.url, 'res.php', { key: KEY, action: 'get', id })).text);
      assert.deepEqual(answers.slice(3), ['ERROR: 1005', 'ERROR: 1005']);
      assert.equal(limited.stats().bans['ERROR: 1005'], 1);
      assert.equal(limited.stats().bans.total, 1);
    } finally {
      await limited.close();
    }
  });

  void test('expired ids leave the gauge and answer ERROR_WRONG_CAPTCHA_ID', async () => {
    const short = await startSimulator({ timeScale: 1, taskTtlMs: 40 });
    try {
      const id = await submitV2(short.url, KEY, 'expiring');
      assert.equal(short.stats().activeTasks, 1);
      await sleep(60);
      assert.equal((await poll(short.url, id)).request, 'ERROR_WRONG_CAPTCHA_ID');
      assert.equal(short.stats().activeTasks, 0);
    } finally {
      await short.close();
    }
  });
});

void describe('seeded randomness', () => {
  async function run(seed: number, chaos?: number): Promise<string[]> {
    const simulator = await startSimulator({
      seed,
      timeScale: 0.001,
      unsolvableRate: 0.3,
      scenarios: chaos === undefined ? {} : { chaos: { probability: chaos, faults: ['http', 'html', 'bad-json'] } },
    });
    try {
      const seen: string[] = [];
      for (const method of ['userrecaptcha', 'turnstile', 'hcaptcha', 'userrecaptcha', 'turnstile', 'userrecaptcha']) {
        const answer = await get(simulator.url, 'in.php', { key: KEY, method, googlekey: 'k', sitekey: 'k', pageurl: PAGE, json: '1' });
        if (!readable(answer) || json(answer).status !== 1) {
          seen.push(`fault ${answer.status} ${answer.text.slice(0, 20)}`);
          continue;
        }
        const id = String(json(answer).request);
        await sleep(65);
        const result = await get(simulator.url, 'res.php', { key: KEY, action: 'get', id, json: '1' });
        seen.push(readable(result) ? String(json(result).request) : `fault ${result.status} ${result.text.slice(0, 20)}`);
      }
      return seen;
    } finally {
      await simulator.close();
    }
  }

  void test('same seed → same tokens and outcomes; another seed → others', async () => {
    const [a, b, c] = await Promise.all([run(7), run(7), run(8)]);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.ok(a.some((answer) => answer.startsWith('03AGdBq2')));
  });

  void test('chaos with a seed injects the same faults in the same places', async () => {
    const [a, b] = await Promise.all([run(11, 0.5), run(11, 0.5)]);
    assert.deepEqual(a, b);
    assert.ok(a.some((answer) => answer.startsWith('fault')), 'p = 0.5 hit at least once');
  });
});

void describe('CLI', () => {
  void test('prints one line with its URL, serves, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/simulator/main.ts', '--port', '0', '--time-scale', '0.01', '--seed', '3'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    for (let i = 0; i < 200 && !stdout.includes('\n'); i++) await sleep(25);
    const url = /^simulator listening on (http:\/\/127\.0\.0\.1:\d+)\n$/.exec(stdout)?.[1];
    assert.ok(url, `unexpected output: ${JSON.stringify(stdout)}`);
    assert.match((await get(url, 'in.php', { key: KEY, method: 'userrecaptcha', googlekey: 'k', pageurl: PAGE })).text, /^OK\|/);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    assert.equal(stdout.trim().split('\n').length, 1, 'exactly one line');
  });
});
