// Conformance (issue 14): the vendors' own npm clients — code we did not write — pointed at the simulator, each in its
// own dialect and at its own polling pace. Each solves a reCAPTCHA v2 and an image captcha, reads the balance and
// reports a token good and one bad where the client can. A failure here is a wire-level deviation of the simulator.
// CaptchaAI and CapSolver publish their official SDKs on PyPI only: a Python script drives each (pinned, installed
// into .data/).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Solver as TwoCaptchaSolver } from '@2captcha/captcha-solver';
import * as capmonster from '@zennolab_com/capmonstercloud-client';
import { Solver as LegacyTwoCaptchaSolver } from '2captcha';
import type { AxiosStatic } from 'axios';
import { startSimulator, type Simulator } from '../src/simulator/server';
import { CAPSOLVER_SDK, CAPTCHAAI_SDK, pythonPackages, run } from './helpers/python';
import type { AntiCaptcha } from './helpers/vendors';

/* eslint-disable @typescript-eslint/no-require-imports -- a vendor module without types, and one of a package's internals */

const KEY = 'CONFORMANCE0123456789abcdef01234';
const PAGE = 'https://example.com/conformance';
const SITEKEY = '6Le-conformance-SITEKEY';
/** a 150-byte "image": the simulator answers any image of 100 bytes to 100 kB */
const IMAGE = Buffer.concat([Buffer.from('\x89PNG', 'latin1'), Buffer.alloc(146, 9)]).toString('base64');
/** solve times scaled down so each client's first poll already finds the answer */
const TIME_SCALE = 0.001;

const started: Simulator[] = [];
after(async () => {
  await Promise.all(started.map((s) => s.close()));
});
async function simulator(options: Parameters<typeof startSimulator>[0]): Promise<Simulator> {
  const sim = await startSimulator({ apiKey: KEY, timeScale: TIME_SCALE, rateLimits: { pollBudget: false }, ...options });
  started.push(sim);
  return sim;
}

/** Asserts the simulator recorded the report and refunded a bad one. */
function assertReports(sim: Simulator, good: string, bad: string, balanceBefore: number, balanceAfter: number): void {
  assert.equal(sim.task(good)?.report, 'good');
  assert.equal(sim.task(bad)?.report, 'bad');
  assert.deepEqual(sim.stats().reports, { good: 1, bad: 1 });
  assert.ok(balanceAfter > balanceBefore, `a bad report refunds: ${balanceBefore} → ${balanceAfter}`);
}

void describe('@2captcha/captcha-solver (2captcha in.php / res.php)', () => {
  let sim: Simulator;
  before(async () => {
    sim = await simulator({ provider: '2captcha' });
    // The client has no host option: its endpoints are the `supportedProviders` constants, read on every request
    // through the Solver's `in` / `res` getters; pointing those two constants at the simulator changes nothing else.
    const constants = require('@2captcha/captcha-solver/dist/structs/constants/constants') as { supportedProviders: { twoCaptcha: { in: string; res: string } } };
    constants.supportedProviders.twoCaptcha.in = `${sim.url}/in.php`;
    constants.supportedProviders.twoCaptcha.res = `${sim.url}/res.php`;
  });

  test('reCAPTCHA v2, image, balance, reports good and bad', async () => {
    const solver = new TwoCaptchaSolver(KEY); // default polling pace (5 s)
    const balance = await solver.balance();
    assert.equal(balance, 1000);
    const [recaptcha, image] = await Promise.all([solver.recaptcha({ googlekey: SITEKEY, pageurl: PAGE }), solver.imageCaptcha({ body: IMAGE })]);
    assert.match(recaptcha.data, /^03AGdBq2/);
    assert.match(image.data, /^[a-z0-9]{4,6}$/);
    const afterSolves = await solver.balance();
    await solver.goodReport(recaptcha.id);
    await solver.badReport(image.id);
    assertReports(sim, recaptcha.id, image.id, afterSolves, await solver.balance());
  });
});

void describe('2captcha (legacy npm client, in.php / res.php)', () => {
  let sim: Simulator;
  before(async () => {
    sim = await simulator({ provider: '2captcha' });
  });

  test('reCAPTCHA v2, image, balance, reports good and bad', async () => {
    const solver = new LegacyTwoCaptchaSolver(KEY); // default polling pace (5 s)
    // The client's endpoints are hard-coded getters (`in`, `res`) on Solver.prototype: this instance shadows just those.
    Object.defineProperty(solver, 'in', { get: () => `${sim.url}/in.php` });
    Object.defineProperty(solver, 'res', { get: () => `${sim.url}/res.php` });
    assert.equal(await solver.balance(), 1000);
    const [recaptcha, image] = await Promise.all([solver.recaptcha(SITEKEY, PAGE), solver.imageCaptcha(IMAGE)]);
    assert.match(recaptcha.data, /^03AGdBq2/);
    assert.match(image.data, /^[a-z0-9]{4,6}$/);
    const afterSolves = await solver.balance();
    await solver.goodReport(recaptcha.id);
    await solver.report(image.id);
    assertReports(sim, recaptcha.id, image.id, afterSolves, await solver.balance());
  });
});

void describe('@antiadmin/anticaptchaofficial (anti-captcha JSON)', () => {
  let sim: Simulator;
  let eject: (() => void) | undefined;
  before(async () => {
    sim = await simulator({ dialect: 'anticaptcha' });
    // The client posts to the hard-coded https://api.anti-captcha.com/ through the shared axios module: a request
    // interceptor on that module rewrites only the origin, leaving method, path, headers and body as the client made them.
    const axios = createRequire(require.resolve('@antiadmin/anticaptchaofficial'))('axios') as AxiosStatic; // the client's own axios
    const id = axios.interceptors.request.use((config) => {
      if (config.url?.startsWith('https://api.anti-captcha.com/')) config.url = `${sim.url}/${config.url.slice('https://api.anti-captcha.com/'.length)}`;
      return config;
    });
    eject = () => axios.interceptors.request.eject(id);
  });
  after(() => eject?.());

  test('reCAPTCHA v2, image, balance, reports good and bad', async () => {
    const ac = require('@antiadmin/anticaptchaofficial') as AntiCaptcha;
    ac.setAPIKey(KEY);
    ac.shutUp();
    assert.equal(await ac.getBalance(), 1000);
    // the client keeps one session (its last task id), so its solves and reports go one after the other
    const token = await ac.solveRecaptchaV2Proxyless(PAGE, SITEKEY);
    assert.match(token, /^03AGdBq2/);
    const recaptchaId = String(ac.session.taskId);
    await ac.reportCorrectRecaptcha();
    const text = await ac.solveImage(IMAGE);
    assert.match(text, /^[a-z0-9]{4,6}$/);
    const imageId = String(ac.session.taskId);
    const afterSolves = await ac.getBalance();
    await ac.reportIncorrectImageCaptcha();
    assertReports(sim, recaptchaId, imageId, afterSolves, await ac.getBalance());
  });
});

void describe('@zennolab_com/capmonstercloud-client (CapMonster JSON)', () => {
  test('reCAPTCHA v2 (sent as NoCaptchaTask), image at 200 ms polls, balance', async () => {
    const sim = await simulator({ dialect: 'capmonster' });
    const cm = capmonster;
    // the client takes its host as an option
    const client = cm.CapMonsterCloudClientFactory.Create(new cm.ClientOptions({ clientKey: KEY, serviceUrl: sim.url }));
    assert.equal((await client.getBalance()).balance, 1000);
    const [recaptcha, image] = await Promise.all([
      client.Solve(new cm.RecaptchaV2Request({ websiteURL: PAGE, websiteKey: SITEKEY })),
      client.Solve(new cm.ImageToTextRequest({ body: IMAGE })),
    ]);
    assert.equal(recaptcha.error, undefined, `reCAPTCHA: ${String(recaptcha.error)}`);
    assert.match(String(recaptcha.solution?.gRecaptchaResponse), /^03AGdBq2/);
    assert.equal(image.error, undefined, `image: ${String(image.error)}`);
    assert.match(String(image.solution?.text), /^[a-z0-9]{4,6}$/);
    const stats = sim.stats();
    assert.equal(stats.outcomes['res.php']?.ERROR_TOO_MUCH_REQUESTS ?? 0, 0, 'the client’s own pace is within the rules');
    // the client has no report method; CapMonster's reports go through our own client (test/providers-json.test.ts)
  });
});

void describe('captchaai (CaptchaAI official Python SDK, in.php / res.php)', () => {
  test('constructs (threadsinfo), reads the thread plan, solves a reCAPTCHA v2 and an image at its own pace', async () => {
    const sim = await simulator({ provider: 'captchaai' });
    const packages = await pythonPackages(CAPTCHAAI_SDK);
    // the SDK takes its host as an option (base_url)
    const { stdout } = await run('python3', [join(__dirname, 'conformance', 'captchaai_sdk.py'), sim.url, KEY, SITEKEY, PAGE, IMAGE], {
      env: { ...process.env, PYTHONPATH: packages },
      timeout: 5 * 60_000,
    });
    const result = JSON.parse(stdout) as { threads: { threads: number; working_threads: number }; recaptcha: { token: string; id: string }; image: { text: string; id: string } };
    assert.deepEqual(result.threads, { threads: 10, working_threads: 0 });
    assert.match(result.recaptcha.token, /^03AGdBq2/);
    assert.equal(sim.task(result.recaptcha.id)?.type, 'recaptcha-v2');
    assert.match(result.image.text, /^[a-z0-9]{4,6}$/);
    assert.equal(sim.task(result.image.id)?.type, 'image');
    assert.ok((sim.stats().resActions.threadsinfo ?? 0) >= 2, 'the SDK asked for the thread plan');
    // the SDK has no balance or report calls (CaptchaAI plans are thread-based)
  });
});

void describe('capsolver (CapSolver official Python SDK, JSON)', () => {
  test('balance, a reCAPTCHA v2 polled at its own 1-s pace, an image answered by createTask', async () => {
    const sim = await simulator({ dialect: 'capsolver' });
    const packages = await pythonPackages(CAPSOLVER_SDK);
    const { stdout } = await run('python3', [join(__dirname, 'conformance', 'capsolver_sdk.py'), sim.url, KEY, SITEKEY, PAGE, IMAGE], {
      env: { ...process.env, PYTHONPATH: packages },
      timeout: 5 * 60_000,
    });
    const result = JSON.parse(stdout) as { balance: { errorId: number; balance: number }; recaptcha: { gRecaptchaResponse: string }; image: { text: string } };
    assert.deepEqual(result.balance, { errorId: 0, balance: 1000 });
    assert.match(result.recaptcha.gRecaptchaResponse, /^03AGdBq2/);
    assert.match(result.image.text, /^[a-z0-9]{4,6}$/);
    assert.equal(sim.stats().json.createTask, 2);
    // the image (the second task) was answered by createTask: its one read is the simulator's own, none from the SDK
    const imageTask = sim.task('73000000002');
    assert.equal(imageTask?.type, 'image');
    assert.equal(imageTask.polls, 1);
    // the SDK has no report (feedbackTask) call
  });
});
