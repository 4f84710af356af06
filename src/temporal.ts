// The one place that knows how to reach Temporal: address, namespace, TLS / mTLS / API key, and the data converter
// (payload encryption, src/codec.ts) that client and worker must share.
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { ConfigDataSource } from '@temporalio/envconfig';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { codecDataConverter } from './codec';
import type { Config } from './config';

type TlsOption = boolean | { serverNameOverride?: string; serverRootCACertificate?: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } };

/** A certificate or key from a profile or the environment: a file (read now; a missing one is named) or inline PEM. */
function pem(source: ConfigDataSource): Buffer {
  return 'path' in source ? readFileSync(source.path) : Buffer.from(source.data);
}

function tlsOptions(config: Config): TlsOption | undefined {
  const tls = config.temporal.tls;
  if (!tls) return undefined;
  return {
    ...(tls.serverName && { serverNameOverride: tls.serverName }),
    ...(tls.serverCACert && { serverRootCACertificate: pem(tls.serverCACert) }),
    ...(tls.clientCert && tls.clientKey && { clientCertPair: { crt: pem(tls.clientCert), key: pem(tls.clientKey) } }),
  };
}

/**
 * What `Connection.connect` and `NativeConnection.connect` get (exported for tests: no network). With an API key the
 * namespace also travels as the `temporal-namespace` header, which Temporal Cloud's regional endpoints route by.
 */
export function connectionOptions(config: Config) {
  const tls = tlsOptions(config);
  const metadata = {
    ...config.temporal.grpcMeta,
    ...(config.temporal.apiKey && { 'temporal-namespace': config.temporal.namespace }),
  };
  return {
    address: config.temporal.address,
    ...(tls !== undefined && { tls }),
    ...(config.temporal.apiKey && { apiKey: config.temporal.apiKey }),
    ...(Object.keys(metadata).length > 0 && { metadata }),
  };
}

/** The data converter of every client and worker: the AES-GCM codec when TEMPORAL_CODEC_KEYS is set. */
export function dataConverterFor(config: Config): DataConverter | undefined {
  return codecDataConverter(config.temporal.codecKeys);
}

/** The server did not answer within TEMPORAL_CONNECT_TIMEOUT_MS, or refused: one sentence, no transport internals. */
export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
  constructor(config: Config, cause: unknown) {
    const { address, namespace, connectTimeoutMs, profile } = config.temporal;
    const from = profile ? `, profile ${profile.name} of ${profile.file}` : '';
    super(
      `cannot reach Temporal at ${address} (namespace ${namespace}${from}): ${connectProblem(cause, connectTimeoutMs)}; ` +
        'is the server running? Set TEMPORAL_ADDRESS (and the TLS settings) or a temporal.toml profile, or start a local stack with `npx captcha-dlq dev`.',
    );
  }
}

/** "connection refused", "no answer within 5 s", …: what went wrong, in words (the raw error names Rust and gRPC types). */
function connectProblem(err: unknown, timeoutMs: number): string {
  const text = err instanceof Error ? err.message : String(err);
  if (/refused/i.test(text)) return 'connection refused';
  if (/deadline|timed? ?out/i.test(text)) return `no answer within ${timeoutMs / 1000} s (TEMPORAL_CONNECT_TIMEOUT_MS)`;
  if (/dns|resolve|ENOTFOUND|EAI_AGAIN|lookup/i.test(text)) return 'unknown host';
  if (/tls|certificate|handshake|ssl/i.test(text)) return 'the TLS handshake failed';
  return (text.split('\n')[0] ?? '').replace(/tonic::transport::Error\(|ConnectError\(/g, '').slice(0, 160);
}

/**
 * A plain TCP connect to `host:port` first: a refused port or an unknown host is known at once, where the gRPC
 * client would retry until its deadline. Anything else (no answer yet, a proxy in the way) is left to the real connect.
 */
async function probe(config: Config): Promise<void> {
  const m = /^\[?([^\]/]+?)\]?:(\d{1,5})$/.exec(config.temporal.address);
  if (!m || process.env.grpc_proxy || process.env.https_proxy || process.env.HTTPS_PROXY) return;
  const problem = await new Promise<Error | undefined>((resolvePromise) => {
    const socket = netConnect({ host: m[1]!, port: Number(m[2]), autoSelectFamily: true });
    const done = (err?: Error) => {
      socket.destroy();
      resolvePromise(err);
    };
    socket.setTimeout(Math.min(config.temporal.connectTimeoutMs, 2_000), () => done());
    socket.once('connect', () => done());
    socket.once('error', (err: NodeJS.ErrnoException) => done(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'].includes(err.code ?? '') ? err : undefined));
  });
  if (problem) throw new TemporalUnreachableError(config, problem);
}

export async function connectClient(config: Config, identity?: string): Promise<Client> {
  await probe(config);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions(config), connectTimeout: config.temporal.connectTimeoutMs });
  } catch (err) {
    throw new TemporalUnreachableError(config, err);
  }
  const dataConverter = dataConverterFor(config);
  return new Client({ connection, namespace: config.temporal.namespace, ...(identity && { identity }), ...(dataConverter && { dataConverter }) });
}

/** The worker's connection; it has no deadline of its own, so the wait is bounded here (a late connection is closed). */
export async function connectWorker(config: Config): Promise<NativeConnection> {
  await probe(config);
  const connecting = NativeConnection.connect(connectionOptions(config));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('deadline')), config.temporal.connectTimeoutMs);
  });
  try {
    return await Promise.race([connecting, deadline]);
  } catch (err) {
    void connecting.then(
      (late) => late.close(), // it came after the deadline: nobody will use it
      () => undefined, // it failed: that failure is the one reported below, or came after the deadline
    );
    throw new TemporalUnreachableError(config, err);
  } finally {
    clearTimeout(timer);
  }
}

export interface RuntimeMetricsOptions {
  /** `host:port` of the SDK's Prometheus exporter (worker and connection metrics, `temporal_` prefix, at /metrics) */
  prometheusBindAddress: string;
}

/**
 * The worker runtime's log level and, optionally, the SDK's Prometheus exporter (once per process, before any worker or
 * connection). src/metrics.ts relays that exporter's text into the worker's own /metrics.
 */
export function installRuntime(level: Config['logLevel'], options: { metrics?: RuntimeMetricsOptions } = {}): void {
  Runtime.install({
    logger: new DefaultLogger(level),
    ...(options.metrics && { telemetryOptions: { metrics: { prometheus: { bindAddress: options.metrics.prometheusBindAddress } } } }),
  });
}
