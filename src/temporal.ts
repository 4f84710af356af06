// The one place that knows how to reach Temporal: address, namespace, TLS / mTLS / API key.
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
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

function connectionOptions(config: Config) {
  const tls = tlsOptions(config);
  return {
    address: config.temporal.address,
    ...(tls !== undefined && { tls }),
    ...(config.temporal.apiKey && { apiKey: config.temporal.apiKey }),
  };
}

export async function connectClient(config: Config, identity?: string): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(config));
  return new Client({ connection, namespace: config.temporal.namespace, ...(identity && { identity }) });
}

export async function connectWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}

/** The worker runtime's log level (once per process, before any worker or connection). */
export function installRuntime(level: Config['logLevel']): void {
  Runtime.install({ logger: new DefaultLogger(level) });
}
