// The session: configuration and one client, created on first use and closed at exit; who the user is; what
// "Temporal cannot be reached" looks like.
import { hostname, userInfo } from 'node:os';
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import type { CaptchaSolver } from '../client';
import type { Config, ConnectionOverrides } from '../config';
import { CliError, EXIT } from './errors';
import { message } from './output';

interface GlobalOptions {
  identity: string;
  address?: string;
  namespace?: string;
  profile?: string;
  configFile?: string;
}

export class Session {
  private config?: Readonly<Config>;
  private client?: Client;
  private solverInstance?: CaptchaSolver;

  constructor(
    readonly identity: string,
    /** --address, --namespace, --profile, --config-file: over the profile file and TEMPORAL_* variables */
    readonly connection: ConnectionOverrides = {},
  ) {}

  async settings(): Promise<Readonly<Config>> {
    if (!this.config) {
      const { loadConfig } = await import('../config');
      this.config = loadConfig(process.env, { connection: this.connection });
    }
    return this.config;
  }

  async solver(): Promise<CaptchaSolver> {
    if (this.solverInstance) return this.solverInstance;
    const config = await this.settings();
    const [{ connectClient }, { CaptchaSolver }] = await Promise.all([import('../temporal'), import('../client')]);
    try {
      this.client = await connectClient(config, this.identity);
    } catch (err) {
      // TemporalUnreachableError: one sentence naming the address and what to do
      throw new CliError(message(err), EXIT.UNREACHABLE);
    }
    this.solverInstance = new CaptchaSolver(this.client, config);
    return this.solverInstance;
  }

  async close(): Promise<void> {
    await this.client?.connection.close().catch(() => undefined);
  }
}

let session: Session | undefined;
export function sessionOf(cmd: Command): Session {
  const o = cmd.optsWithGlobals() as GlobalOptions;
  session ??= new Session(o.identity, {
    ...(o.address !== undefined && { address: o.address }),
    ...(o.namespace !== undefined && { namespace: o.namespace }),
    ...(o.profile !== undefined && { profile: o.profile }),
    ...(o.configFile !== undefined && { configFile: o.configFile }),
  });
  return session;
}

/** Closes the session's client, if a command opened one. */
export async function closeSession(): Promise<void> {
  await session?.close();
}

/** `user@host`: the default --identity. */
export function defaultIdentity(): string {
  let user = process.env.USER ?? process.env.USERNAME ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep the environment's name
  }
  return `${user}@${hostname()}`;
}

/** Whether an error (or one of its causes) says Temporal cannot be reached. */
export function isUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === 14) return true; // gRPC UNAVAILABLE
    if (/Failed to connect before the deadline|ECONNREFUSED/.test(message(e))) return true;
  }
  return false;
}
