// The JSON createTask / getTaskResult / getBalance family (provider-api.md, Family 2) on top of the same engine: a JSON
// request is turned into the engine's in.php / res.php request, so scenarios, rate limits, faults, balance and
// counters are shared with the legacy protocol; the answer is rendered in the dialect's JSON.
//
// Scenario scripts speak the legacy vocabulary (ERROR_CAPTCHA_UNSOLVABLE, ERROR_NO_SLOT_AVAILABLE, …) and each dialect
// translates a code into its own spelling where it has one (CapSolver: ERROR_CAPTCHA_SOLVE_FAILED, …); codes the
// table does not know (ERROR_ZERO_BALANCE, ERROR_TOO_MUCH_REQUESTS, …) are answered as written.
//
// Dialects: `2captcha-v2` and `anticaptcha` (HTTP 200, numbered errorIds, integer task ids), `capsolver` (HTTP 400 /
// 401 with errorId 1, UUID task ids, `idle` before `processing`, image tasks answered synchronously by createTask,
// at most 120 polls per task), `capmonster` (HTTP 200, errorId 1, integer ids, polls of one token task at least 2 s
// apart or ERROR_TOO_MUCH_REQUESTS, at most 120 polls per task). Type names, poll rules and error texts come from the
// capability table shared with our clients (src/providers/capabilities.ts).
import { createHash } from 'node:crypto';
import { JSON_CAPABILITIES, acceptedTypeNames, type JsonCapabilities } from '../providers/capabilities';
import { JSON_DIALECTS, jsonError, legacyParams, solutionFor, type JsonDialect } from '../providers/json-wire';
import type { SimulatorEngine } from './engine';
import type { FaultRule } from './scenarios';
import type { SubmissionType } from '../providers/legacy-wire';

export { JSON_DIALECTS, type JsonDialect };

export const JSON_PATHS = [
  'createTask',
  'getTaskResult',
  'getBalance',
  'reportIncorrect',
  'reportCorrect',
  'reportIncorrectRecaptcha',
  'reportCorrectRecaptcha',
  'reportIncorrectImageCaptcha',
  'feedbackTask',
] as const;
export type JsonPath = (typeof JSON_PATHS)[number];

export interface JsonApiOptions {
  dialect: JsonDialect;
  /** least gap between two polls of a task (default: CapMonster 2 000, others 0) */
  minPollIntervalMs?: number;
  /** polls of a task before its result is lost (default: CapMonster and CapSolver 120, others unlimited) */
  maxPollsPerTask?: number;
}

export type JsonReply = { kind: 'json'; status: number; body: Record<string, unknown> } | { kind: 'fault'; rule: FaultRule };

interface PollState {
  polls: number;
  lastPollAt: number;
  idleShown: boolean;
}

/** The JSON face of one engine. */
export class JsonApi {
  readonly dialect: JsonDialect;
  /** the dialect's row of the shared capability table (type names, poll rules, error texts) */
  private readonly caps: JsonCapabilities;
  private readonly typeNames: ReadonlyMap<string, SubmissionType>;
  private readonly minPollIntervalMs: number;
  private readonly maxPollsPerTask: number;
  /** CapSolver: UUID ↔ engine id */
  private readonly uuidToId = new Map<string, string>();
  private readonly idToUuid = new Map<string, string>();
  private readonly polls = new Map<string, PollState>();

  constructor(
    private readonly engine: SimulatorEngine,
    options: JsonApiOptions,
  ) {
    this.dialect = options.dialect;
    this.caps = JSON_CAPABILITIES[this.dialect];
    this.typeNames = acceptedTypeNames(this.dialect);
    this.minPollIntervalMs = options.minPollIntervalMs ?? this.caps.poll.minIntervalMs;
    this.maxPollsPerTask = options.maxPollsPerTask ?? this.caps.poll.maxPollsPerTask;
  }

  /**
   * One request. `wait` delays the answer (slow rules, CapSolver's synchronous image tasks); the returned `delayMs` is
   * what remains to wait before rendering.
   */
  async handle(path: JsonPath, body: unknown, wait: (ms: number) => Promise<void>, now = Date.now()): Promise<{ reply: JsonReply; delayMs: number }> {
    const input = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    const key = typeof input.clientKey === 'string' ? input.clientKey : '';
    this.engine.counters.jsonRequest(path);
    switch (path) {
      case 'createTask':
        return this.createTask(key, input.task, wait, now);
      case 'getTaskResult':
        return this.getTaskResult(key, input.taskId, now);
      case 'getBalance':
        return this.viaEngine('res.php', { key, action: 'getbalance' }, now, (answer) => ({ errorId: 0, balance: Number(answer) }));
      default: {
        const verdict = path === 'reportCorrect' || path === 'reportCorrectRecaptcha' ? 'good' : path === 'feedbackTask' ? feedbackVerdict(input) : 'bad';
        const id = this.engineId(input.taskId);
        return this.viaEngine('res.php', { key, action: verdict === 'good' ? 'reportgood' : 'reportbad', id }, now, () => ({
          errorId: 0,
          status: 'success',
        }));
      }
    }
  }

  // ---- createTask ------------------------------------------------------------------------------------------------

  private async createTask(key: string, rawTask: unknown, wait: (ms: number) => Promise<void>, now: number): Promise<{ reply: JsonReply; delayMs: number }> {
    const task = rawTask && typeof rawTask === 'object' && !Array.isArray(rawTask) ? (rawTask as Record<string, unknown>) : undefined;
    const type = typeof task?.type === 'string' ? task.type : undefined;
    const kind = type !== undefined ? this.typeNames.get(type) : undefined;
    // an unknown or absent task still goes through the engine (key check, rules, counters) as an unknown method
    const params = task && kind ? legacyParams(kind, type ?? '', task) : { method: task ? 'unsupported' : '' };
    const absentCode = task ? 'ERROR_TASK_NOT_SUPPORTED' : 'ERROR_TASK_ABSENT';
    const handled = this.engine.handle({ endpoint: 'in.php', params: new Map(Object.entries({ ...params, key, json: '1' })), files: new Map() }, now);
    const reply = handled.reply;
    if (reply.kind === 'fault') return { reply, delayMs: handled.delayMs };
    if (!reply.ok) {
      const code = reply.request === 'ERROR_NO_SUCH_METHOD' ? absentCode : String(reply.request);
      return { reply: this.error(code, reply.scriptedText), delayMs: handled.delayMs };
    }
    const id = String(reply.request);
    const taskId = this.wireId(id);
    if (kind !== undefined && this.caps.answeredByCreate.includes(kind)) {
      // CapSolver recognises images synchronously: the answer comes with createTask. The result is read at the task's
      // exact ready time (not the ms-truncated ISO string of the view, nor a timer that may fire a little early).
      await wait(handled.delayMs);
      const readyAt = this.engine.readyAtMs(id) ?? Date.now();
      const syncLimit = Date.now() + 30_000;
      await wait(Math.min(30_000, Math.max(0, readyAt - Date.now())));
      const result = this.getTaskResult(key, taskId, readyAt <= syncLimit ? Math.max(Date.now(), readyAt) : Date.now());
      if (result.reply.kind === 'json' && result.reply.body.errorId === 0 && result.reply.body.status === 'ready') {
        return { reply: { kind: 'json', status: 200, body: { ...result.reply.body, taskId } }, delayMs: result.delayMs };
      }
      return { reply: { kind: 'json', status: 200, body: { errorId: 0, taskId, status: 'processing' } }, delayMs: result.delayMs };
    }
    return { reply: { kind: 'json', status: 200, body: { errorId: 0, taskId, ...(this.dialect === 'capsolver' && { status: 'idle' }) } }, delayMs: handled.delayMs };
  }

  // ---- getTaskResult ---------------------------------------------------------------------------------------------

  private getTaskResult(key: string, rawId: unknown, now: number): { reply: JsonReply; delayMs: number } {
    const id = this.engineId(rawId);
    const state = this.polls.get(id) ?? { polls: 0, lastPollAt: -Infinity, idleShown: false };
    // the dialect's own poll rules answer before the engine sees the request
    const view = this.engine.task(id);
    if (view) {
      const spaced = this.caps.poll.spacedKinds.includes(view.type);
      if (spaced && now - state.lastPollAt < this.minPollIntervalMs) return { reply: this.localError('ERROR_TOO_MUCH_REQUESTS'), delayMs: 0 };
      if (state.polls >= this.maxPollsPerTask) return { reply: this.localError('ERROR_NO_SUCH_CAPCHA_ID'), delayMs: 0 };
      state.polls++;
      state.lastPollAt = now;
      this.polls.set(id, state);
    }
    const handled = this.engine.handle({ endpoint: 'res.php', params: new Map([['key', key], ['action', 'get'], ['id', id], ['json', '1']]), files: new Map() }, now);
    const reply = handled.reply;
    if (reply.kind === 'fault') return { reply, delayMs: handled.delayMs };
    const withId = this.dialect === 'capsolver' ? { taskId: this.wireId(id) } : {};
    if (reply.ok) {
      this.polls.delete(id);
      const solution = solutionFor(this.dialect, view?.type ?? 'recaptcha-v2', String(reply.request));
      const createTime = view ? Math.floor(Date.parse(view.createdAt) / 1000) : Math.floor(now / 1000);
      return {
        reply: {
          kind: 'json',
          status: 200,
          body: { errorId: 0, ...withId, status: 'ready', solution, cost: '0.00299', ip: '127.0.0.1', createTime, endTime: Math.floor(now / 1000), solveCount: 1 },
        },
        delayMs: handled.delayMs,
      };
    }
    if (reply.request === 'CAPCHA_NOT_READY') {
      // CapSolver: a task waits `idle` in its queue before workers pick it up
      const status = this.dialect === 'capsolver' && !state.idleShown ? 'idle' : 'processing';
      state.idleShown = true;
      // CapMonster spells out the empty error fields (https://docs.capmonster.cloud/docs/api/methods/get-task-result/)
      const nulls = this.dialect === 'capmonster' ? { errorCode: null, errorDescription: null } : {};
      return { reply: { kind: 'json', status: 200, body: { ...nulls, errorId: 0, ...withId, status } }, delayMs: handled.delayMs };
    }
    this.polls.delete(id);
    return { reply: this.error(String(reply.request), reply.scriptedText), delayMs: handled.delayMs };
  }

  // ---- shared ----------------------------------------------------------------------------------------------------

  private viaEngine(
    endpoint: 'in.php' | 'res.php',
    params: Record<string, string>,
    now: number,
    body: (answer: string | number) => Record<string, unknown>,
  ): { reply: JsonReply; delayMs: number } {
    const handled = this.engine.handle({ endpoint, params: new Map(Object.entries({ ...params, json: '1' })), files: new Map() }, now);
    const reply = handled.reply;
    if (reply.kind === 'fault') return { reply, delayMs: handled.delayMs };
    if (!reply.ok) return { reply: this.error(String(reply.request), reply.scriptedText), delayMs: handled.delayMs };
    return { reply: { kind: 'json', status: 200, body: body(reply.request) }, delayMs: handled.delayMs };
  }

  /** An answer of this layer alone (poll spacing, poll cap): counted like the engine's own answers. */
  private localError(code: string): JsonReply {
    this.engine.counters.request('res.php', 'get');
    const reply = this.error(code);
    this.engine.counters.outcome('res.php', String(reply.kind === 'json' ? reply.body.errorCode : code));
    return reply;
  }

  /** `scriptedText`: a scenario rule's own errorText, which wins; the engine's legacy texts are never reused. */
  private error(legacyCode: string, scriptedText?: string): JsonReply {
    return { kind: 'json', ...jsonError(this.dialect, legacyCode, scriptedText) };
  }

  /** The id the dialect shows for an engine id: a number, or (CapSolver) a UUID. */
  private wireId(id: string): string | number {
    if (this.caps.taskIds === 'integer') return Number(id);
    let uuid = this.idToUuid.get(id);
    if (!uuid) {
      const hex = createHash('sha256').update(`capsolver:${id}`).digest('hex');
      uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
      this.idToUuid.set(id, uuid);
      this.uuidToId.set(uuid, id);
    }
    return uuid;
  }

  /** What a `callbackUrl` receives: the body getTaskResult would answer, with `taskId` (as the dialects document it). */
  pushBody(id: string, answer: { token: string } | { code: string }, now = Date.now()): Record<string, unknown> {
    const taskId = this.wireId(id);
    if ('code' in answer) {
      const reply = this.error(answer.code);
      return { ...(reply.kind === 'json' ? reply.body : {}), taskId };
    }
    const view = this.engine.task(id);
    const createTime = view ? Math.floor(Date.parse(view.createdAt) / 1000) : Math.floor(now / 1000);
    const solution = solutionFor(this.dialect, view?.type ?? 'recaptcha-v2', answer.token);
    return { errorId: 0, taskId, status: 'ready', solution, cost: '0.00299', ip: '127.0.0.1', createTime, endTime: Math.floor(now / 1000), solveCount: 1 };
  }

  /** The engine's id of a task id as this dialect shows it (a number, or a CapSolver UUID); undefined when unknown. */
  engineIdOf(wireId: string): string | undefined {
    return this.dialect === 'capsolver' ? this.uuidToId.get(wireId) : wireId;
  }

  private engineId(raw: unknown): string {
    const text = typeof raw === 'number' || typeof raw === 'string' ? String(raw) : '';
    if (this.dialect === 'capsolver') return this.uuidToId.get(text) ?? (text === '' ? '' : `unknown-${text}`);
    return text;
  }
}

function feedbackVerdict(input: Record<string, unknown>): 'good' | 'bad' {
  const result = input.result as { invalid?: unknown } | undefined;
  return result?.invalid === true ? 'bad' : 'good';
}
