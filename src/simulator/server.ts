// The simulator's HTTP face: node:http, request decoding (query, form, multipart, JSON), answer rendering (plain or
// json=1), injected transport faults, and the /admin/ endpoints. Behaviour lives in ./engine.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ZodError } from 'zod';
import { SimulatorEngine, type EngineOptions, type Handled, type SimulatedProvider, type TaskView } from './engine';
import { JSON_DIALECTS, JSON_PATHS, JsonApi, type JsonDialect, type JsonPath, type JsonReply } from './json-api';
import type { Endpoint, FaultRule, ScenarioSpec } from './scenarios';
import type { SimulatorStats } from './stats';
import { HttpError, listen, readBody } from '../http';
import { CallbackPusher, type CallbackScript, type PushTarget } from './callbacks';
import { decodeRequest } from '../providers/legacy-wire';

export type { SimulatorStats } from './stats';
export type { ScenarioSpec, Scenario, Rule, Outcome } from './scenarios';
export type { TaskView } from './engine';
export { JSON_DIALECTS, type JsonDialect } from './json-api';
export type { CallbackScript, CallbackStats } from './callbacks';

export interface SimulatorOptions extends Omit<EngineOptions, 'provider'> {
  /**
   * Whose quirks to imitate: a legacy provider (`2captcha` default, `captchaai`) for in.php / res.php, or a JSON
   * provider name, which sets `dialect` (so a configured CAPTCHA_PROVIDER can be passed as is).
   */
  provider?: SimulatedProvider | JsonDialect;
  /**
   * Dialect of the JSON endpoints (/createTask, /getTaskResult, /getBalance, reports): `2captcha-v2` (default),
   * `anticaptcha`, `capsolver` or `capmonster`. Both protocols are always served, on one engine.
   */
  dialect?: JsonDialect;
  /** JSON dialects' least gap between two polls of a task (default: capmonster 2 000 ms, others 0) */
  jsonMinPollIntervalMs?: number;
  /** JSON dialects' polls per task before the result is lost (default: capmonster and capsolver 120) */
  jsonMaxPollsPerTask?: number;
  /** default 0: an ephemeral port */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** added to every in.php / res.php answer (default 0) */
  latencyMs?: number;
  /** request bodies above this are refused with 413 (default 2 MiB) */
  maxBodyBytes?: number;
  /** how pushes to callback URLs are delivered (loss, duplicates, delay, retries); default: each once, on time */
  callbacks?: CallbackScript;
}

export interface Simulator {
  /**
   * base URL without a trailing slash: endpoints are `${url}/in.php`, `${url}/res.php`, `${url}/createTask`,
   * `${url}/getTaskResult`, `${url}/getBalance`, `${url}/admin/stats`
   */
  readonly url: string;
  /** the dialect of the JSON endpoints */
  readonly dialect: JsonDialect;
  readonly port: number;
  stats(): SimulatorStats;
  /** zeroes counters and peaks, forgets rate windows, lifts bans (tasks and scripts stay) */
  resetStats(): void;
  /** merges a script into the running one (`replace: true` drops the old one first); throws on a malformed script */
  setScenarios(spec: ScenarioSpec): void;
  /** replaces the push delivery script (POST /admin/callbacks does the same); throws on a malformed one */
  setCallbackScript(script: CallbackScript): void;
  /** a task by its id, as in.php or the JSON dialect showed it (CapSolver: the UUID) */
  task(id: string): TaskView | undefined;
  close(): Promise<void>;
}

const HTML_PAGE = (status: number): string =>
  `<!DOCTYPE html>\n<html><head><title>${status} ${status === 200 ? 'Maintenance' : 'Bad Gateway'}</title></head>` +
  `<body><center><h1>${status === 200 ? 'Service under maintenance' : `${status} Bad Gateway`}</h1></center>` +
  '<hr><center>nginx</center></body></html>\n';

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const jsonProvider = (JSON_DIALECTS as readonly string[]).includes(options.provider ?? '') ? (options.provider as JsonDialect) : undefined;
  const dialect = options.dialect ?? jsonProvider ?? '2captcha-v2';
  const { provider: _provider, ...engineOptions } = options;
  const engine = new SimulatorEngine({
    ...engineOptions,
    ...(options.provider && !jsonProvider && { provider: options.provider as SimulatedProvider }),
    // a JSON provider's ledger charges that provider's prices
    ...(jsonProvider && options.pricedAs === undefined && { pricedAs: jsonProvider }),
  });
  const jsonApi = new JsonApi(engine, {
    dialect,
    ...(options.jsonMinPollIntervalMs !== undefined && { minPollIntervalMs: options.jsonMinPollIntervalMs }),
    ...(options.jsonMaxPollsPerTask !== undefined && { maxPollsPerTask: options.jsonMaxPollsPerTask }),
  });
  const pushBody = (target: PushTarget) => {
    const answer = engine.pushAnswer(target.id);
    if (!answer) return undefined;
    if (target.family === 'json') return { contentType: 'application/json', body: JSON.stringify(jsonApi.pushBody(target.id, answer)) };
    const code = 'token' in answer ? answer.token : answer.code;
    return { contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams({ id: target.id, code }).toString() };
  };
  const pusher = new CallbackPusher(pushBody, (id) => engine.readyAtMs(id), options.callbacks, options.seed);
  const latencyMs = options.latencyMs ?? 0;
  const maxBodyBytes = options.maxBodyBytes ?? 2 * 1024 * 1024;
  const timers = new Set<NodeJS.Timeout>();

  const wait = (ms: number): Promise<void> =>
    ms <= 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          const timer = setTimeout(() => {
            timers.delete(timer);
            resolve();
          }, ms);
          timers.add(timer);
        });

  async function serveProvider(endpoint: Endpoint, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    engine.counters.requestStarted();
    res.once('close', () => engine.counters.requestEnded());
    const { params, files } = await decodeRequest(url, req, maxBodyBytes);
    const handled = engine.handle({ endpoint, params, files });
    const pingback = params.get('pingback');
    if (endpoint === 'in.php' && pingback && handled.reply.kind === 'answer' && handled.reply.ok) {
      const id = String(handled.reply.request);
      pusher.schedule({ id, url: pingback, family: 'legacy' }, engine.pingbackRegistered(id, pingback));
    }
    await wait(latencyMs + handled.delayMs);
    if (res.destroyed) return;
    render(handled, params, req, res);
  }

  async function serveJson(path: JsonPath, req: IncomingMessage, res: ServerResponse): Promise<void> {
    engine.counters.requestStarted();
    res.once('close', () => engine.counters.requestEnded());
    if (req.method !== 'POST') {
      await readBody(req, maxBodyBytes);
      return sendJson(res, 405, { errorId: 1, errorCode: 'ERROR_METHOD_NOT_ALLOWED', errorDescription: 'use POST with a JSON body' });
    }
    const text = (await readBody(req, maxBodyBytes)).toString('utf8');
    let body: unknown;
    try {
      body = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      body = {}; // like the real services: no fields, so the key check answers
    }
    const handled = await jsonApi.handle(path, body, wait);
    const callbackUrl = path === 'createTask' && body && typeof body === 'object' ? (body as { callbackUrl?: unknown }).callbackUrl : undefined;
    const created = handled.reply.kind === 'json' && handled.reply.body.errorId === 0 ? handled.reply.body.taskId : undefined;
    const engineId = created !== undefined && created !== null ? jsonApi.engineIdOf(String(created as string | number)) : undefined;
    if (typeof callbackUrl === 'string' && /^https?:\/\//.test(callbackUrl) && engineId) pusher.schedule({ id: engineId, url: callbackUrl, family: 'json' });
    await wait(latencyMs + handled.delayMs);
    if (res.destroyed) return;
    renderJson(handled.reply, req, res);
  }

  async function serveAdmin(path: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    if (path === '/admin/stats' && method === 'GET') return sendJson(res, 200, { ...engine.counters.snapshot(), callbacks: pusher.stats() });
    if (path === '/admin/callbacks' && method === 'POST') {
      const text = (await readBody(req, maxBodyBytes)).toString('utf8');
      try {
        pusher.setScript(text.trim() === '' ? {} : (JSON.parse(text) as CallbackScript));
      } catch (err) {
        if (err instanceof ZodError) throw err;
        throw new HttpError(400, 'body must be JSON');
      }
      return sendJson(res, 200, { ok: true });
    }
    if (path === '/admin/reset' && method === 'POST') {
      pusher.resetStats();
      engine.reset();
      return sendJson(res, 200, { ok: true });
    }
    if (path === '/admin/scenarios' && method === 'POST') {
      const body = (await readBody(req, maxBodyBytes)).toString('utf8');
      let spec: unknown;
      try {
        spec = body.trim() === '' ? {} : JSON.parse(body);
      } catch {
        throw new HttpError(400, 'body must be JSON');
      }
      if (url.searchParams.get('replace') === '1' && spec && typeof spec === 'object') spec = { ...spec, replace: true };
      engine.setScenarios(spec as ScenarioSpec);
      return sendJson(res, 200, { ok: true });
    }
    const taskMatch = /^\/admin\/tasks\/([^/]+)$/.exec(path);
    if (taskMatch?.[1] && method === 'GET') {
      const task = engine.task(decodeURIComponent(taskMatch[1]));
      return task ? sendJson(res, 200, task) : sendJson(res, 404, { error: 'no such task' });
    }
    sendJson(res, 404, { error: `no admin route ${method} ${path}` });
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const path = url.pathname;
    const endpoint: Endpoint | undefined = path === '/in.php' ? 'in.php' : path === '/res.php' ? 'res.php' : undefined;
    const jsonPath = (JSON_PATHS as readonly string[]).includes(path.slice(1)) ? (path.slice(1) as JsonPath) : undefined;
    const work = endpoint
      ? serveProvider(endpoint, url, req, res)
      : jsonPath
        ? serveJson(jsonPath, req, res)
        : path.startsWith('/admin/')
        ? serveAdmin(path, url, req, res)
        : Promise.resolve(sendText(res, 404, 'text/plain; charset=utf-8', 'Not Found'));
    work.catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof HttpError) return sendJson(res, error.status, { error: error.message });
      if (error instanceof ZodError) return sendJson(res, 400, { error: 'invalid scenario', issues: error.issues });
      sendJson(res, 500, { error: 'simulator failure', message: error instanceof Error ? error.message : String(error) });
    });
  });
  server.keepAliveTimeout = 5_000;

  const listening = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1', () => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  });

  return {
    url: listening.url,
    port: listening.port,
    dialect,
    stats: () => ({ ...engine.counters.snapshot(), callbacks: pusher.stats() }),
    resetStats: () => {
      pusher.resetStats();
      engine.reset();
    },
    setCallbackScript: (script) => pusher.setScript(script),
    setScenarios: (spec) => engine.setScenarios(spec),
    task: (id) => engine.task(id) ?? engine.task(jsonApi.engineIdOf(id) ?? id),
    close: () => {
      pusher.close();
      return listening.close();
    },
  };
}

// ---- rendering ----------------------------------------------------------------------------------------------------

function render(handled: Handled, params: ReadonlyMap<string, string>, req: IncomingMessage, res: ServerResponse): void {
  const reply = handled.reply;
  if (reply.kind === 'fault') return renderFault(reply.rule, req, res);
  if (params.get('header_acao') === '1') res.setHeader('Access-Control-Allow-Origin', '*');
  if (params.get('json') === '1') {
    sendJson(res, 200, {
      status: reply.ok ? 1 : 0,
      request: reply.jsonRequest ?? reply.request,
      ...reply.fields,
      ...(reply.errorText !== undefined && { error_text: reply.errorText }),
    });
  } else {
    sendText(res, 200, 'text/plain; charset=utf-8', reply.plain);
  }
}

function renderJson(reply: JsonReply, req: IncomingMessage, res: ServerResponse): void {
  if (reply.kind === 'fault') return renderFault(reply.rule, req, res);
  sendJson(res, reply.status, reply.body);
}

function renderFault(rule: FaultRule, req: IncomingMessage, res: ServerResponse): void {
  switch (rule.type) {
    case 'reset':
      req.socket.destroy();
      return;
    case 'http':
      return sendText(res, rule.status, 'text/html', HTML_PAGE(rule.status));
    case 'html':
      return sendText(res, rule.status, 'text/html', HTML_PAGE(rule.status));
    case 'bad-json':
      return sendText(res, 200, 'application/json', '{"status":1,"request":"');
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendText(res, status, 'application/json', JSON.stringify(value));
}

function sendText(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
