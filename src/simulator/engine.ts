// The simulated provider's behaviour, independent of HTTP: validation, tasks and their outcomes, scripted rules,
// rate limits, balance and counters. The server turns a request into a ProviderRequest and the Reply into bytes.
import { createHash } from 'node:crypto';
import { LEGACY_CAPABILITIES } from '../providers/capabilities';
import { DEFAULT_PRICES, submitCostMicros, type PriceTable } from '../domain/prices';
import { ERROR_TEXT, parseSubmission, type Submission, type Upload } from '../providers/legacy-wire';
import { mixSeed, mulberry32, type Rng } from './random';
import { RateLimiter, type RateLimitOptions } from './rate-limits';
import {
  ScenarioBook,
  armRules,
  drawSolveMs,
  resolveOutcome,
  takeRule,
  type ArmedRule,
  type Endpoint,
  type FaultRule,
  type ResolvedOutcome,
  type Rule,
  type ScenarioSpec,
  type TaskDraws,
  type TaskScenario,
} from './scenarios';
import { SimulatorCounters } from './stats';
import { tokenFor, type SimCaptchaType } from './tokens';

export type SimulatedProvider = 'captchaai' | '2captcha';

export interface EngineOptions {
  /** seed of every random draw (default 1) */
  seed?: number;
  /** multiplies the usual solve times (default 1; 0.001 makes a 30 s solve take 30 ms) */
  timeScale?: number;
  /** share of tasks that end ERROR_CAPTCHA_UNSOLVABLE without a script (default 0) */
  unsolvableRate?: number;
  /** whose quirks to imitate (default '2captcha'): captchaai answers hCaptcha with ERROR_SERVER_ERROR (capability table) */
  provider?: SimulatedProvider;
  /** CaptchaAI style: `request` is a JSON number for userrecaptcha submits (default: provider === 'captchaai') */
  numericIds?: boolean;
  /** accepted keys; any other 32-character key gets ERROR_KEY_DOES_NOT_EXIST (default: every 32-character key) */
  apiKey?: string | readonly string[];
  /** starting balance (default 1000) */
  balance?: number;
  /** charged per accepted submit, refunded by reportbad (default 0.00299) */
  pricePerSubmit?: number;
  /** the ledger's price table (src/domain/prices.ts), micro-USD per submit; default the public price lists */
  prices?: PriceTable;
  /** whose row of `prices` the ledger charges (default `provider`) */
  pricedAs?: string;
  /** per-account rate rules, on by default */
  rateLimits?: RateLimitOptions;
  /** task ids expire this long after the submit, in real ms (default 900 000) */
  taskTtlMs?: number;
  /** scripts in force from the start */
  scenarios?: ScenarioSpec;
  /** CaptchaAI: threads in the account's plan, answered by `res.php?action=threadsinfo` (default 10) */
  threads?: number;
}

export type { Upload };

export interface ProviderRequest {
  endpoint: Endpoint;
  params: ReadonlyMap<string, string>;
  files: ReadonlyMap<string, Upload>;
}

/** A protocol answer (rendered as JSON with json=1, else as `plain`) or a transport fault to inject. */
export type Reply =
  | {
      kind: 'answer';
      ok: boolean;
      request: string | number;
      plain: string;
      errorText?: string;
      label: string;
      /** an error text a scenario rule set (JSON dialects answer it as is; otherwise each uses its own texts) */
      scriptedText?: string;
      /** top-level fields of the json=1 answer besides status and request (CaptchaAI's threadsinfo) */
      fields?: Record<string, number>;
      /** `request` of the json=1 answer when it is not a scalar (get_pingback's list) */
      jsonRequest?: string[];
    }
  | { kind: 'fault'; rule: FaultRule };

export interface Handled {
  reply: Reply;
  /** extra delay before answering (slow rules) */
  delayMs: number;
}

/** What GET /admin/tasks/:id shows. The API key is never part of it. */
export interface TaskView {
  id: string;
  type: SimCaptchaType;
  /** the scenario key that matched at submit, if any */
  scenario?: string;
  /** submit parameters without `key` (long values shortened) */
  params: Record<string, string>;
  createdAt: string;
  outcome: 'token' | 'error' | 'never-ready';
  code?: string;
  readyAt?: string;
  polls: number;
  deliveredAt?: string;
  report?: 'good' | 'bad';
}

interface SimTask {
  id: string;
  /** the key that submitted it: other keys get ERROR_WRONG_CAPTCHA_ID */
  account: string;
  type: SimCaptchaType;
  scenarioKey?: string;
  params: Record<string, string>;
  createdAt: number;
  draws: TaskDraws;
  outcome: ResolvedOutcome;
  pollRules: ArmedRule[];
  polls: number;
  active: boolean;
  deliveredAt?: number;
  report?: 'good' | 'bad';
}

/** ids look like the real ones (11 digits) */
const FIRST_ID = 73_000_000_000;

/**
 * What the ledger calls one task: its type, sitekey and page URL, or the image's digest. Two paid submits of the same
 * task are a double payment (or a deliberate resubmit after an unsolvable answer).
 */
function ledgerKey(submission: Exclude<Submission, { code: string }>, params: ReadonlyMap<string, string>): string {
  const image = submission.image ? createHash('sha256').update(submission.image).digest('hex').slice(0, 16) : '';
  return [submission.type, submission.sitekey ?? '', params.get('pageurl') ?? '', image].join(' ');
}


export class SimulatorEngine {
  readonly counters = new SimulatorCounters();
  private readonly book = new ScenarioBook();
  private readonly limiter: RateLimiter;
  private readonly tasks = new Map<string, SimTask>();
  /** scripts for task ids not submitted yet */
  private readonly pendingTaskScripts = new Map<string, TaskScenario>();
  private readonly chaosRng: Rng;
  private readonly seed: number;
  private readonly timeScale: number;
  private readonly unsolvableRate: number;
  private readonly provider: SimulatedProvider;
  private readonly numericIds: boolean;
  private readonly apiKeys: ReadonlySet<string> | undefined;
  private readonly price: number;
  private readonly prices: PriceTable;
  private readonly pricedAs: string;
  private readonly taskTtlMs: number;
  private readonly threads: number;
  private balance: number;
  private sequence = 0;
  /** registered pingback addresses per account (`add_pingback`), in the order added */
  private readonly pingbacks = new Map<string, string[]>();

  constructor(options: EngineOptions = {}) {
    this.seed = Math.trunc(options.seed ?? 1);
    this.timeScale = options.timeScale ?? 1;
    this.unsolvableRate = options.unsolvableRate ?? 0;
    this.provider = options.provider ?? '2captcha';
    this.numericIds = options.numericIds ?? this.provider === 'captchaai';
    this.apiKeys = options.apiKey === undefined ? undefined : new Set(typeof options.apiKey === 'string' ? [options.apiKey] : options.apiKey);
    this.balance = options.balance ?? 1000;
    this.price = options.pricePerSubmit ?? 0.00299;
    this.prices = options.prices ?? DEFAULT_PRICES;
    this.pricedAs = options.pricedAs ?? this.provider;
    this.taskTtlMs = options.taskTtlMs ?? 900_000;
    this.threads = options.threads ?? 10;
    this.chaosRng = mulberry32(mixSeed(this.seed, 0xc4a05));
    this.limiter = new RateLimiter(options.rateLimits, (code) => this.counters.ban(code));
    if (options.scenarios) this.setScenarios(options.scenarios);
  }

  handle(request: ProviderRequest, now = Date.now()): Handled {
    this.expire(now);
    const action = request.endpoint === 'res.php' ? resAction(request.params) : undefined;
    this.counters.request(request.endpoint, action);
    const pending = { delayMs: 0 };
    const reply =
      this.applyRule(this.book.scheduled(request.endpoint, now, (balance) => (this.balance = balance)), pending) ??
      this.applyRule(this.book.takeGlobalRule(request.endpoint), pending) ??
      this.applyRule(this.book.drawChaos(request.endpoint, this.chaosRng), pending) ??
      (request.endpoint === 'in.php' ? this.submit(request, now, pending) : this.result(request.params, action, now, pending));
    this.counters.outcome(request.endpoint, reply.kind === 'answer' ? reply.label : faultLabel(reply.rule));
    return { reply, delayMs: pending.delayMs };
  }

  /** Applies a script (see ScenarioSpec); throws a ZodError when it is malformed. */
  setScenarios(spec: ScenarioSpec): void {
    const taskScripts = this.book.apply(spec);
    if (spec.replace) this.pendingTaskScripts.clear();
    for (const [id, script] of Object.entries(taskScripts ?? {})) {
      const task = this.tasks.get(id);
      if (!task) {
        this.pendingTaskScripts.set(id, script);
        continue;
      }
      if (script.outcome) task.outcome = resolveOutcome(script.outcome, task.createdAt, task.draws);
      if (script.poll) task.pollRules = armRules(script.poll);
    }
  }

  /** Zeroes counters and peaks, forgets rate windows and lifts bans. Tasks and scripts stay. */
  reset(): void {
    this.counters.reset();
    this.limiter.reset();
  }

  task(id: string): TaskView | undefined {
    const task = this.tasks.get(id);
    if (!task) return undefined;
    const outcome = task.outcome;
    return {
      id: task.id,
      type: task.type,
      ...(task.scenarioKey !== undefined && { scenario: task.scenarioKey }),
      params: task.params,
      createdAt: new Date(task.createdAt).toISOString(),
      outcome: outcome.kind === 'never' ? 'never-ready' : outcome.kind,
      ...(outcome.kind === 'error' && { code: outcome.code }),
      ...(outcome.kind !== 'never' && { readyAt: new Date(outcome.readyAt).toISOString() }),
      polls: task.polls,
      ...(task.deliveredAt !== undefined && { deliveredAt: new Date(task.deliveredAt).toISOString() }),
      ...(task.report && { report: task.report }),
    };
  }

  /** The exact time (ms, fractional) a task's outcome is due; undefined for a task never ready or unknown. */
  readyAtMs(id: string): number | undefined {
    const outcome = this.tasks.get(id)?.outcome;
    return outcome && outcome.kind !== 'never' ? outcome.readyAt : undefined;
  }

  // ---- in.php --------------------------------------------------------------------------------------------------

  private submit(request: ProviderRequest, now: number, pending: { delayMs: number }): Reply {
    const params = request.params;
    const key = params.get('key');
    const keyError = this.checkKey(key);
    if (keyError || key === undefined) return this.error(keyError ?? 'ERROR_WRONG_USER_KEY');
    const ban = this.limiter.submit(key, now);
    if (ban) return this.error(ban);

    const submission = parseSubmission(params, request.files, this.provider);
    if ('code' in submission) return this.error(submission.code);
    const scenarioKey = this.book.match(submission.sitekey, params.get('pageurl'), submission.image);
    const scripted = this.applyRule(this.book.takeSubmitRule(scenarioKey), pending);
    if (scripted) return scripted;
    if (this.balance < this.price) return this.error('ERROR_ZERO_BALANCE');

    const task = this.createTask(key, submission, scenarioKey, params, now);
    this.balance = roundMoney(this.balance - this.price);
    this.counters.paidSubmit(ledgerKey(submission, params), submission.type, submitCostMicros(this.prices, this.pricedAs, submission.type));
    this.limiter.captchaAccepted(key, now);
    const numeric = this.numericIds && params.get('method') === 'userrecaptcha';
    return ok(numeric ? Number(task.id) : task.id, `OK|${task.id}`, 'OK');
  }

  private createTask(
    account: string,
    submission: Exclude<Submission, { code: string }>,
    scenarioKey: string | undefined,
    params: ReadonlyMap<string, string>,
    now: number,
  ): SimTask {
    const ordinal = ++this.sequence;
    const id = String(FIRST_ID + ordinal);
    // fixed draw order from the task's own stream: same seed and ordinal, same task
    const rng = mulberry32(mixSeed(this.seed, ordinal));
    const solveMs = drawSolveMs(submission.type, rng, this.timeScale);
    const unsolvable = rng() < this.unsolvableRate;
    const draws: TaskDraws = { solveMs, unsolvable, token: tokenFor(submission.type, rng, submission.imageText) };
    const script = this.pendingTaskScripts.get(id);
    this.pendingTaskScripts.delete(id);
    const scenario = this.book.scenario(scenarioKey);
    const task: SimTask = {
      id,
      account,
      type: submission.type,
      ...(scenarioKey !== undefined && { scenarioKey }),
      params: visibleParams(params),
      createdAt: now,
      draws,
      outcome: resolveOutcome(script?.outcome ?? scenario?.outcome, now, draws),
      pollRules: armRules(script?.poll ?? scenario?.poll),
      polls: 0,
      active: true,
    };
    this.tasks.set(id, task);
    this.counters.taskActivated();
    return task;
  }

  // ---- res.php -------------------------------------------------------------------------------------------------

  private result(params: ReadonlyMap<string, string>, action: string | undefined, now: number, pending: { delayMs: number }): Reply {
    const key = params.get('key');
    const keyError = this.checkKey(key);
    if (keyError || key === undefined) return this.error(keyError ?? 'ERROR_WRONG_USER_KEY');
    const ban = this.limiter.poll(key, now);
    if (ban) return this.error(ban);
    switch (action) {
      case 'get':
        return this.getOne(params.get('id'), key, now, pending);
      case 'get-multi':
        return this.getMany(params.get('ids') ?? '', key, now, pending);
      case 'getbalance': {
        const balance = this.balance.toFixed(4);
        return ok(balance, balance, 'BALANCE');
      }
      case 'reportgood':
      case 'reportbad':
        return this.report(params.get('id'), key, action === 'reportgood' ? 'good' : 'bad');
      case 'threadsinfo':
        return LEGACY_CAPABILITIES[this.provider].extraActions.includes('threadsinfo') ? this.threadsInfo(key, now) : this.error('ERROR_EMPTY_ACTION');
      case 'add_pingback':
      case 'get_pingback':
      case 'del_pingback':
        return this.pingback(action, key, params.get('addr'));
      default:
        return this.error('ERROR_EMPTY_ACTION');
    }
  }

  private getOne(id: string | undefined, key: string, now: number, pending: { delayMs: number }): Reply {
    if (!id || !/^\d+$/.test(id)) return this.error('ERROR_WRONG_ID_FORMAT');
    const task = this.ownedTask(id, key);
    if (!task) return this.error('ERROR_WRONG_CAPTCHA_ID');
    task.polls++;
    const scripted = this.applyRule(takeRule(task.pollRules), pending);
    if (scripted) return scripted;
    const answer = this.settle(task, now);
    if (answer === 'CAPCHA_NOT_READY') return notReady();
    return answer.token !== undefined ? ok(answer.token, `OK|${answer.token}`, 'READY') : this.error(answer.code);
  }

  /**
   * `ids=1,2,3` → `tok1|CAPCHA_NOT_READY|ERROR_…`: one answer per id, in order. The script's `multiPoll` rules come
   * first; per-task poll rules do not apply.
   */
  private getMany(ids: string, key: string, now: number, pending: { delayMs: number }): Reply {
    const scripted = this.applyRule(this.book.takeMultiPollRule(), pending);
    if (scripted) return scripted;
    const list = ids.split(',').map((id) => id.trim()).filter(Boolean);
    if (list.length === 0) return this.error('ERROR_WRONG_ID_FORMAT');
    const answers = list.map((id) => {
      const task = /^\d+$/.test(id) ? this.ownedTask(id, key) : undefined;
      if (!task) return 'ERROR_WRONG_CAPTCHA_ID';
      task.polls++;
      const answer = this.settle(task, now);
      return answer === 'CAPCHA_NOT_READY' ? answer : (answer.token ?? answer.code);
    });
    const joined = answers.join('|');
    return ok(joined, joined, 'MULTI');
  }

  private report(id: string | undefined, key: string, verdict: 'good' | 'bad'): Reply {
    if (!id || !/^\d+$/.test(id)) return this.error('ERROR_WRONG_ID_FORMAT');
    const task = this.ownedTask(id, key);
    if (!task) return this.error('ERROR_WRONG_CAPTCHA_ID');
    if (task.report) return this.error('ERROR_DUPLICATE_REPORT');
    if (task.deliveredAt === undefined || task.outcome.kind !== 'token') return this.error('ERROR_REPORT_NOT_RECORDED');
    task.report = verdict;
    this.counters.report(verdict);
    if (verdict === 'bad') this.balance = roundMoney(this.balance + this.price);
    return ok('OK_REPORT_RECORDED', 'OK_REPORT_RECORDED', 'OK_REPORT_RECORDED');
  }

  /**
   * CaptchaAI's thread plan (https://docs.captchaai.com, "threadsinfo"; its official SDK calls it when constructed):
   * `threads` in the plan, `working_threads` busy with this key's unsolved tasks, `free_threads` left.
   */
  private threadsInfo(key: string, now: number): Reply {
    let working = 0;
    for (const task of this.tasks.values()) {
      if (task.account === key && task.active && (task.outcome.kind === 'never' || now < task.outcome.readyAt)) working++;
    }
    const fields = { threads: this.threads, working_threads: Math.min(working, this.threads), free_threads: Math.max(0, this.threads - working) };
    // the plain answer carries the same fields as JSON: the docs show only the json=1 form
    return { kind: 'answer', ok: true, request: 'OK', plain: JSON.stringify(fields), label: 'THREADSINFO', fields };
  }

  /**
   * Pingback addresses (2captcha's "manage pingback" actions; answers as its clients expect them): `add_pingback` and
   * `del_pingback` (`addr=all` removes every one) answer OK_PINGBACK, `get_pingback` the list (json=1: an array).
   */
  private pingback(action: 'add_pingback' | 'get_pingback' | 'del_pingback', key: string, addr: string | undefined): Reply {
    const list = this.pingbacks.get(key) ?? [];
    if (action === 'get_pingback') {
      const joined = list.join(',');
      return { kind: 'answer', ok: true, request: joined, plain: joined, label: 'PINGBACKS', jsonRequest: [...list] };
    }
    if (!addr || addr.length > 2_048 || !/^https?:\/\/[^\s]+$/.test(addr)) {
      if (!(action === 'del_pingback' && addr === 'all')) return this.error('ERROR_BAD_PARAMETERS');
    }
    if (action === 'add_pingback') {
      if (!list.includes(addr ?? '') && list.length < 100) list.push(addr ?? '');
      this.pingbacks.set(key, list);
    } else {
      this.pingbacks.set(key, addr === 'all' ? [] : list.filter((a) => a !== addr));
    }
    return ok('OK_PINGBACK', 'OK_PINGBACK', 'OK_PINGBACK');
  }

  /** Whether a task's pingback URL is under an address its account registered (unregistered ones get no push). */
  pingbackRegistered(id: string, url: string): boolean {
    const task = this.tasks.get(id);
    return !!task && (this.pingbacks.get(task.account) ?? []).some((addr) => url.startsWith(addr));
  }

  /**
   * The task's final answer for a push, or undefined while it is not ready (or never will be). Marks it delivered like
   * a poll would, but is not a request: it counts in no request counter.
   */
  pushAnswer(id: string, now = Date.now()): { token: string } | { code: string } | undefined {
    const task = this.tasks.get(id);
    if (!task) return undefined;
    const answer = this.settle(task, now);
    if (answer === 'CAPCHA_NOT_READY') return undefined;
    return answer.token !== undefined ? { token: answer.token } : { code: answer.code };
  }

  /** The task's answer now; a final answer marks it delivered (it leaves the active gauge once). */
  private settle(task: SimTask, now: number): 'CAPCHA_NOT_READY' | { token: string; code?: undefined } | { token?: undefined; code: string } {
    const outcome = task.outcome;
    if (outcome.kind === 'never' || now < outcome.readyAt) return 'CAPCHA_NOT_READY';
    if (task.active) {
      task.active = false;
      task.deliveredAt = now;
      this.counters.taskSettled();
      this.counters.delivered(outcome.kind === 'token' ? 'solved' : 'failed');
    }
    return outcome.kind === 'token' ? { token: outcome.token } : { code: outcome.code };
  }

  // ---- shared --------------------------------------------------------------------------------------------------

  private checkKey(key: string | undefined): string | undefined {
    if (!key || key.length !== 32) return 'ERROR_WRONG_USER_KEY';
    if (this.apiKeys && !this.apiKeys.has(key)) return 'ERROR_KEY_DOES_NOT_EXIST';
    return undefined;
  }

  private ownedTask(id: string, key: string): SimTask | undefined {
    const task = this.tasks.get(id);
    return task && task.account === key ? task : undefined;
  }

  /** A scripted rule as a reply; `slow` only adds delay and lets the request go on. */
  private applyRule(rule: Rule | undefined, pending: { delayMs: number }): Reply | undefined {
    if (!rule) return undefined;
    if (rule.type === 'slow') {
      pending.delayMs += rule.delayMs;
      this.counters.fault('slow');
      return undefined;
    }
    if (rule.type === 'error') {
      const reply = this.error(rule.code, rule.errorText);
      return reply.kind === 'answer' && rule.errorText !== undefined ? { ...reply, scriptedText: rule.errorText } : reply;
    }
    this.counters.fault(rule.type);
    return { kind: 'fault', rule };
  }

  private error(code: string, errorText?: string): Reply {
    const text =
      errorText ??
      (code === 'ERROR_ZERO_BALANCE'
        ? this.provider === 'captchaai'
          ? "You don't have free threads."
          : 'You do not have funds on your account.'
        : ERROR_TEXT[code]);
    return { kind: 'answer', ok: false, request: code, plain: code, ...(text !== undefined && { errorText: text }), label: code };
  }

  /** Ids expire (provider-api.md: after 5–15 minutes); tasks are kept in submit order, so expired ones lead. */
  private expire(now: number): void {
    for (const [id, task] of this.tasks) {
      if (task.createdAt + this.taskTtlMs > now) break;
      this.tasks.delete(id);
      if (task.active) this.counters.taskSettled();
    }
  }
}

function ok(request: string | number, plain: string, label: string): Reply {
  return { kind: 'answer', ok: true, request, plain, label };
}

function notReady(): Reply {
  return { kind: 'answer', ok: false, request: 'CAPCHA_NOT_READY', plain: 'CAPCHA_NOT_READY', label: 'CAPCHA_NOT_READY' };
}

function faultLabel(rule: FaultRule): string {
  switch (rule.type) {
    case 'http':
      return `FAULT_HTTP_${rule.status}`;
    case 'html':
      return 'FAULT_HTML';
    case 'bad-json':
      return 'FAULT_BAD_JSON';
    case 'reset':
      return 'FAULT_RESET';
  }
}

function resAction(params: ReadonlyMap<string, string>): string {
  const action = params.get('action');
  if (action === 'get') return params.has('ids') && !params.has('id') ? 'get-multi' : 'get';
  const known = ['reportgood', 'reportbad', 'getbalance', 'threadsinfo', 'add_pingback', 'get_pingback', 'del_pingback'];
  return action !== undefined && known.includes(action) ? action : 'other';
}

function roundMoney(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

function visibleParams(params: ReadonlyMap<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of params) {
    if (name === 'key') continue;
    out[name] = value.length > 200 ? `${value.slice(0, 64)}…(${value.length} chars)` : value;
  }
  return out;
}
