// Scripted outcomes: what the simulator answers for a sitekey, an image tag, a task id or every request, and how
// long a solve takes. Scripts come from options at start and from POST /admin/scenarios at runtime.
import { z } from 'zod';
import { skewedDuration, type Rng } from './random';
import type { SimCaptchaType } from './tokens';

export type Endpoint = 'in.php' | 'res.php';

const times = z.number().int().positive().optional();
const endpoint = z.enum(['in.php', 'res.php']).optional();

/**
 * One scripted answer. `times`: apply to the first N matching requests only (default: every one). `endpoint` only
 * matters in the `all` list (the other lists belong to one endpoint already).
 */
export const ruleSchema = z.discriminatedUnion('type', [
  /** answer this provider code instead (ERROR_NO_SLOT_AVAILABLE, IP_BANNED, ERROR_PAGEURL, `ERROR: 1005`, …) */
  z.object({ type: z.literal('error'), code: z.string().min(1), errorText: z.string().optional(), times, endpoint }),
  /** an HTTP error status with a proxy's HTML page */
  z.object({ type: z.literal('http'), status: z.number().int().min(400).max(599).default(503), times, endpoint }),
  /** an HTML page (maintenance, captive portal) instead of an answer */
  z.object({ type: z.literal('html'), status: z.number().int().min(200).max(599).default(200), times, endpoint }),
  /** a truncated JSON body */
  z.object({ type: z.literal('bad-json'), times, endpoint }),
  /** the connection is destroyed without an answer */
  z.object({ type: z.literal('reset'), times, endpoint }),
  /** the normal answer, `delayMs` later */
  z.object({ type: z.literal('slow'), delayMs: z.number().nonnegative(), times, endpoint }),
]);
export type Rule = z.infer<typeof ruleSchema>;
export type FaultRule = Exclude<Rule, { type: 'error' } | { type: 'slow' }>;

/** How a task ends. `afterMs` counts from the submit in real (unscaled) milliseconds; absent = the type's usual time. */
export const outcomeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('solve'), afterMs: z.number().nonnegative().optional(), token: z.string().min(1).optional() }),
  z.object({ type: z.literal('unsolvable'), afterMs: z.number().nonnegative().optional() }),
  z.object({ type: z.literal('never-ready') }),
  /** any other final res.php answer: ERROR_BAD_DUPLICATES, ERROR_PROXY_CONNECTION_FAILED, … */
  z.object({ type: z.literal('error'), code: z.string().min(1), afterMs: z.number().nonnegative().optional() }),
]);
export type Outcome = z.infer<typeof outcomeSchema>;

const taskScenarioSchema = z.object({
  outcome: outcomeSchema.optional(),
  /** res.php `action=get&id=` answers of this task, before its outcome */
  poll: z.array(ruleSchema).optional(),
});

export const scenarioSchema = taskScenarioSchema.extend({
  /** in.php answers for this sitekey, counted per sitekey */
  submit: z.array(ruleSchema).optional(),
  /** shorthand: ERROR_NO_SLOT_AVAILABLE for the first N submits, before the `submit` rules */
  noSlot: z.number().int().positive().optional(),
});
export type Scenario = z.infer<typeof scenarioSchema>;
export type TaskScenario = z.infer<typeof taskScenarioSchema>;

export const CHAOS_FAULTS = ['reset', 'http', 'html', 'bad-json', 'slow'] as const;
export type ChaosFault = (typeof CHAOS_FAULTS)[number];

const chaosSchema = z.union([
  z.number().min(0).max(1),
  z.object({
    probability: z.number().min(0).max(1),
    faults: z.array(z.enum(CHAOS_FAULTS)).min(1).optional(),
    /** delay of a `slow` fault (default 3000 ms) */
    slowMs: z.number().nonnegative().optional(),
    endpoints: z.array(z.enum(['in.php', 'res.php'])).min(1).optional(),
  }),
]);
export type ChaosInput = z.infer<typeof chaosSchema>;

/** What a schedule step makes of the provider from then on. */
export const providerStateSchema = z.discriminatedUnion('type', [
  /** normal service again */
  z.object({ type: z.literal('up') }),
  /** every submit answered with this code (out of slots: ERROR_NO_SLOT_AVAILABLE); polls still served */
  z.object({ type: z.literal('down'), code: z.string().min(1).max(64).default('ERROR_NO_SLOT_AVAILABLE') }),
  /** every submit answered with this HTTP status (503: down behind its proxy) */
  z.object({ type: z.literal('http'), status: z.number().int().min(500).max(599).default(503) }),
  /** every request answered `delayMs` late */
  z.object({ type: z.literal('slow'), delayMs: z.number().nonnegative().max(600_000) }),
  /** the account's balance is set to this (0: runs dry: ERROR_ZERO_BALANCE) */
  z.object({ type: z.literal('balance'), balance: z.number().nonnegative() }),
]);
export type ProviderState = z.infer<typeof providerStateSchema>;

/** A step of a schedule: once `afterSubmits` submit requests (counted from when the schedule was set) or `afterMs` passed. */
export const scheduleStepSchema = z
  .object({
    afterSubmits: z.number().int().nonnegative().optional(),
    afterMs: z.number().nonnegative().optional(),
    set: providerStateSchema,
  })
  .refine((s) => (s.afterSubmits === undefined) !== (s.afterMs === undefined), 'a schedule step has either afterSubmits or afterMs');
export type ScheduleStep = z.infer<typeof scheduleStepSchema>;

/**
 * The whole script. A new task takes the first scenario that matches, in this order: `sitekeys[googlekey|sitekey]`,
 * `pages[pageurl]`, `sitekeys["image:<tag>"]` for image tasks whose decoded bytes start with <tag> (ASCII; the longest
 * tag wins), then `sitekeys["*"]`.
 */
export const scenarioSpecSchema = z.object({
  sitekeys: z.record(z.string().min(1), scenarioSchema).optional(),
  /** per exact `pageurl`, for tasks whose sitekey has no scenario */
  pages: z.record(z.string().min(1), scenarioSchema).optional(),
  /** per provider task id, set once the id is known; applies at once to the live task */
  tasks: z.record(z.string().min(1), taskScenarioSchema).optional(),
  /** checked first on every in.php and res.php request: account-wide errors and global faults */
  all: z.array(ruleSchema).optional(),
  /** answers of res.php `action=get&ids=` (many tasks in one request), before the tasks' own answers */
  multiPoll: z.array(ruleSchema).optional(),
  /** random transient faults with probability p per request; null turns chaos off */
  chaos: chaosSchema.nullable().optional(),
  /** the provider's state over time (down, slow, balance), step by step; replaces an earlier schedule */
  schedule: z.array(scheduleStepSchema).max(100).optional(),
  /** drop every earlier script first */
  replace: z.boolean().optional(),
});
export type ScenarioSpec = z.input<typeof scenarioSpecSchema>;
type ParsedSpec = z.output<typeof scenarioSpecSchema>;

export interface ChaosSettings {
  probability: number;
  faults: readonly ChaosFault[];
  slowMs: number;
  endpoints: readonly Endpoint[];
}

/** A rule with its own countdown. */
export interface ArmedRule {
  rule: Rule;
  remaining: number;
}

export function armRules(rules: readonly Rule[] | undefined): ArmedRule[] {
  return (rules ?? []).map((rule) => ({ rule, remaining: rule.times ?? Infinity }));
}

/** The first rule that still has uses (and matches the endpoint), spending one use. */
export function takeRule(rules: ArmedRule[], onEndpoint?: Endpoint): Rule | undefined {
  for (const armed of rules) {
    if (armed.remaining <= 0) continue;
    if (onEndpoint && armed.rule.endpoint && armed.rule.endpoint !== onEndpoint) continue;
    armed.remaining--;
    return armed.rule;
  }
  return undefined;
}

/** page scenarios share the sitekey table under this prefix (and show so in a task's `scenario`) */
const PAGE_PREFIX = 'page:';

interface SitekeyEntry {
  scenario: Scenario;
  submitRules: ArmedRule[];
}

/** Holds the scripts and their countdowns. Task-id scripts are handed to the engine, which owns the tasks. */
export class ScenarioBook {
  private sitekeys = new Map<string, SitekeyEntry>();
  private allRules: ArmedRule[] = [];
  private multiPollRules: ArmedRule[] = [];
  chaos: ChaosSettings | null = null;
  private schedule: { steps: ScheduleStep[]; setAt: number; submits: number } | undefined;
  /** the state the schedule left the provider in (`up` without one) */
  private state: Exclude<ProviderState, { type: 'balance' }> = { type: 'up' };

  /** Validates and applies a spec; returns its task-id part for the engine. */
  apply(input: unknown): ParsedSpec['tasks'] {
    const spec = scenarioSpecSchema.parse(input);
    if (spec.replace) {
      this.sitekeys.clear();
      this.allRules = [];
      this.multiPollRules = [];
      this.chaos = null;
      this.schedule = undefined;
      this.state = { type: 'up' };
    }
    if (spec.schedule) {
      this.schedule = { steps: [...spec.schedule], setAt: Date.now(), submits: 0 };
      this.state = { type: 'up' };
    }
    const entries = [
      ...Object.entries(spec.sitekeys ?? {}),
      ...Object.entries(spec.pages ?? {}).map(([page, scenario]) => [`${PAGE_PREFIX}${page}`, scenario] as const),
    ];
    for (const [key, scenario] of entries) {
      const submit: Rule[] = [
        ...(scenario.noSlot ? [{ type: 'error' as const, code: 'ERROR_NO_SLOT_AVAILABLE', times: scenario.noSlot }] : []),
        ...(scenario.submit ?? []),
      ];
      this.sitekeys.set(key, { scenario, submitRules: armRules(submit) });
    }
    if (spec.all) this.allRules = armRules(spec.all);
    if (spec.multiPoll) this.multiPollRules = armRules(spec.multiPoll);
    if (spec.chaos !== undefined) this.chaos = normalizeChaos(spec.chaos);
    return spec.tasks;
  }

  /** The scenario key of a new task: its sitekey, `page:<pageurl>`, the longest matching `image:` tag, or `*`. */
  match(sitekey: string | undefined, pageUrl: string | undefined, image: Buffer | undefined): string | undefined {
    if (sitekey !== undefined && this.sitekeys.has(sitekey)) return sitekey;
    if (pageUrl !== undefined && this.sitekeys.has(`${PAGE_PREFIX}${pageUrl}`)) return `${PAGE_PREFIX}${pageUrl}`;
    if (image) {
      let best: string | undefined;
      for (const key of this.sitekeys.keys()) {
        if (!key.startsWith('image:')) continue;
        const tag = Buffer.from(key.slice('image:'.length), 'latin1');
        if (tag.length > 0 && image.subarray(0, tag.length).equals(tag) && (!best || key.length > best.length)) best = key;
      }
      if (best) return best;
    }
    return this.sitekeys.has('*') ? '*' : undefined;
  }

  scenario(key: string | undefined): Scenario | undefined {
    return key === undefined ? undefined : this.sitekeys.get(key)?.scenario;
  }

  takeSubmitRule(key: string | undefined): Rule | undefined {
    const entry = key === undefined ? undefined : this.sitekeys.get(key);
    return entry ? takeRule(entry.submitRules) : undefined;
  }

  /**
   * Runs the schedule's due steps (a balance step calls `setBalance`) and answers what the provider's state makes of
   * this request: an error or HTTP status for a submit while down, a delay while slow. Counts the submit.
   */
  scheduled(on: Endpoint, now: number, setBalance: (balance: number) => void): Rule | undefined {
    const schedule = this.schedule;
    if (!schedule) return undefined;
    while (schedule.steps.length > 0) {
      const step = schedule.steps[0]!;
      const due = step.afterSubmits !== undefined ? schedule.submits >= step.afterSubmits : now - schedule.setAt >= (step.afterMs ?? 0);
      if (!due) break;
      schedule.steps.shift();
      if (step.set.type === 'balance') setBalance(step.set.balance);
      else this.state = step.set;
    }
    if (on === 'in.php') schedule.submits++;
    const state = this.state;
    if (state.type === 'slow') return { type: 'slow', delayMs: state.delayMs };
    if (on !== 'in.php') return undefined;
    if (state.type === 'down') return { type: 'error', code: state.code };
    if (state.type === 'http') return { type: 'http', status: state.status };
    return undefined;
  }

  takeGlobalRule(on: Endpoint): Rule | undefined {
    return takeRule(this.allRules, on);
  }

  takeMultiPollRule(): Rule | undefined {
    return takeRule(this.multiPollRules);
  }

  /** A random transient fault, or undefined, drawn from `rng` (the simulator's chaos stream). */
  drawChaos(on: Endpoint, rng: Rng): Rule | undefined {
    const chaos = this.chaos;
    if (!chaos || chaos.probability <= 0 || !chaos.endpoints.includes(on)) return undefined;
    if (rng() >= chaos.probability) return undefined;
    const fault = chaos.faults[Math.floor(rng() * chaos.faults.length)] ?? 'reset';
    switch (fault) {
      case 'http':
        return { type: 'http', status: [500, 502, 503, 504][Math.floor(rng() * 4)] ?? 503 };
      case 'html':
        return { type: 'html', status: 200 };
      case 'slow':
        return { type: 'slow', delayMs: chaos.slowMs };
      default:
        return { type: fault };
    }
  }
}

function normalizeChaos(input: ChaosInput | null): ChaosSettings | null {
  if (input === null) return null;
  const options = typeof input === 'number' ? { probability: input } : input;
  return {
    probability: options.probability,
    faults: options.faults ?? CHAOS_FAULTS,
    slowMs: options.slowMs ?? 3_000,
    endpoints: options.endpoints ?? ['in.php', 'res.php'],
  };
}

// ---- timing ---------------------------------------------------------------------------------------------------

/** Usual solve times in ms (provider-api.md), before `timeScale`. */
export const SOLVE_TIMES_MS: Record<SimCaptchaType, { min: number; median: number; max: number }> = {
  image: { min: 5_000, median: 8_000, max: 15_000 },
  'recaptcha-v2': { min: 15_000, median: 30_000, max: 60_000 },
  'recaptcha-v3': { min: 3_000, median: 5_000, max: 10_000 },
  turnstile: { min: 5_000, median: 10_000, max: 20_000 },
  hcaptcha: { min: 15_000, median: 30_000, max: 60_000 },
};

/** The decided end of a task: a token, a final error code, or never. */
export type ResolvedOutcome =
  | { kind: 'token'; readyAt: number; token: string }
  | { kind: 'error'; readyAt: number; code: string }
  | { kind: 'never' };

/** What a task drew at birth from its own stream, so a later override does not shift any other draw. */
export interface TaskDraws {
  /** scaled solve time */
  solveMs: number;
  /** true when the default unsolvable rate hit */
  unsolvable: boolean;
  token: string;
}

export function resolveOutcome(outcome: Outcome | undefined, createdAt: number, draws: TaskDraws): ResolvedOutcome {
  if (!outcome) {
    return draws.unsolvable
      ? { kind: 'error', readyAt: createdAt + draws.solveMs, code: 'ERROR_CAPTCHA_UNSOLVABLE' }
      : { kind: 'token', readyAt: createdAt + draws.solveMs, token: draws.token };
  }
  const readyAt = createdAt + ('afterMs' in outcome && outcome.afterMs !== undefined ? outcome.afterMs : draws.solveMs);
  switch (outcome.type) {
    case 'solve':
      return { kind: 'token', readyAt, token: outcome.token ?? draws.token };
    case 'unsolvable':
      return { kind: 'error', readyAt, code: 'ERROR_CAPTCHA_UNSOLVABLE' };
    case 'error':
      return { kind: 'error', readyAt, code: outcome.code };
    case 'never-ready':
      return { kind: 'never' };
  }
}

export function drawSolveMs(type: SimCaptchaType, rng: Rng, timeScale: number): number {
  return skewedDuration(rng, SOLVE_TIMES_MS[type]) * timeScale;
}
