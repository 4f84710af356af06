// The gateway's own users and their limits. Each user has a key of ours (never the provider's key, which stays in the
// worker), a rate limit and a budget. Keys come from a JSON file (GATEWAY_KEYS_FILE), read at start and, by
// `captcha-dlq gateway`, again on SIGHUP (a bad file then leaves the users in force).
//
//   { "keys": [ { "name": "scraper-a", "key": "0123456789abcdef0123456789abcdef", "submitsPerMinute": 120,
//                 "budget": 50, "pricePerSolve": 0.003 } ] }
//
// `budget` counts submits, or money when `pricePerSolve` is given (each accepted submit costs that much).
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

const userSchema = z
  .object({
    /** part of the solve workflow ids (`solve/gw-<name>-<task id>`): short, id-safe */
    name: z.string().regex(/^[A-Za-z0-9_]{1,40}$/, 'must be 1 to 40 letters, digits or _'),
    /** what clients send as `key` / `clientKey` */
    key: z.string().regex(/^[\x21-\x7E]{16,128}$/, 'must be 16 to 128 printable ASCII characters'),
    submitsPerMinute: z.number().int().positive().max(100_000).default(600),
    budget: z.number().nonnegative().max(1e9),
    pricePerSolve: z.number().positive().max(1_000).optional(),
  })
  .strict();
const fileSchema = z.object({ keys: z.array(userSchema).min(1).max(10_000) }).strict();

export type GatewayUser = Readonly<z.output<typeof userSchema>>;

export class GatewayKeysError extends Error {
  override readonly name = 'GatewayKeysError';
}

/** Users by key; validates names and keys are unique. */
export function parseGatewayKeys(value: unknown, source = 'the gateway keys'): ReadonlyMap<string, GatewayUser> {
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GatewayKeysError(`${source}: ${issue?.path.join('.') || '(file)'} ${issue?.message ?? 'is invalid'}`);
  }
  const byKey = new Map<string, GatewayUser>();
  const names = new Set<string>();
  for (const user of parsed.data.keys) {
    if (names.has(user.name)) throw new GatewayKeysError(`${source}: the name "${user.name}" is used twice`);
    if (byKey.has(user.key)) throw new GatewayKeysError(`${source}: the key of "${user.name}" is also another user's key`);
    names.add(user.name);
    byKey.set(user.key, Object.freeze({ ...user }));
  }
  return byKey;
}

export async function loadGatewayKeys(file: string): Promise<ReadonlyMap<string, GatewayUser>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new GatewayKeysError(`cannot read the gateway keys file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new GatewayKeysError(`the gateway keys file ${file} is not JSON`);
  }
  return parseGatewayKeys(json, `the gateway keys file ${file}`);
}
