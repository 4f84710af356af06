// The DLQ console: a small node:http server rendering HTML on the server, with one little script for live numbers.
// No framework and no front-end build: a handful of pages and forms need neither, and every byte sent is ours to escape.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { DlqRequestTooLargeError, type CaptchaSolver } from '../client';
import { CONSOLE_CSS, CONSOLE_JS } from './assets';
import { listBatches, preview, readEntry, readOrderProgress, readStats, runOrder, statsView } from './data';
import { layout, type LayoutOptions, type SafeHtml } from './html';
import { InputError, parseBatchAction, parseListQuery, parseOrder, parseWorkflowId } from './input';
import { Guard, isLoopback } from './security';
import { auditPage, batchesPage, entriesPage, entryPage, errorPage, loginPage, overviewPage, previewPage, resultPage, type ViewContext } from './views';

export interface ConsoleOptions {
  solver: CaptchaSolver;
  /** default 127.0.0.1 */
  host?: string;
  /** default 8088; 0: any free port */
  port?: number;
  /** required when bound beyond loopback (then for every page and action); given on loopback, required for actions */
  token?: string;
  /** the Temporal Web UI's base URL (links to solves and retries); absent: no links */
  temporalUiUrl?: string;
  /** who the audit log names for the console's orders; default `console@<hostname>` */
  by?: string;
}

export interface ConsoleServer {
  url: string;
  host: string;
  port: number;
  tokenMode: boolean;
  close(): Promise<void>;
}

/** What a console bound beyond loopback serves without the token: the sign-in page and its assets. */
const PUBLIC_PATHS = ['/login', '/console.css', '/console.js'];

/** Request bodies larger than this are refused (a page of ticked ids fits with room). */
export const BODY_MAX_BYTES = 128 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  const host = options.host ?? '127.0.0.1';
  const loopback = isLoopback(host);
  const token = options.token || undefined;
  if (!loopback && !token) throw new Error(`the console binds to ${host}, beyond this machine: give it a token (CONSOLE_TOKEN) for actions`);
  if (token !== undefined && token.length < 16) throw new Error('the console token must be at least 16 characters');
  const guard = new Guard(token !== undefined, token, loopback);
  const by = options.by ?? `console@${hostname()}`;
  const { solver } = options;
  const ui = options.temporalUiUrl ? { url: options.temporalUiUrl, namespace: solver.config.temporal.namespace } : undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const method = req.method ?? 'GET';
    const hostProblem = guard.checkHost(req);
    if (hostProblem) throw new HttpError(421, hostProblem);
    const credential = guard.credential(req);
    const canAct = !guard.tokenMode || credential !== undefined;
    const ctx: ViewContext = { csrf: guard.csrfToken(), canAct, tokenMode: guard.tokenMode, ...(ui && { ui }) };
    const page = (status: number, title: string, nav: LayoutOptions['nav'], body: SafeHtml, headers: Record<string, string> = {}) =>
      send(res, status, 'text/html; charset=utf-8', layout({ title, nav, tokenMode: guard.tokenMode, signedIn: credential !== undefined }, body), headers);
    const path = url.pathname;

    if (method === 'GET' || method === 'HEAD') {
      // bound beyond loopback, reading needs the token too: the DLQ holds sitekeys and page URLs
      if (!loopback && credential === undefined && !PUBLIC_PATHS.includes(path)) {
        if (path.startsWith('/api/')) throw new HttpError(401, 'this console needs its token: send Authorization: Bearer <token>.');
        return redirect(res, '/login');
      }
      if (path === '/console.css') return send(res, 200, 'text/css; charset=utf-8', CONSOLE_CSS, { 'cache-control': 'max-age=300' });
      if (path === '/console.js') return send(res, 200, 'text/javascript; charset=utf-8', CONSOLE_JS, { 'cache-control': 'max-age=300' });
      if (path === '/api/stats') return send(res, 200, 'application/json', JSON.stringify(statsView(await readStats(solver))));
      if (path === '/api/batches') return send(res, 200, 'application/json', JSON.stringify(await listBatches(solver)));
      if (path.startsWith('/api/orders/')) {
        const progress = await readOrderProgress(solver, parseWorkflowId(path.slice('/api/orders/'.length)));
        if (!progress) throw new HttpError(404, 'no retry order with that request id is in the audit log, or its outcomes are not tracked.');
        return send(res, 200, 'application/json', JSON.stringify(progress));
      }
      if (path === '/') return page(200, 'Overview', 'overview', overviewPage(statsView(await readStats(solver)), solver.dlq().workflowId));
      if (path === '/entries') {
        const input = parseListQuery(url.searchParams);
        const list = await orUndefined(solver.dlq().list({ ...input.filter, limit: input.limit, ...(input.cursor && { cursor: input.cursor }) }));
        return page(200, 'Entries', 'entries', entriesPage(ctx, input, list));
      }
      if (path.startsWith('/entries/')) {
        const id = parseWorkflowId(path.slice('/entries/'.length));
        const entry = await orUndefined(readEntry(solver, id));
        if (!entry) throw new HttpError(404, `no entry ${id} is held (recovered, discarded, purged, or never there).`);
        return page(200, `Entry ${id}`, 'entries', entryPage(ctx, entry));
      }
      if (path === '/audit') return page(200, 'Audit', 'audit', auditPage((await orUndefined(solver.dlq().audit({ limit: 200 }))) ?? []));
      if (path === '/batches') return page(200, 'Batches', 'batches', batchesPage(ctx, await listBatches(solver)));
      if (path === '/login') return page(200, 'Sign in', undefined, loginPage(ctx));
      throw new HttpError(404, 'there is no such page.');
    }
    if (method !== 'POST') throw new HttpError(405, `${method.slice(0, 10)} is not allowed here.`);

    // every POST: from this console's own pages (Origin, CSRF token) or a script holding the token (Bearer)
    if (req.headers.authorization !== undefined && credential !== 'bearer') throw new HttpError(401, 'the Authorization header does not hold this console\'s token.');
    const form = await readForm(req);
    if (credential !== 'bearer') {
      const originProblem = guard.checkOrigin(req);
      if (originProblem) throw new HttpError(403, originProblem);
      if (!guard.checkCsrf(form.get('csrf'))) throw new HttpError(403, 'the form is stale or not from this console: reload the page and try again.');
    }
    if (path === '/login') {
      if (!guard.tokenMode) return redirect(res, '/');
      const candidate = form.get('token') ?? '';
      if (candidate.length > 512 || !guard.checkToken(candidate)) return page(401, 'Sign in', undefined, loginPage(ctx, 'That token is not this console\'s token.'));
      return redirect(res, '/entries', { 'set-cookie': guard.sessionCookie() });
    }
    if (!canAct) throw new HttpError(401, 'actions need the console token: sign in first (or send Authorization: Bearer <token>).');
    if (path === '/actions/preview') {
      const order = parseOrder(form);
      return page(200, 'Check the order', 'entries', previewPage(ctx, await preview(solver, order, by)));
    }
    if (path === '/actions/run') {
      const order = parseOrder(form);
      if (!order.reason?.trim()) throw new HttpError(400, `a reason is required to ${order.operation}: it goes into the audit log.`);
      if (!order.requestId) throw new HttpError(400, 'the order has no request id: start it from the entries page.');
      const outcome = await runOrder(solver, { ...order, reason: order.reason.trim(), requestId: order.requestId }, by);
      return page(200, 'Done', 'entries', resultPage(outcome, statsView(await readStats(solver))));
    }
    const batchAction = /^\/batches\/([^/]+)\/(cancel|resume)$/.exec(path);
    if (batchAction) {
      const batchId = parseWorkflowId(batchAction[1]!);
      const { reason } = parseBatchAction(new URLSearchParams([...form].filter(([k]) => k !== 'csrf')));
      const b = solver.batch(batchId);
      if (batchAction[2] === 'cancel') await b.cancel();
      else await b.resume(reason ? `${reason} (${by})` : `resumed from the console (${by})`);
      return redirect(res, '/batches');
    }
    throw new HttpError(404, 'there is no such action.');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const [status, message] = refusal(err);
      if (status >= 500) console.error('console: request failed', err);
      if (res.headersSent) return res.end();
      if ((req.headers.accept ?? '').includes('application/json') && !(req.headers.accept ?? '').includes('text/html')) {
        return send(res, status, 'application/json', JSON.stringify({ error: message }));
      }
      send(res, status, 'text/html; charset=utf-8', layout({ title: 'Not done', tokenMode: guard.tokenMode, signedIn: false }, errorPage(message)));
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8088, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    host,
    port,
    tokenMode: guard.tokenMode,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Status and one sentence for what went wrong. */
function refusal(err: unknown): [number, string] {
  if (err instanceof HttpError) return [err.status, err.message];
  if (err instanceof InputError || err instanceof DlqRequestTooLargeError) return [400, err.message];
  if (err instanceof WorkflowUpdateFailedError) return [400, `the DLQ refused: ${err.cause?.message ?? err.message}`];
  if (err instanceof WorkflowNotFoundError) return [404, 'no such workflow: the DLQ is not running yet (no failure recorded), or the batch does not exist.'];
  const m = err instanceof Error ? err.message : String(err);
  if (/invalid (list|stats|audit) request|cursor "/.test(m)) return [400, m.replace(/^.*?(invalid \w+ request:|cursor ")/s, '$1').slice(0, 300)];
  if (/is not (a batch|the DLQ)/.test(m)) return [400, m.slice(0, 300)];
  return [500, 'the console could not complete this: see its log.'];
}

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (type !== 'application/x-www-form-urlencoded') throw new HttpError(415, 'send the form as application/x-www-form-urlencoded.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_MAX_BYTES) throw new HttpError(413, `the form is over ${BODY_MAX_BYTES / 1024} KB: select fewer entries or act on a filter.`);
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { ...SECURITY_HEADERS, location, ...headers });
  res.end();
}
