// The gateway: the product as a captcha provider to its users. It answers the legacy family (in.php / res.php: GET,
// form, multipart or JSON bodies; plain or json=1 answers) and the JSON family (createTask / getTaskResult /
// getBalance / reports, in the 2captcha v2 dialect by default; anti-captcha's, CapMonster's or CapSolver's on request),
// and behind each accepted submit runs our durable solve
// (`solve/gw-<user>-<task id>`), whose final failure is in our DLQ like any other. Request decoding, validation, error
// codes and texts come from the same tables as the simulator's (src/providers/legacy-wire.ts, json-wire.ts).
//
// Users have keys of ours (./keys.ts); the provider's key never reaches the gateway. Polls are answered from the task
// cache (./tasks.ts): one watch per task, whatever the polling rate.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type Client,
} from '@temporalio/client';
import type { Config } from '../config';
import { describeTask } from '../domain/describe';
import { SOLVE_PREFIX } from '../domain/ids';
import { WORKFLOW_TYPES, sitekeyAttribute } from '../domain/names';
import { resolveSolvePolicy } from '../domain/policies';
import type { CaptchaOptions, CaptchaTask, SolveInput } from '../domain/types';
import { HttpError, listen, readBody } from '../http';
import { JSON_CAPABILITIES, acceptedTypeNames } from '../providers/capabilities';
import { JSON_DIALECTS, jsonError, legacyParams, solutionFor, type JsonDialect } from '../providers/json-wire';
import { ERROR_TEXT, decodeRequest, parseSubmission, type Submission, type SubmissionType, type Upload } from '../providers/legacy-wire';
import { TaskValidationError, parseTask } from '../tasks/schema';
import type { GatewayUser } from './keys';
import { TaskBook, type GatewayCallCounts, type GatewayTask, type TaskOutcome } from './tasks';

/** Dialects the JSON endpoints can speak: all of the family's. */
export const GATEWAY_JSON_DIALECTS = JSON_DIALECTS;

export interface GatewayOptions {
  client: Client;
  config: Readonly<Config>;
  /** users by key (./keys.ts); replaced by `setUsers` */
  users: ReadonlyMap<string, GatewayUser>;
  /** default 0: an ephemeral port */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** dialect of the JSON endpoints (default 2captcha-v2) */
  dialect?: JsonDialect;
  /** the same submit of the same user within this window returns the first task (default 60 s) */
  dedupeWindowMs?: number;
  /** how long a final outcome waits for a late poll (default 15 min) */
  resultTtlMs?: number;
  /** request bodies above this are refused with 413 (default 2 MiB) */
  maxBodyBytes?: number;
  /** an unexpected failure behind a request (Temporal unreachable, …); default: its message on stderr */
  onError?: (error: unknown) => void;
}

export interface GatewayStats extends GatewayCallCounts {
  submits: number;
  deduped: number;
  refused: Record<string, number>;
  tasksCached: number;
}

export interface Gateway {
  /** base URL without a trailing slash: `${url}/in.php`, `${url}/res.php`, `${url}/createTask`, … */
  readonly url: string;
  readonly port: number;
  stats(): GatewayStats;
  /** a user's accepted submits and reports so far */
  usage(name: string): { submits: number; reports: Record<string, 'good' | 'bad'> };
  /** New users and limits (a reloaded keys file): the next request sees them; a user's spending so far is kept by name. */
  setUsers(users: ReadonlyMap<string, GatewayUser>): void;
  close(): Promise<void>;
}

/** An answer of the legacy family: `ok` answers carry the id / token / balance, others a provider code. */
type LegacyAnswer = { ok: true; request: string; /** the plain answer, when not `OK|<request>` */ plain?: string } | { ok: false; code: string };

const JSON_PATHS = new Set(['createTask', 'getTaskResult', 'getBalance', 'reportIncorrect', 'reportCorrect', 'reportIncorrectRecaptcha', 'reportCorrectRecaptcha', 'reportIncorrectImageCaptcha', 'feedbackTask']);
/** Parameters that do not change what is solved (nor the dedupe key). */
const NOT_THE_TASK = new Set(['key', 'json', 'header_acao', 'soft_id', 'idempotency_key', 'pingback']);
const MIN_SCORES = [0.3, 0.7, 0.9] as const;
const DEDUPE_ENTRIES_MAX = 100_000;
/** How long createTask waits for a kind the dialect answers at once (CapSolver images; the simulator's bound too). */
const ANSWER_BY_CREATE_MS = 30_000;

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { client, config } = options;
  let users = options.users;
  const dialect = options.dialect ?? '2captcha-v2';
  if (!(GATEWAY_JSON_DIALECTS as readonly string[]).includes(dialect)) throw new Error(`the gateway speaks the JSON dialects ${GATEWAY_JSON_DIALECTS.join(', ')}; not ${dialect}`);
  const typeNames = acceptedTypeNames(dialect);
  const caps = JSON_CAPABILITIES[dialect];
  /** a task id as the dialect's clients see it: a JSON number, or (CapSolver) a UUID */
  const wireTaskId = (id: string): string | number => (caps.taskIds === 'uuid' ? uuidOfTaskId(id) : Number(id));
  const dedupeWindowMs = options.dedupeWindowMs ?? 60_000;
  const maxBodyBytes = options.maxBodyBytes ?? 2 * 1024 * 1024;
  const book = new TaskBook(client, { ...(options.resultTtlMs !== undefined && { resultTtlMs: options.resultTtlMs }) });
  const policy = resolveSolvePolicy(config.solvePolicy);
  const onError = options.onError ?? ((error: unknown) => console.error(`gateway: ${error instanceof Error ? error.message : String(error)}`));

  const counters = { submits: 0, deduped: 0, refused: {} as Record<string, number> };
  /** per user: accepted submits (budget), recent submit times (rate), reports */
  const usage = new Map<string, { submits: number; recent: number[]; reports: Map<string, 'good' | 'bad'> }>();
  const usageOf = (user: GatewayUser) => {
    let u = usage.get(user.name);
    if (!u) usage.set(user.name, (u = { submits: 0, recent: [], reports: new Map() }));
    return u;
  };
  /** A user's spending survives a restart: on first use, their gateway solves on our task queue are counted in Temporal (once). */
  const restored = new Map<string, Promise<void>>();
  const restoreUsage = (user: GatewayUser): Promise<void> => {
    let done = restored.get(user.name);
    if (!done) {
      book.counts.counts++;
      done = client.workflow
        .count(`WorkflowType = '${WORKFLOW_TYPES.solve}' AND TaskQueue = '${config.temporal.taskQueue}' AND WorkflowId STARTS_WITH '${SOLVE_PREFIX}/gw-${user.name}-'`)
        .then(({ count }) => {
          usageOf(user).submits += count;
        });
      done.catch(() => restored.delete(user.name)); // asked again next time
      restored.set(user.name, done);
    }
    return done;
  };
  /** request digest → the task it started, for `dedupeWindowMs` */
  const recentSubmits = new Map<string, { taskId: string; at: number }>();
  let lastId = 0;

  const refuse = (code: string): LegacyAnswer => {
    counters.refused[code] = (counters.refused[code] ?? 0) + 1;
    return { ok: false, code };
  };
  const remaining = (user: GatewayUser): number => user.budget - usageOf(user).submits * (user.pricePerSolve ?? 1);
  const workflowIdOf = (user: GatewayUser, taskId: string): string => `${SOLVE_PREFIX}/gw-${user.name}-${taskId}`;

  /** A new id: 16 digits, time-ordered, unique within this process and (by the clock) across restarts. */
  const newTaskId = (): string => {
    lastId = Math.max(lastId + 1, Date.now() * 1000);
    return String(lastId);
  };
  /** The id of an idempotency hint: the same for the same user and hint, whichever gateway process answers. */
  const hintedTaskId = (user: GatewayUser, hint: string): string => {
    const n = Number.parseInt(createHash('sha256').update(`${user.name}\0${hint}`).digest('hex').slice(0, 12), 16);
    return String(5e15 + (n % 4e15));
  };

  // ---- submit ----------------------------------------------------------------------------------------------------

  async function submit(user: GatewayUser | undefined, params: ReadonlyMap<string, string>, files: ReadonlyMap<string, Upload>, hint: string | undefined): Promise<LegacyAnswer & { type?: SubmissionType }> {
    if (!user) return refuse('ERROR_WRONG_USER_KEY');
    const submission = parseSubmission(params, files, '2captcha');
    if ('code' in submission) return refuse(submission.code);
    await restoreUsage(user);
    const u = usageOf(user);
    const now = Date.now();
    const digest = requestDigest(user, params, files);
    const recent = recentSubmits.get(digest);
    const taskId = hint !== undefined ? hintedTaskId(user, hint) : recent && now - recent.at < dedupeWindowMs ? recent.taskId : undefined;
    const workflowId = taskId !== undefined ? workflowIdOf(user, taskId) : undefined;
    if (workflowId !== undefined && (await book.lookup(workflowId))) {
      counters.deduped++;
      return { ok: true, request: taskId!, type: submission.type };
    }
    u.recent = u.recent.filter((t) => now - t < 60_000);
    if (u.recent.length >= user.submitsPerMinute) return refuse('MAX_USER_TURN');
    if (remaining(user) < (user.pricePerSolve ?? 1) - 1e-9) return refuse('ERROR_ZERO_BALANCE');
    const id = taskId ?? newTaskId();
    const task = toTask(submission, params, `gw-${user.name}-${id}`);
    if (!task) return refuse('ERROR_BAD_PARAMETERS');
    await start(workflowIdOf(user, id), task, submission.type);
    u.submits++;
    u.recent.push(now);
    counters.submits++;
    if (recentSubmits.size >= DEDUPE_ENTRIES_MAX) {
      for (const [d, r] of recentSubmits) if (now - r.at >= dedupeWindowMs || recentSubmits.size >= DEDUPE_ENTRIES_MAX) recentSubmits.delete(d);
    }
    recentSubmits.set(digest, { taskId: id, at: now });
    return { ok: true, request: id, type: submission.type };
  }

  async function start(workflowId: string, task: CaptchaTask & { key: string }, type: SubmissionType): Promise<void> {
    const input: SolveInput = { task, taskKey: task.key, policy, dlqWorkflowId: config.dlqWorkflowId };
    book.counts.starts++;
    try {
      const handle = await client.workflow.start(WORKFLOW_TYPES.solve, {
        workflowId,
        taskQueue: config.temporal.taskQueue,
        args: [input],
        // a second start of the same id (a retried submit racing the first) joins it; a closed one is not redone
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        memo: { gatewayType: type },
        staticSummary: `gateway: ${describeTask(task)}`,
        ...(task.sitekey && !config.temporal.codecKeys && { typedSearchAttributes: [{ key: sitekeyAttribute, value: task.sitekey }] }),
      });
      book.track(workflowId, type, handle);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      book.track(workflowId, type);
    }
  }

  // ---- res.php ---------------------------------------------------------------------------------------------------

  async function result(user: GatewayUser | undefined, params: ReadonlyMap<string, string>): Promise<LegacyAnswer> {
    if (!user) return refuse('ERROR_WRONG_USER_KEY');
    const action = params.get('action');
    switch (action) {
      case 'get': {
        const ids = params.get('ids');
        if (ids !== undefined && !params.has('id')) {
          const list = ids.split(',').map((id) => id.trim()).filter(Boolean).slice(0, 1_000);
          if (list.length === 0) return refuse('ERROR_WRONG_ID_FORMAT');
          const answers = await Promise.all(list.map(async (id) => legacyPollAnswer(await poll(user, id))));
          const joined = answers.map((a) => (a.ok ? a.request : a.code)).join('|');
          return { ok: true, request: joined, plain: joined };
        }
        return legacyPollAnswer(await poll(user, params.get('id')));
      }
      case 'getbalance': {
        await restoreUsage(user);
        const balance = remaining(user).toFixed(4);
        return { ok: true, request: balance, plain: balance };
      }
      case 'reportgood':
      case 'reportbad':
        return report(user, params.get('id'), action === 'reportgood' ? 'good' : 'bad');
      default:
        return refuse('ERROR_EMPTY_ACTION');
    }
  }

  async function poll(user: GatewayUser, id: string | undefined): Promise<GatewayTask | { code: string }> {
    if (!id || !/^\d{1,20}$/.test(id)) return { code: 'ERROR_WRONG_ID_FORMAT' };
    book.counts.polls++;
    return (await book.lookup(workflowIdOf(user, id))) ?? { code: 'ERROR_WRONG_CAPTCHA_ID' };
  }

  async function report(user: GatewayUser, id: string | undefined, verdict: 'good' | 'bad'): Promise<LegacyAnswer> {
    const task = await poll(user, id);
    if ('code' in task) return refuse(task.code);
    if (task.report) return refuse('ERROR_DUPLICATE_REPORT');
    if (task.outcome.status !== 'solved') return refuse('ERROR_REPORT_NOT_RECORDED');
    task.report = verdict;
    usageOf(user).reports.set(id!, verdict);
    return { ok: true, request: 'OK_REPORT_RECORDED', plain: 'OK_REPORT_RECORDED' };
  }

  // ---- the JSON family -------------------------------------------------------------------------------------------

  async function serveJson(path: string, body: Record<string, unknown>, hint: string | undefined): Promise<{ status: number; body: Record<string, unknown> }> {
    const user = typeof body.clientKey === 'string' ? users.get(body.clientKey) : undefined;
    const error = (code: string) => jsonError(dialect, code);
    const refuseJson = (code: string) => {
      refuse(code);
      return error(code);
    };
    if (!user) return refuseJson('ERROR_WRONG_USER_KEY');
    const rawTaskId = typeof body.taskId === 'number' || typeof body.taskId === 'string' ? String(body.taskId).slice(0, 100) : undefined;
    // a UUID not of ours reads as a malformed id (ERROR_WRONG_ID_FORMAT, in the dialect's spelling)
    const taskId = caps.taskIds === 'uuid' && rawTaskId !== undefined ? (taskIdOfUuid(rawTaskId) ?? '-') : rawTaskId;
    const ready = (task: GatewayTask, outcome: Extract<TaskOutcome, { status: 'solved' }>) => ({
      errorId: 0,
      ...(caps.taskIds === 'uuid' && { taskId: wireTaskId(taskId ?? '') }),
      status: 'ready',
      solution: solutionFor(dialect, task.type, outcome.token),
      cost: (user.pricePerSolve ?? 0).toFixed(5),
      ip: '127.0.0.1',
      createTime: Math.floor(task.createdAt / 1000),
      endTime: Math.floor(Date.parse(outcome.solvedAt) / 1000),
      solveCount: 1,
    });
    switch (path) {
      case 'createTask': {
        const task = body.task && typeof body.task === 'object' && !Array.isArray(body.task) ? (body.task as Record<string, unknown>) : undefined;
        if (!task) return refuseJson('ERROR_TASK_ABSENT');
        const kind = typeof task.type === 'string' ? typeNames.get(task.type) : undefined;
        if (!kind) return refuseJson('ERROR_TASK_NOT_SUPPORTED');
        const params = new Map(Object.entries(legacyParams(kind, String(task.type), task)));
        const answer = await submit(user, params, new Map(), hint);
        if (!answer.ok) return error(answer.code);
        const id = wireTaskId(answer.request);
        // CapSolver's createTask names the queue state (`idle`), and its official SDK reads it, as the simulator answers
        if (!caps.answeredByCreate.includes(kind)) return { status: 200, body: { errorId: 0, taskId: id, ...(dialect === 'capsolver' && { status: 'idle' }) } };
        // this dialect answers the kind with createTask: wait (bounded) for the solve, else the client polls
        const created = await book.lookup(workflowIdOf(user, answer.request));
        if (created?.outcome.status === 'pending') await settledWithin(created, ANSWER_BY_CREATE_MS);
        const outcome = created?.outcome;
        if (outcome?.status === 'failed') return error(outcome.code);
        if (outcome?.status === 'solved') return { status: 200, body: { ...ready(created!, outcome), taskId: id } };
        return { status: 200, body: { errorId: 0, taskId: id, status: 'processing' } };
      }
      case 'getTaskResult': {
        const task = await poll(user, taskId);
        if ('code' in task) return error(task.code);
        const outcome = task.outcome;
        if (outcome.status === 'pending') return { status: 200, body: { errorId: 0, ...(caps.taskIds === 'uuid' && { taskId: rawTaskId }), status: 'processing' } };
        if (outcome.status === 'failed') return error(outcome.code);
        return { status: 200, body: ready(task, outcome) };
      }
      case 'getBalance':
        await restoreUsage(user);
        return { status: 200, body: { errorId: 0, balance: Number(remaining(user).toFixed(4)) } };
      default: {
        const good = path === 'reportCorrect' || path === 'reportCorrectRecaptcha' || (path === 'feedbackTask' && (body.result as { invalid?: unknown } | undefined)?.invalid !== true);
        const answer = await report(user, taskId, good ? 'good' : 'bad');
        return answer.ok ? { status: 200, body: { errorId: 0, status: 'success' } } : error(answer.code);
      }
    }
  }

  // ---- HTTP ------------------------------------------------------------------------------------------------------

  async function serveLegacy(endpoint: 'in.php' | 'res.php', url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { params, files } = await decodeRequest(url, req, maxBodyBytes);
    const user = users.get(params.get('key') ?? '');
    const answer = endpoint === 'in.php' ? await submit(user, params, files, idempotencyHint(req, params)) : await result(user, params);
    if (params.get('header_acao') === '1') res.setHeader('Access-Control-Allow-Origin', '*');
    if (params.get('json') === '1') {
      sendJson(res, 200, answer.ok ? { status: 1, request: answer.request } : { status: 0, request: answer.code, ...(ERROR_TEXT[answer.code] !== undefined && { error_text: ERROR_TEXT[answer.code] }) });
    } else {
      sendText(res, 200, 'text/plain; charset=utf-8', answer.ok ? (answer.plain ?? `OK|${answer.request}`) : answer.code);
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const path = url.pathname;
    const work = async (): Promise<void> => {
      if (path === '/in.php' || path === '/res.php') return serveLegacy(path.slice(1) as 'in.php' | 'res.php', url, req, res);
      if (JSON_PATHS.has(path.slice(1))) {
        const text = (await readBody(req, maxBodyBytes)).toString('utf8');
        if (req.method !== 'POST') return sendJson(res, 405, { errorId: 1, errorCode: 'ERROR_METHOD_NOT_ALLOWED', errorDescription: 'use POST with a JSON body' });
        let body: unknown;
        try {
          body = text.trim() === '' ? {} : JSON.parse(text);
        } catch {
          body = {}; // like the providers: no fields, so the key check answers
        }
        const input = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
        const answer = await serveJson(path.slice(1), input, idempotencyHint(req, new Map()));
        return sendJson(res, answer.status, answer.body);
      }
      if (path === '/healthz') return sendJson(res, 200, { ok: true });
      sendText(res, 404, 'text/plain; charset=utf-8', 'Not Found');
    };
    work().catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof HttpError) return sendJson(res, error.status, { error: error.message });
      // Temporal unreachable and the like: the provider's "try again" answer, in the family's form; nothing accepted
      onError(error);
      if (JSON_PATHS.has(path.slice(1))) {
        const answer = jsonError(dialect, 'ERROR_NO_SLOT_AVAILABLE');
        return sendJson(res, answer.status, answer.body);
      }
      if (url.searchParams.get('json') === '1') return sendJson(res, 200, { status: 0, request: 'ERROR_NO_SLOT_AVAILABLE', error_text: ERROR_TEXT.ERROR_NO_SLOT_AVAILABLE });
      sendText(res, 200, 'text/plain; charset=utf-8', 'ERROR_NO_SLOT_AVAILABLE');
    });
  });
  server.keepAliveTimeout = 5_000;

  const listening = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1', () => book.close());
  return {
    url: listening.url,
    port: listening.port,
    stats: () => ({ ...counters, refused: { ...counters.refused }, ...book.counts, tasksCached: book.size }),
    usage: (name) => {
      const u = usage.get(name);
      return { submits: u?.submits ?? 0, reports: Object.fromEntries(u?.reports ?? []) };
    },
    setUsers: (next) => {
      users = next;
    },
    close: listening.close,
  };
}

/** Resolves when the task's watch settles or after `ms`, whichever is first. */
async function settledWithin(task: GatewayTask, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([task.watching, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * A gateway task id (decimal, at most 20 digits) as a CapSolver-style UUID (version 4 layout): the id's 20 digits,
 * zero-padded, then 10 hex digits of a digest that tells our UUIDs from others. Reversible, so any gateway process
 * (a restarted one too) reads it back without a table.
 */
export function uuidOfTaskId(id: string): string {
  const d = id.padStart(20, '0');
  return `${d.slice(0, 8)}-${d.slice(8, 12)}-4${d.slice(12, 15)}-a${d.slice(15, 18)}-${d.slice(18, 20)}${uuidCheck(d)}`;
}

/** The gateway task id of a UUID made by `uuidOfTaskId`; undefined for any other string. */
export function taskIdOfUuid(uuid: string): string | undefined {
  const m = /^(\d{8})-(\d{4})-4(\d{3})-a(\d{3})-(\d{2})([0-9a-f]{10})$/.exec(uuid.toLowerCase());
  if (!m) return undefined;
  const d = m.slice(1, 6).join('');
  if (uuidCheck(d) !== m[6]) return undefined;
  return d.replace(/^0+(?=\d)/, '');
}

function uuidCheck(digits: string): string {
  return createHash('sha256').update(`gateway-task:${digits}`).digest('hex').slice(0, 10);
}

function legacyPollAnswer(task: GatewayTask | { code: string }): LegacyAnswer {
  if ('code' in task) return { ok: false, code: task.code };
  const outcome = task.outcome;
  if (outcome.status === 'pending') return { ok: false, code: 'CAPCHA_NOT_READY' };
  return outcome.status === 'solved' ? { ok: true, request: outcome.token } : { ok: false, code: outcome.code };
}

/** An `Idempotency-Key` header or `idempotency_key` parameter (bounded, printable). */
function idempotencyHint(req: IncomingMessage, params: ReadonlyMap<string, string>): string | undefined {
  const raw = req.headers['idempotency-key'] ?? params.get('idempotency_key');
  const hint = Array.isArray(raw) ? raw[0] : raw;
  return hint !== undefined && /^[\x21-\x7E]{1,200}$/.test(hint) ? hint : undefined;
}

/** What makes two submits the same request: the user and the parameters that shape the task. */
function requestDigest(user: GatewayUser, params: ReadonlyMap<string, string>, files: ReadonlyMap<string, Upload>): string {
  const hash = createHash('sha256').update(user.name);
  for (const [name, value] of [...params].filter(([n]) => !NOT_THE_TASK.has(n)).sort(([a], [b]) => a.localeCompare(b))) hash.update(`\0${name}=${value}`);
  for (const [name, file] of [...files].sort(([a], [b]) => a.localeCompare(b))) hash.update(`\0${name}:`).update(file.bytes);
  return hash.digest('hex');
}

/** A checked submission as our task; undefined when our own schema refuses what the provider checks let through. */
function toTask(submission: Exclude<Submission, { code: string }>, params: ReadonlyMap<string, string>, key: string): (CaptchaTask & { key: string }) | undefined {
  const options: CaptchaOptions = {};
  const p = (name: string) => params.get(name) || undefined;
  const userAgent = p('userAgent') ?? p('useragent');
  if (userAgent) options.userAgent = userAgent;
  const proxy = p('proxy');
  if (proxy) {
    options.proxy = proxy;
    const proxyType = p('proxytype')?.toUpperCase();
    if (proxyType) options.proxyType = proxyType as CaptchaOptions['proxyType'];
  }
  switch (submission.type) {
    case 'recaptcha-v2':
      if (p('invisible') === '1') options.invisible = true;
      if (p('enterprise') === '1') options.enterprise = true;
      if (p('data-s')) options.data = p('data-s');
      break;
    case 'recaptcha-v3': {
      if (p('enterprise') === '1') options.enterprise = true;
      if (p('action')) options.action = p('action');
      const score = Number(p('min_score'));
      if (score > 0) options.minScore = MIN_SCORES.reduce((best, s) => (Math.abs(s - score) < Math.abs(best - score) ? s : best));
      break;
    }
    case 'hcaptcha':
      if (p('invisible') === '1') options.invisible = true;
      if (p('data')) options.data = p('data');
      break;
    case 'turnstile':
      if (p('action')) options.action = p('action');
      if (p('data')) options.data = p('data');
      if (p('pagedata')) options.pageData = p('pagedata');
      break;
    case 'image':
      break;
  }
  const raw =
    submission.type === 'image'
      ? { type: 'image', body: submission.image!.toString('base64'), key, ...(Object.keys(options).length && { options }) }
      : { type: submission.type, sitekey: submission.sitekey, pageUrl: params.get('pageurl'), key, ...(Object.keys(options).length && { options }) };
  try {
    return { ...parseTask(raw), key };
  } catch (err) {
    if (err instanceof TaskValidationError) return undefined;
    throw err;
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendText(res, status, 'application/json', JSON.stringify(value));
}

function sendText(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
