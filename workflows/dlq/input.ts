// Reading untrusted input: shapes, quotes and sizes for the one-sentence rejections of requests, reports and snapshots.
import { PROBLEMS_MAX, QUOTE_MAX } from './limits';

/** A parse result: the value's fields, or the sentence that says what is wrong. */
export type Parsed<T> = ({ ok: true } & T) | { ok: false; error: string };

export const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A piece of input for a message: JSON, at most QUOTE_MAX characters (never the input in full). */
export function quote(v: unknown): string {
  const text = (v === undefined ? 'undefined' : JSON.stringify(v)) ?? String(v);
  return text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX - 1)}…` : text;
}

/** A message built from input, cut to PROBLEMS_MAX characters. */
export function clip(message: string): string {
  return message.length > PROBLEMS_MAX ? `${message.slice(0, PROBLEMS_MAX - 1)}…` : message;
}

/**
 * Undefined when `raw` serializes to at most `max` JSON characters; else one sentence naming its size and its largest
 * field (quoted short).
 */
export function oversized(what: string, raw: Record<string, unknown>, max: number): string | undefined {
  let total = 2;
  let largest: [string, number] | undefined;
  for (const [key, value] of Object.entries(raw)) {
    const n = key.length + (JSON.stringify(value)?.length ?? 0) + 4;
    total += n;
    if (!largest || n > largest[1]) largest = [key, n];
  }
  if (total <= max) return undefined;
  return `${what} is ${total.toLocaleString('en-US')} characters of JSON, at most ${max.toLocaleString('en-US')}: ${quote(largest![0])} holds ${largest![1].toLocaleString('en-US')}`;
}
