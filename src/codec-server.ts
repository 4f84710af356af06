// `npm run codec-server`: a Temporal codec server, so that the Web UI (and `temporal workflow show
// --codec-endpoint …`) can show the payloads that src/codec.ts encrypted. It implements the codec-server protocol:
//   POST /encode and POST /decode, body {"payloads":[{"metadata":{"encoding":"<base64>",…},"data":"<base64>"}]},
//   answer in the same shape; CORS for the Web UI's origin (preflight included).
// The keys come from TEMPORAL_CODEC_KEYS, as for client and worker. Anyone who can reach this server can decrypt:
// it listens on 127.0.0.1 by default, answers only the listed browser origins, and with CODEC_SERVER_AUTH_TOKEN set it
// requires `Authorization: Bearer <token>` (the Web UI sends the user's token when told to pass it along).
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { AesGcmPayloadCodec, formatCodecKeys, generateCodecKey } from './codec';
import { ConfigError, loadConfig } from './config';
import { HttpError, listen, readBody } from './http';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** default 8888; 0: any free port */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** browser origins allowed by CORS (exact match, or "*"); default the local Web UI at port 8233 */
  origins?: readonly string[];
  /** when set, POSTs need `Authorization: Bearer <token>` */
  authToken?: string;
  /** request bodies above this are refused with 413; default 8 MiB */
  maxBodyBytes?: number;
}

export interface CodecServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_UI_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'] as const;

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const origins = new Set(options.origins ?? DEFAULT_UI_ORIGINS);
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const token = options.authToken ? Buffer.from(`Bearer ${options.authToken}`) : undefined;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      const status = err instanceof HttpError ? err.status : 500;
      send(res, status, { error: err instanceof Error ? err.message : String(err) });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const origin = req.headers.origin;
    if (origin && (origins.has('*') || origins.has(origin))) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const path = new URL(req.url ?? '/', 'http://codec').pathname.replace(/\/+$/, '');
    const operation = path.endsWith('/encode') ? 'encode' : path.endsWith('/decode') ? 'decode' : undefined;
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Max-Age', '600');
      res.writeHead(204).end();
      return;
    }
    if (!operation) throw new HttpError(404, 'POST /encode or /decode');
    if (req.method !== 'POST') throw new HttpError(405, `${operation} takes POST`);
    if (token) {
      const given = Buffer.from(req.headers.authorization ?? '');
      if (given.length !== token.length || !timingSafeEqual(given, token)) throw new HttpError(401, 'missing or wrong Authorization');
    }
    const body = (await readBody(req, maxBodyBytes)).toString('utf8');
    const payloads = parsePayloads(body);
    let out: Payload[];
    try {
      out = operation === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
    } catch (err) {
      throw new HttpError(400, `cannot ${operation}: ${err instanceof Error ? err.message : String(err)}`);
    }
    send(res, 200, { payloads: out.map(toJson) });
  }

  return listen(server, options.port ?? 8888, options.host ?? '127.0.0.1');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function parsePayloads(body: string): Payload[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new HttpError(400, 'the body must be JSON: {"payloads":[…]}');
  }
  const list = (json as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(list)) throw new HttpError(400, 'the body must be {"payloads":[…]}');
  return list.map((p: unknown, i): Payload => {
    if (typeof p !== 'object' || p === null) throw new HttpError(400, `payloads[${i}] is not an object`);
    const { metadata, data } = p as JsonPayload;
    const bytes = (value: unknown, where: string): Uint8Array => {
      if (typeof value !== 'string' || !BASE64.test(value)) throw new HttpError(400, `${where} must be base64`);
      return Buffer.from(value, 'base64');
    };
    const meta: Record<string, Uint8Array> = {};
    if (metadata !== undefined && metadata !== null) {
      if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new HttpError(400, `payloads[${i}].metadata must be an object`);
      for (const [k, v] of Object.entries(metadata)) meta[k] = bytes(v, `payloads[${i}].metadata.${k}`);
    }
    return { metadata: meta, data: data === undefined || data === null ? new Uint8Array() : bytes(data, `payloads[${i}].data`) };
  });
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// ---------------------------------------------------------------------------------------------------------------------

const HELP = `npm run codec-server [-- options]

Serves POST /encode and /decode for the Temporal Web UI with the keys in TEMPORAL_CODEC_KEYS
("id:base64key,…", the first encrypts). Point the UI at it:
  temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8888     (local dev server)
  Temporal Cloud: Namespace settings → Codec Server → http://127.0.0.1:8888, origin https://cloud.temporal.io

  --port N              default 8888
  --host H              default 127.0.0.1 (keep it local: whoever reaches it can decrypt)
  --origin URL          a Web UI origin allowed by CORS (repeatable; default http://localhost:8233, http://127.0.0.1:8233)
  --generate-key ID     print a new TEMPORAL_CODEC_KEYS entry (ID:base64 of 32 random bytes) and exit
  -h, --help
Environment: CODEC_SERVER_AUTH_TOKEN (optional) requires "Authorization: Bearer <token>".
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8888' },
      host: { type: 'string', default: '127.0.0.1' },
      origin: { type: 'string', multiple: true },
      'generate-key': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  if (values['generate-key'] !== undefined) {
    return void process.stdout.write(`${formatCodecKeys([generateCodecKey(values['generate-key'])])}\n`);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError(`--port must be a port number, got ${values.port}`);
  const keys = loadConfig().temporal.codecKeys;
  if (!keys) throw new ConfigError('TEMPORAL_CODEC_KEYS is not set: nothing to decode with (see --help)');
  const codec = new AesGcmPayloadCodec(keys);
  const server = await startCodecServer({
    codec,
    port,
    host: values.host,
    ...(values.origin && { origins: values.origin }),
    ...(process.env.CODEC_SERVER_AUTH_TOKEN && { authToken: process.env.CODEC_SERVER_AUTH_TOKEN }),
  });
  console.log(
    `codec server at ${server.url} (encrypts with key "${codec.currentKeyId}", decrypts ${codec.keyIds.join(', ')}); ` +
      `CORS origins: ${(values.origin ?? DEFAULT_UI_ORIGINS).join(', ')}`,
  );
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
