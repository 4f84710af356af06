// The one place that knows how to reach Temporal: address, namespace, TLS / mTLS / API key, and the data converter
// (payload encryption, src/codec.ts) that client and worker must share.
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { codecDataConverter } from './codec';
import type { Config } from './config';

type TlsOption = boolean | { serverNameOverride?: string; serverRootCACertificate?: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } };

function tlsOptions(config: Config): TlsOption | undefined {
  const tls = config.temporal.tls;
  if (!tls) return undefined;
  return {
    ...(tls.serverName && { serverNameOverride: tls.serverName }),
    ...(tls.caPath && { serverRootCACertificate: readFileSync(tls.caPath) }),
    ...(tls.certPath && tls.keyPath && { clientCertPair: { crt: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) } }),
  };
}

/**
 * What `Connection.connect` and `NativeConnection.connect` get (exported for tests: no network). With an API key the
 * namespace also travels as the `temporal-namespace` header, which Temporal Cloud's regional endpoints route by.
 */
export function connectionOptions(config: Config) {
  const tls = tlsOptions(config);
  return {
    address: config.temporal.address,
    ...(tls !== undefined && { tls }),
    ...(config.temporal.apiKey && {
      apiKey: config.temporal.apiKey,
      metadata: { 'temporal-namespace': config.temporal.namespace },
    }),
  };
}

/** The data converter of every client and worker: the AES-GCM codec when TEMPORAL_CODEC_KEYS is set. */
export function dataConverterFor(config: Config): DataConverter | undefined {
  return codecDataConverter(config.temporal.codecKeys);
}

export async function connectClient(config: Config, identity?: string): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(config));
  const dataConverter = dataConverterFor(config);
  return new Client({ connection, namespace: config.temporal.namespace, ...(identity && { identity }), ...(dataConverter && { dataConverter }) });
}

export async function connectWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
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
