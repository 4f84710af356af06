// Counters and gauges of the simulator: what tests, the demo and benchmarks read from GET /admin/stats.
import type { Endpoint } from './scenarios';

import type { CallbackStats } from './callbacks';

export interface SimulatorStats {
  /** pushes to callback URLs (legacy pingback, JSON callbackUrl): not requests, so in no request counter */
  callbacks?: CallbackStats;
  /** when the counters last started (start or reset) */
  since: string;
  /** in.php / res.php requests received (faulted ones included) */
  requests: Record<Endpoint, number>;
  /** res.php requests by action: get, get-multi (ids=), reportgood, reportbad, getbalance, threadsinfo, other */
  resActions: Record<string, number>;
  /**
   * JSON-family requests by path (createTask, getTaskResult, getBalance, reportIncorrect, …). Each is also counted
   * under its role in `requests` and `outcomes`: createTask as in.php, the others as res.php.
   */
  json: Record<string, number>;
  /**
   * What each endpoint answered: `OK` (accepted submit), `READY` (token delivered), `BALANCE`, `MULTI`,
   * `OK_REPORT_RECORDED`, any provider code (`CAPCHA_NOT_READY`, `ERROR_…`, `MAX_USER_TURN`, `ERROR: 1005`) or an
   * injected fault (`FAULT_RESET`, `FAULT_HTTP_503`, `FAULT_HTML`, `FAULT_BAD_JSON`). Slow answers count once here
   * with their real answer and once in `faults.slow`.
   */
  outcomes: Record<Endpoint, Record<string, number>>;
  /** injected faults by kind (scripted and chaos): reset, http, html, bad-json, slow */
  faults: Record<string, number>;
  /** accepted in.php submits: each one is paid */
  paidSubmits: number;
  /**
   * The ledger: paid submits of a task already paid for once (a task is its type, sitekey and page URL, or its image),
   * and how many tasks were paid more than once. A slow answer retried by the client shows up here; so does a
   * deliberate resubmit after an unsolvable answer.
   */
  duplicatePaidSubmits: number;
  tasksPaidMoreThanOnce: number;
  /** what the paid submits cost by the price table (src/domain/prices.ts), micro-USD, in all and by captcha type */
  spentMicros: number;
  spentMicrosByType: Record<string, number>;
  /** the tasks paid most often (at most 20), most first */
  mostPaidTasks: { task: string; paid: number }[];
  /** final answers delivered by res.php */
  solved: number;
  failed: number;
  reports: { good: number; bad: number };
  /** rate-limit bans started (each is a ban event, not each refused request) */
  bans: { total: number; MAX_USER_TURN: number; 'ERROR: 1005': number };
  /** submitted tasks whose final answer has not been delivered yet (nor expired) */
  activeTasks: number;
  peakActiveTasks: number;
  /** in.php/res.php HTTP requests being handled right now (admin requests excluded) */
  inflightRequests: number;
  peakInflightRequests: number;
}

function increment(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

export class SimulatorCounters {
  private since = new Date();
  private requests: Record<Endpoint, number> = { 'in.php': 0, 'res.php': 0 };
  private resActions: Record<string, number> = {};
  private json: Record<string, number> = {};
  private outcomes: Record<Endpoint, Record<string, number>> = { 'in.php': {}, 'res.php': {} };
  private faults: Record<string, number> = {};
  private paidSubmits = 0;
  private spentMicros = 0;
  private spentMicrosByType: Record<string, number> = {};
  /** paid submits per task (see ledger key in ./engine) */
  private ledger = new Map<string, number>();
  private duplicatePaidSubmits = 0;
  private tasksPaidMoreThanOnce = 0;
  private solved = 0;
  private failed = 0;
  private reports = { good: 0, bad: 0 };
  private bans = { total: 0, MAX_USER_TURN: 0, 'ERROR: 1005': 0 };
  private activeTasks = 0;
  private peakActiveTasks = 0;
  private inflightRequests = 0;
  private peakInflightRequests = 0;

  request(endpoint: Endpoint, resAction?: string): void {
    this.requests[endpoint]++;
    if (endpoint === 'res.php') increment(this.resActions, resAction ?? 'other');
  }

  jsonRequest(path: string): void {
    increment(this.json, path);
  }

  outcome(endpoint: Endpoint, label: string): void {
    increment(this.outcomes[endpoint], label);
  }

  fault(kind: string): void {
    increment(this.faults, kind);
  }

  paidSubmit(task: string, type = 'unknown', costMicros = 0): void {
    this.paidSubmits++;
    this.spentMicros += costMicros;
    increment(this.spentMicrosByType, type, costMicros);
    const paid = (this.ledger.get(task) ?? 0) + 1;
    this.ledger.set(task, paid);
    if (paid > 1) this.duplicatePaidSubmits++;
    if (paid === 2) this.tasksPaidMoreThanOnce++;
  }

  delivered(final: 'solved' | 'failed'): void {
    if (final === 'solved') this.solved++;
    else this.failed++;
  }

  report(verdict: 'good' | 'bad'): void {
    this.reports[verdict]++;
  }

  ban(code: 'MAX_USER_TURN' | 'ERROR: 1005'): void {
    this.bans.total++;
    this.bans[code]++;
  }

  taskActivated(): void {
    this.activeTasks++;
    this.peakActiveTasks = Math.max(this.peakActiveTasks, this.activeTasks);
  }

  taskSettled(): void {
    this.activeTasks--;
  }

  requestStarted(): void {
    this.inflightRequests++;
    this.peakInflightRequests = Math.max(this.peakInflightRequests, this.inflightRequests);
  }

  requestEnded(): void {
    this.inflightRequests--;
  }

  /** Zeroes the counters; gauges keep their live value and their peaks restart from it. */
  reset(): void {
    this.since = new Date();
    this.requests = { 'in.php': 0, 'res.php': 0 };
    this.resActions = {};
    this.json = {};
    this.outcomes = { 'in.php': {}, 'res.php': {} };
    this.faults = {};
    this.paidSubmits = 0;
    this.spentMicros = 0;
    this.spentMicrosByType = {};
    this.ledger = new Map();
    this.duplicatePaidSubmits = 0;
    this.tasksPaidMoreThanOnce = 0;
    this.solved = 0;
    this.failed = 0;
    this.reports = { good: 0, bad: 0 };
    this.bans = { total: 0, MAX_USER_TURN: 0, 'ERROR: 1005': 0 };
    this.peakActiveTasks = this.activeTasks;
    this.peakInflightRequests = this.inflightRequests;
  }

  private mostPaid(n: number): { task: string; paid: number }[] {
    if (this.tasksPaidMoreThanOnce === 0) return [];
    return [...this.ledger]
      .filter(([, paid]) => paid > 1)
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([task, paid]) => ({ task, paid }));
  }

  snapshot(): SimulatorStats {
    return structuredClone({
      since: this.since.toISOString(),
      requests: this.requests,
      resActions: this.resActions,
      json: this.json,
      outcomes: this.outcomes,
      faults: this.faults,
      paidSubmits: this.paidSubmits,
      duplicatePaidSubmits: this.duplicatePaidSubmits,
      tasksPaidMoreThanOnce: this.tasksPaidMoreThanOnce,
      spentMicros: this.spentMicros,
      spentMicrosByType: this.spentMicrosByType,
      mostPaidTasks: this.mostPaid(20),
      solved: this.solved,
      failed: this.failed,
      reports: this.reports,
      bans: this.bans,
      activeTasks: this.activeTasks,
      peakActiveTasks: this.peakActiveTasks,
      inflightRequests: this.inflightRequests,
      peakInflightRequests: this.peakInflightRequests,
    });
  }
}
