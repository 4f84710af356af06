// The callback receiver: the HTTP endpoint a provider pushes a solved task to (legacy pingback: a form with `id` and
// `code`; JSON family: the getTaskResult body with `taskId`). A push whose URL carries a valid HMAC of a workflow id
// completes that solve's waiting poll activity (matched by the provider task id in its heartbeat details) with the
// token, by the activity's id: no signal, no timer, no extra history event. Anything else is refused (403), counted.
//
// It runs inside the worker process: the worker already holds the signing key and a Temporal client, so no other
// service needs them; every worker can verify any URL (one key per deployment) and complete any solve's poll, so a load
// balancer in front of the workers may send a push to any of them.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ActivityNotFoundError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { Counter, type Registry } from 'prom-client';
import type { PollHeartbeat, Polled } from '../../activities/solve';
import type { CallbackInbox } from './inbox';
import { CALLBACK_PATH, verifyCallbackRef } from './tokens';

/** A provider's push, read and bounded. */
export interface CallbackPush {
  providerTaskId: string;
  /** the answer, when the push carries one */
  token?: string;
  /** the provider's error code instead: the poll activity learns it itself when it polls */
  code?: string;
}

/**
 * accepted: the waiting poll completed with the token; finished: valid, but nothing waits for it any more (a late or
 * duplicate push, or the poll got there first); ignored: an error push; forged: bad HMAC or path; malformed: valid
 * URL, unreadable body; failed: no poll to complete yet, or Temporal unreachable (503: the provider retries)
 */
export type CallbackOutcome = 'accepted' | 'finished' | 'ignored' | 'forged' | 'malformed' | 'failed';

export interface CallbackReceiverOptions {
  client: Client;
  /** the signing key (tokens.ts callbackKey) */
  key: Buffer;
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: any free port */
  port?: number;
  /** a push larger than this is refused with 413 (default 64 KiB: a reCAPTCHA token is ~2–4 KB) */
  maxBodyBytes?: number;
  /** where `captcha_callbacks_total{outcome}` is registered (the worker's metrics) */
  registry?: Registry;
  /** the worker's inbox: a poll running in this process gets its push without a round trip to Temporal */
  inbox?: CallbackInbox;
  /** how long a push waits for its poll activity to start (a push may beat the submit's answer); default 5 000 ms */
  pendingWaitMs?: number;
  /** told about each push (logs) */
  onPush?: (outcome: CallbackOutcome, detail: { workflowId?: string; remote?: string }) => void;
}

export interface CallbackReceiver {
  /** `http://host:port` the receiver listens on (the public URL is CAPTCHA_CALLBACK_URL, in front of it) */
  readonly url: string;
  readonly port: number;
  /** pushes by outcome since the start */
  stats(): Record<CallbackOutcome, number>;
  close(): Promise<void>;
}

const MAX_TOKEN = 16_384;
const TASK_ID = /^[A-Za-z0-9_-]{1,64}$/;
const CODE = /^(?:[A-Z][A-Z0-9_]*|ERROR:\s*\d+)$/;

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly outcome: CallbackOutcome,
    message: string,
  ) {
    super(message);
  }
}

export async function startCallbackReceiver(options: CallbackReceiverOptions): Promise<CallbackReceiver> {
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const pendingWaitMs = options.pendingWaitMs ?? 5_000;
  const counts: Record<CallbackOutcome, number> = { accepted: 0, finished: 0, ignored: 0, forged: 0, malformed: 0, failed: 0 };
  const counter =
    options.registry &&
    ((options.registry.getSingleMetric('captcha_callbacks_total') as Counter | undefined) ??
      new Counter({ name: 'captcha_callbacks_total', help: 'Provider pushes received, by outcome (forged: refused, bad HMAC)', labelNames: ['outcome'], registers: [options.registry] }));
  const count = (outcome: CallbackOutcome, detail: { workflowId?: string; remote?: string }) => {
    counts[outcome]++;
    counter?.inc({ outcome });
    try {
      options.onPush?.(outcome, detail);
    } catch {
      // a hook never fails a push
    }
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const remote = req.socket.remoteAddress;
    const url = new URL(req.url ?? '/', 'http://receiver');
    const ref = url.pathname.startsWith(CALLBACK_PATH) ? url.pathname.slice(CALLBACK_PATH.length) : '';
    const workflowId = ref && (req.method === 'POST' || req.method === 'GET') ? verifyCallbackRef(options.key, ref) : undefined;
    if (!workflowId) {
      req.resume();
      count('forged', { ...(remote && { remote }) });
      return send(res, 403, 'forbidden');
    }
    let push: CallbackPush;
    try {
      push = parsePush(url.searchParams, await readBody(req, maxBodyBytes), req.headers['content-type'] ?? '');
    } catch (err) {
      const refusal = err instanceof Refusal ? err : new Refusal(400, 'malformed', 'unreadable push');
      count(refusal.outcome, { workflowId });
      return send(res, refusal.status, refusal.message);
    }
    let outcome: CallbackOutcome;
    try {
      outcome = await deliver(workflowId, push);
    } catch {
      outcome = 'failed';
    }
    count(outcome, { workflowId });
    // anything but `failed` is acknowledged, so the provider stops retrying
    send(res, outcome === 'failed' ? 503 : 200, outcome === 'failed' ? 'try again' : 'OK');
  }

  /** Completes the solve's poll activity that waits for `push.providerTaskId`. */
  async function deliver(workflowId: string, push: CallbackPush): Promise<CallbackOutcome> {
    if (push.token === undefined) return 'ignored';
    const inbox = options.inbox;
    const converter = options.client.options.loadedDataConverter;
    const deadline = Date.now() + pendingWaitMs;
    for (;;) {
      // a poll of this worker that started meanwhile takes it in memory
      if (inbox?.offer(workflowId, push.providerTaskId, push.token)) return 'accepted';
      let description;
      try {
        description = await options.client.workflow.getHandle(workflowId).describe();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return 'finished';
        throw err;
      }
      if (inbox?.taken(workflowId, push.providerTaskId)) return 'accepted';
      if (description.status.name !== 'RUNNING') return 'finished';
      let otherTask = false;
      for (const activity of description.raw.pendingActivities ?? []) {
        if (activity.activityType?.name !== 'pollCaptcha' || !activity.activityId) continue;
        const [beat] = (await decodeArrayFromPayloads(converter, activity.heartbeatDetails?.payloads)) as (Partial<PollHeartbeat> | undefined)[];
        if (beat?.providerTaskId !== push.providerTaskId) {
          otherTask ||= beat?.providerTaskId !== undefined;
          continue;
        }
        const result: Polled = { token: push.token, polls: beat.polls ?? 0, solvedAt: new Date().toISOString() };
        try {
          await options.client.activity.complete({ workflowId, runId: description.runId, activityId: activity.activityId }, result);
          return 'accepted';
        } catch (err) {
          // completed already: by its own poll, or by a duplicate of this push
          if (err instanceof ActivityNotFoundError) return 'finished';
          throw err;
        }
      }
      // a poll of another task: a late push of an earlier round, nothing waits for it
      if (otherTask) return 'finished';
      // no poll waits for this task yet (the push beat the submit's answer): the provider retries after a 503
      if (Date.now() >= deadline) return 'failed';
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'error');
    });
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    stats: () => ({ ...counts }),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** A push in either family's shape: form/query `id` + `code` (legacy), or JSON with `taskId` (getTaskResult's body). */
export function parsePush(query: URLSearchParams, body: Buffer, contentType: string): CallbackPush {
  const text = body.toString('utf8').trim();
  if (contentType.toLowerCase().startsWith('application/json') || text.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Refusal(400, 'malformed', 'body is not JSON');
    }
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Refusal(400, 'malformed', 'body is not a JSON object');
    const o = json as Record<string, unknown>;
    const providerTaskId = taskIdOf(o.taskId ?? o.id);
    const errorId = Number(o.errorId ?? 0);
    if (errorId !== 0) return { providerTaskId, code: codeOf(o.errorCode) };
    const solution = o.solution && typeof o.solution === 'object' ? (o.solution as Record<string, unknown>) : undefined;
    const token = solution?.gRecaptchaResponse ?? solution?.token ?? solution?.text;
    if (o.status !== 'ready' || typeof token !== 'string' || token === '') throw new Refusal(400, 'malformed', 'no solution in the push');
    return { providerTaskId, token: tokenOf(token) };
  }
  const form = new URLSearchParams(text);
  const get = (name: string) => form.get(name) ?? query.get(name) ?? undefined;
  const providerTaskId = taskIdOf(get('id'));
  const code = get('code');
  if (code === undefined || code === '') throw new Refusal(400, 'malformed', 'no code in the push');
  // an answer shaped like a provider code is an error (an image answer in capitals is rare; the solve polls then)
  return CODE.test(code) && (code.startsWith('ERROR') || code.startsWith('CAPCHA')) ? { providerTaskId, code: codeOf(code) } : { providerTaskId, token: tokenOf(code) };
}

function taskIdOf(raw: unknown): string {
  const id = typeof raw === 'number' ? String(raw) : raw;
  if (typeof id !== 'string' || !TASK_ID.test(id)) throw new Refusal(400, 'malformed', 'no task id of the expected shape in the push');
  return id;
}

function tokenOf(token: string): string {
  if (token.length > MAX_TOKEN) throw new Refusal(413, 'malformed', 'token too long');
  return token;
}

function codeOf(raw: unknown): string {
  return typeof raw === 'string' && CODE.test(raw) && raw.length <= 64 ? raw : 'UNKNOWN';
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) throw new Refusal(413, 'malformed', 'push too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
