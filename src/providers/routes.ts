// Several providers in one worker: per-provider health (account circuit + capacity over a window, half-open probe to
// return) and the router that sends a submit to the first healthy provider of a route that solves the task's kind.
// The keys stay inside the provider clients; a route is only a list of names.
import type { CaptchaTask } from '../domain/types';
import { CAPABILITIES, CAPTCHA_KINDS, supportsKind, type CaptchaKind, type ProviderName } from './capabilities';
import { unsupportedTypeMessage } from '../tasks/support';
import type { ProviderError } from './errors';
import { CaptchaPermanentError, ProviderAccountError, ProviderTransientError, SubmitWouldWaitError } from './errors';
import type { CaptchaProvider, SubmitOptions } from './types';

/** Longest route a task or batch may name. */
export const MAX_ROUTE_LENGTH = 8;

export interface HealthOptions {
  /** account-class failures (bad key, zero balance, banned IP) that open the circuit; default 1 */
  accountThreshold: number;
  /** capacity failures (NO_SLOT, 5xx, timeouts) within `windowMs` that open it; default 3 in 10 s */
  capacityThreshold: number;
  windowMs: number;
  /** how long an open circuit waits before one half-open probe; default 30 s */
  cooldownMs: number;
}
export const DEFAULT_HEALTH_OPTIONS: Readonly<HealthOptions> = { accountThreshold: 1, capacityThreshold: 3, windowMs: 10_000, cooldownMs: 30_000 };

export type HealthState = 'closed' | 'open' | 'half-open';
export interface HealthSnapshot {
  state: HealthState;
  /** the code that opened the circuit */
  code?: string;
  openedAt?: string;
  /** times the circuit opened, and closed again after a probe */
  opened: number;
  closed: number;
}

/** One provider's health, shared by every activity of the worker. */
export class ProviderHealth {
  private state: HealthState = 'closed';
  private openedAtMs = 0;
  private code: string | undefined;
  private probing = false;
  private accountFailures = 0;
  private capacityFailures: number[] = [];
  private opened = 0;
  private closed = 0;

  constructor(private readonly options: HealthOptions = DEFAULT_HEALTH_OPTIONS) {}

  /** 'use' when closed; 'probe' for the one request a half-open circuit lets through; false when open. */
  acquire(now = Date.now()): 'use' | 'probe' | false {
    if (this.state === 'closed') return 'use';
    if (this.probing || now < this.openedAtMs + this.options.cooldownMs) return false;
    this.state = 'half-open';
    this.probing = true;
    return 'probe';
  }

  succeeded(): void {
    if (this.state !== 'closed') this.closed++;
    this.state = 'closed';
    this.probing = false;
    this.code = undefined;
    this.accountFailures = 0;
    this.capacityFailures = [];
  }

  /** Counts a failure against the provider (account or capacity); any other ends a probe without a verdict. */
  failed(err: unknown, now = Date.now()): void {
    if (err instanceof ProviderAccountError) {
      if (++this.accountFailures >= this.options.accountThreshold || this.state !== 'closed') this.open(err.code, now);
    } else if (err instanceof ProviderTransientError) {
      this.capacityFailures = this.capacityFailures.filter((t) => t > now - this.options.windowMs);
      this.capacityFailures.push(now);
      if (this.capacityFailures.length >= this.options.capacityThreshold || this.state !== 'closed') this.open(err.code, now);
    }
    this.probing = false;
  }

  snapshot(): HealthSnapshot {
    return {
      state: this.state,
      ...(this.code !== undefined && { code: this.code, openedAt: new Date(this.openedAtMs).toISOString() }),
      opened: this.opened,
      closed: this.closed,
    };
  }

  private open(code: string, now: number): void {
    if (this.state !== 'open') this.opened++;
    this.state = 'open';
    this.code = code;
    this.openedAtMs = now;
    this.accountFailures = 0;
    this.capacityFailures = [];
  }
}

/** One configured provider: its route name (unique), its kind (for the capability table) and its client. */
export interface RoutedProvider {
  name: string;
  kind: ProviderName;
  client: CaptchaProvider;
}

/** A provider the router passed over, or left after it refused the task: in the submit's result and history. */
export interface ProviderSkip {
  provider: string;
  /** `circuit open (ERROR_ZERO_BALANCE)`, `ERROR_NO_SLOT_AVAILABLE`, `avoided after unsolvable` */
  reason: string;
}

export interface RoutedSubmit {
  provider: string;
  providerTaskId: string;
  /** providers tried or passed over before `provider`, in route order */
  skipped: ProviderSkip[];
}

export class ProviderRouter {
  private readonly byName = new Map<string, RoutedProvider>();
  private readonly health = new Map<string, ProviderHealth>();
  /** the route of a task that names none: every provider, in configuration order */
  readonly defaultRoute: readonly string[];

  constructor(providers: readonly RoutedProvider[], options: HealthOptions = DEFAULT_HEALTH_OPTIONS) {
    if (providers.length === 0) throw new Error('a provider router needs at least one provider');
    for (const p of providers) {
      if (this.byName.has(p.name)) throw new Error(`provider ${p.name} is configured twice`);
      this.byName.set(p.name, p);
      this.health.set(p.name, new ProviderHealth(options));
    }
    this.defaultRoute = providers.map((p) => p.name);
  }

  /** A single client as a one-provider route (the single-provider configuration). */
  static of(client: CaptchaProvider, options?: HealthOptions): ProviderRouter {
    return new ProviderRouter([{ name: client.name, kind: client.name as ProviderName, client }], options);
  }

  get names(): readonly string[] {
    return this.defaultRoute;
  }

  /** The client of a provider (polls go to the one that took the task); throws a permanent error for an unknown name. */
  client(name: string): CaptchaProvider {
    const p = this.byName.get(name);
    if (!p) throw new CaptchaPermanentError(`provider ${JSON.stringify(name.slice(0, 40))} is not configured on this worker`, 'UNKNOWN_PROVIDER');
    return p.client;
  }

  healthOf(name: string): HealthSnapshot | undefined {
    return this.health.get(name)?.snapshot();
  }

  snapshot(): Record<string, HealthSnapshot> {
    return Object.fromEntries([...this.health].map(([name, h]) => [name, h.snapshot()]));
  }

  /**
   * Pays for one provider task on the first healthy provider of `route` that solves the task's kind (`avoid`: put
   * last). A provider that answers with a capacity or account error is left for the next one in the same call: its
   * answer proves nothing was paid. A submit whose outcome is unknown (it may have been paid) is never sent elsewhere.
   */
  async submit(
    task: CaptchaTask,
    named?: readonly string[],
    options: { avoid?: readonly string[]; signal?: AbortSignal } & SubmitOptions = {},
  ): Promise<RoutedSubmit> {
    const route = named ?? this.defaultRoute;
    if (named) {
      const problem = routeProblem(named, [task.type], this.kinds());
      if (problem) throw new CaptchaPermanentError(problem, 'BAD_ROUTE');
    }
    const avoid = new Set(options.avoid ?? []);
    let candidates = route.filter((name) => supportsKind(this.byName.get(name)!.kind, task.type));
    if (candidates.length === 0) {
      // the default route with no provider for the type (a provider changed under a running batch): refused unpaid,
      // in the first provider's name; an unknown kind is left to refuse it in its own words
      const first = this.byName.get(route[0]!)!;
      if (first.kind in CAPABILITIES) throw new CaptchaPermanentError(unsupportedTypeMessage(first.kind, task.type), 'UNSUPPORTED_TYPE');
      candidates = [route[0]!];
    }
    const order = [...candidates.filter((n) => !avoid.has(n)), ...candidates.filter((n) => avoid.has(n))];
    const skipped: ProviderSkip[] = route.filter((n) => !candidates.includes(n)).map((provider) => ({ provider, reason: `does not solve ${task.type}` }));
    let last: ProviderError | undefined;
    const attempt = async (name: string): Promise<RoutedSubmit | undefined> => {
      const health = this.health.get(name)!;
      try {
        const sending = { ...(options.callbackUrl && { callbackUrl: options.callbackUrl }), ...(options.immediate && { immediate: true }) };
        const providerTaskId = await this.byName.get(name)!.client.submit(task, options.signal, Object.keys(sending).length > 0 ? sending : undefined);
        health.succeeded();
        return { provider: name, providerTaskId, skipped };
      } catch (err) {
        // our own rate limit, not the provider's answer: nothing was sent, and the caller sends it the waiting way
        if (err instanceof SubmitWouldWaitError) throw err;
        health.failed(err);
        const movable = err instanceof ProviderAccountError || (err instanceof ProviderTransientError && err.requestOutcome !== 'unknown');
        if (!movable) throw err;
        last = err as ProviderError;
        skipped.push({ provider: name, reason: last.code });
        return undefined;
      }
    };
    for (const name of order) {
      const health = this.health.get(name)!;
      if (!health.acquire()) {
        skipped.push({ provider: name, reason: `circuit open (${health.snapshot().code ?? 'unhealthy'})` });
        continue;
      }
      const done = await attempt(name);
      if (done) return done;
    }
    if (last) throw last;
    // every circuit is open: the first choice anyway, as one provider alone always was (the activity's retries pace it)
    const forced = await attempt(order[0]!);
    if (forced) return { ...forced, skipped: forced.skipped.filter((s) => s.provider !== forced.provider) };
    throw last!;
  }

  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((p) => p.client.close()));
  }

  private kinds(): ReadonlyMap<string, ProviderName> {
    return new Map([...this.byName].map(([name, p]) => [name, p.kind]));
  }
}

/**
 * What is wrong with a route, as one sentence, or undefined: empty, too long, repeated or unknown names, or no
 * provider in it that solves one of `kinds`. Shared by the client (before anything starts) and the worker.
 */
export function routeProblem(route: unknown, kinds: readonly string[], configured: ReadonlyMap<string, ProviderName>): string | undefined {
  if (!Array.isArray(route) || route.length === 0) return 'a route is a non-empty list of provider names';
  if (route.length > MAX_ROUTE_LENGTH) return `a route names at most ${MAX_ROUTE_LENGTH} providers (got ${route.length})`;
  const known = [...configured.keys()].join(', ');
  const seen = new Set<string>();
  for (const name of route as unknown[]) {
    if (typeof name !== 'string' || name.length === 0 || name.length > 64) return 'a route names providers by their configured names (1–64 characters)';
    if (seen.has(name)) return `provider ${name} appears twice in the route`;
    seen.add(name);
    if (!configured.has(name)) return `unknown provider "${name}" in the route; configured: ${known}`;
  }
  for (const kind of new Set(kinds)) {
    if (!(CAPTCHA_KINDS as readonly string[]).includes(kind)) continue;
    if (!(route as string[]).some((name) => supportsKind(configured.get(name)!, kind as CaptchaKind))) {
      return `no provider in the route ${(route as string[]).join(' → ')} solves ${kind} tasks`;
    }
  }
  return undefined;
}
