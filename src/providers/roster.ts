// CAPTCHA_PROVIDERS: several providers at once, as a JSON list or the path of a JSON file holding one. Each entry has
// its route name, its kind (the capability table's provider), its key (inline, or the name of the variable holding
// it), base URL and limits. Read once by src/config.ts; the keys stay in the worker's config.
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { MAX_ROUTE_LENGTH } from './routes';
import { PROVIDERS } from './classify';


const entrySchema = z
  .object({
    /** route name: `2captcha`, `capsolver-backup`, … */
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a provider name is 1–64 letters, digits, . _ -'),
    /** which API it speaks; default: the name */
    provider: z.enum(PROVIDERS).optional(),
    apiKey: z.string().min(1).max(512).optional(),
    /** the variable holding the key (kept out of the JSON) */
    apiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/).optional(),
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
    requestTimeoutMs: z.number().int().min(100).max(600_000).optional(),
    connections: z.number().int().min(1).max(1024).optional(),
    submitsPer3s: z.number().int().min(1).max(10_000).optional(),
  })
  .strict();
const rosterSchema = z.array(entrySchema).min(1).max(MAX_ROUTE_LENGTH * 4);

export interface RosterEntry {
  name: string;
  provider: (typeof PROVIDERS)[number];
  apiKey?: string;
  baseUrl?: string;
  requestTimeoutMs?: number;
  connections?: number;
  submitsPer3s?: number;
}

/** Parses CAPTCHA_PROVIDERS (inline JSON or a file path); throws one sentence naming what is wrong, never a key. */
export function parseRoster(value: string, env: NodeJS.ProcessEnv): RosterEntry[] {
  const text = value.trim().startsWith('[') ? value : readRosterFile(value);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('CAPTCHA_PROVIDERS is not valid JSON (a list of providers, or the path of a file holding one)');
  }
  const parsed = rosterSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`CAPTCHA_PROVIDERS${issue.path.map((p) => `[${JSON.stringify(p)}]`).join('')}: ${issue.message}`);
  }
  const seen = new Set<string>();
  return parsed.data.map((e) => {
    if (seen.has(e.name)) throw new Error(`CAPTCHA_PROVIDERS: provider ${e.name} is listed twice`);
    seen.add(e.name);
    const provider = e.provider ?? ((PROVIDERS as readonly string[]).includes(e.name) ? (e.name as RosterEntry['provider']) : undefined);
    if (!provider) throw new Error(`CAPTCHA_PROVIDERS: provider ${e.name} needs "provider" (one of ${PROVIDERS.join(', ')})`);
    const apiKey = e.apiKey ?? (e.apiKeyEnv !== undefined ? env[e.apiKeyEnv] : undefined);
    if (e.apiKeyEnv !== undefined && apiKey === undefined) throw new Error(`CAPTCHA_PROVIDERS: ${e.name}'s key variable ${e.apiKeyEnv} is not set`);
    const { apiKeyEnv: _env, provider: _p, ...rest } = e;
    return { ...rest, provider, ...(apiKey !== undefined && { apiKey }), ...(e.baseUrl && { baseUrl: e.baseUrl.replace(/\/+$/, '') }) };
  });
}

function readRosterFile(path: string): string {
  if (!existsSync(path)) throw new Error(`CAPTCHA_PROVIDERS: ${path.slice(0, 200)} is neither a JSON list nor an existing file`);
  return readFileSync(path, 'utf8');
}
