// Argument parsers (a bad value is a usage error: exit 2) and the DLQ filter options.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatInterval } from '../domain/describe';
import { DLQ_ENTRY_STATUSES, type DlqEntryStatus } from '../domain/names';
import { FAILURE_CLASSES, type FailureClass } from '../domain/types';
import type { DlqFilter } from '../../workflows/messages';

export function intArg(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}.`);
    return n;
  };
}

export function numberArg(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`must be a number from ${min} to ${max}.`);
    return n;
  };
}

/** A non-empty text of at most `max` characters, without control characters. */
export function boundedArg(name: string, max: number) {
  return (value: string): string => {
    if (value.trim() === '') throw new InvalidArgumentError('must not be empty.');
    if (value.length > max) throw new InvalidArgumentError(`has ${value.length} characters: ${name} takes at most ${max}.`);
    if (/\p{Cc}/u.test(value)) throw new InvalidArgumentError('must not contain control characters.');
    return value;
  };
}

/** Repeatable, comma-separated list: `--code A,B --code C` → [A, B, C]. */
export function listArg<T extends string = string>(allowed?: readonly T[]) {
  return (value: string, previous: T[] | undefined): T[] => {
    const items = value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    if (items.length === 0) throw new InvalidArgumentError('must not be empty.');
    if (allowed) {
      const bad = items.filter((i) => !allowed.includes(i as T));
      if (bad.length) throw new InvalidArgumentError(`${bad.join(', ')}: must be one of ${allowed.join(', ')}.`);
    }
    return [...(previous ?? []), ...(items as T[])];
  };
}

/** An existing batch's id: bounded and printable (the rules for new ids are checked at `batch start`). */
export function batchIdArg(value: string): string {
  if (value === '') throw new InvalidArgumentError('must not be empty.');
  if (value.length > 200) throw new InvalidArgumentError(`has ${value.length} characters: batch ids have at most 200.`);
  if (/\p{Cc}/u.test(value)) throw new InvalidArgumentError('must not contain control characters.');
  return value;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "1h30m", "90s", "2s", "500ms" → milliseconds. */
export function parseDurationMs(value: string): number | undefined {
  const text = value.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(n) * UNIT_MS[unit!]!;
  return total;
}

export function intervalArg(minMs: number) {
  return (value: string): number => {
    const ms = parseDurationMs(value);
    if (ms === undefined) throw new InvalidArgumentError('must be a duration such as 30s, 15m, 1h or 1h30m.');
    if (ms < minMs) throw new InvalidArgumentError(`must be at least ${formatInterval(minMs)}.`);
    return ms;
  };
}

/** An ISO time, or a duration meaning "that long ago" (`24h`, `7d`). */
export function timeArg(value: string): string {
  const ago = parseDurationMs(value);
  if (ago !== undefined) return new Date(Date.now() - ago).toISOString();
  const t = Date.parse(value);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(value.trim())) {
    throw new InvalidArgumentError('must be an ISO time (2025-01-31T12:00:00Z) or a duration ago (30m, 24h, 7d).');
  }
  return new Date(t).toISOString();
}

// DLQ filters, shared by list, retry, discard, purge and export

export interface FilterOptions {
  id?: string[];
  code?: string[];
  /** --codes: the other spelling */
  codes?: string[];
  class?: FailureClass[];
  /** --classes: the other spelling */
  classes?: FailureClass[];
  sitekey?: string[];
  batch?: string[];
  status?: DlqEntryStatus[];
  since?: string;
  until?: string;
}

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--id <ids>', 'entry ids (repeatable, comma-separated)', listArg())
    .option('--code <codes>', 'error codes, e.g. ERROR_CAPTCHA_UNSOLVABLE,POLL_DEADLINE (repeatable); also --codes', listArg())
    .addOption(new Option('--class <classes>', `failure classes (${FAILURE_CLASSES.join(', ')}); also --classes`).argParser(listArg(FAILURE_CLASSES)))
    // one spelling everywhere: `schedule create` takes --class and --code too
    .addOption(new Option('--classes <classes>').argParser(listArg(FAILURE_CLASSES)).hideHelp())
    .addOption(new Option('--codes <codes>').argParser(listArg()).hideHelp())
    .option('--sitekey <sitekeys>', 'sitekeys (repeatable, comma-separated)', listArg())
    .option('--batch <ids>', 'batch ids (repeatable, comma-separated)', listArg())
    .addOption(new Option('--status <statuses>', `entry statuses (${DLQ_ENTRY_STATUSES.join(', ')})`).argParser(listArg(DLQ_ENTRY_STATUSES)))
    .option('--since <time>', 'last failure at or after: ISO time or a duration ago (24h, 7d)', timeArg)
    .option('--until <time>', 'last failure before: ISO time or a duration ago', timeArg);
}

/** Both spellings of a list flag, together; undefined when neither was given. */
export function either<T>(a: T[] | undefined, b: T[] | undefined): T[] | undefined {
  return a || b ? [...new Set([...(a ?? []), ...(b ?? [])])] : undefined;
}

export function filterOf(o: FilterOptions): DlqFilter {
  const codes = either(o.code, o.codes);
  const classes = either(o.class, o.classes);
  return {
    ...(o.id && { ids: o.id }),
    ...(codes && { errorCodes: codes }),
    ...(classes && { classes }),
    ...(o.sitekey && { sitekeys: o.sitekey }),
    ...(o.batch && { batchIds: o.batch }),
    ...(o.status && { statuses: o.status }),
    ...(o.since && { since: o.since }),
    ...(o.until && { until: o.until }),
  };
}
