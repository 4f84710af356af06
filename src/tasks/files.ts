// Batch files: JSON (an array), NDJSON (one task a line) or CSV (a header row). Every problem names its line (JSON: its
// item) and field. A DLQ export (`dlq export`, any format) is a task file too: each entry gives its task and task key.
// Used by the client (validate before start) and by the batch's page-reading activity (the file is the batch's source).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { CaptchaTask } from '../domain/types';
import { TaskValidationError, parseTask } from './schema';

export type TaskFileFormat = 'json' | 'ndjson' | 'csv';
export type KeyedTask = CaptchaTask & { key: string };

export interface TaskFile {
  path: string;
  format: TaskFileFormat;
  sha256: string;
  tasks: KeyedTask[];
  /** each task's line in the file, where the format has lines (NDJSON, CSV); JSON items have none */
  lines: (number | undefined)[];
}

export function formatOf(path: string, explicit?: string): TaskFileFormat {
  const format = (explicit ?? extname(path).slice(1)).toLowerCase();
  if (format === 'json' || format === 'ndjson' || format === 'csv') return format;
  if (format === 'jsonl') return 'ndjson';
  throw new TaskValidationError([{ field: 'file', message: `unknown format "${format}" of ${path}: use .json, .ndjson or .csv` }], 'task file');
}

export async function readTaskFile(path: string, explicitFormat?: string): Promise<TaskFile> {
  const format = formatOf(path, explicitFormat);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new TaskValidationError([{ field: 'file', message: `cannot read ${path} (${code})` }], 'task file');
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const lines: (number | undefined)[] = [];
  const tasks = parseTaskText(bytes.toString('utf8'), format, lines);
  return { path, format, sha256, tasks, lines };
}

/** Parses and validates every task; keys default to the 0-based item index and must be unique. */
export function parseTaskText(text: string, format: TaskFileFormat, lines: (number | undefined)[] = []): KeyedTask[] {
  // a UTF-8 byte order mark (Windows editors write one) is not part of the content, in any format
  const items = fromDlqExport(rawItems(text.replace(/^\uFEFF/, ''), format));
  const problems: TaskValidationError['problems'] = [];
  const seen = new Map<string, string>();
  const tasks: KeyedTask[] = [];
  items.forEach(({ value, line }, index) => {
    try {
      const task = parseTask(value, index, line);
      const key = task.key ?? String(index);
      const previous = seen.get(key);
      if (previous !== undefined) problems.push({ index, ...(line !== undefined && { line }), field: 'key', message: `"${key}" duplicates the key of ${previous}` });
      seen.set(key, line !== undefined ? `line ${line}` : `item ${index}`);
      tasks.push({ ...task, key });
      lines.push(line);
    } catch (err) {
      if (!(err instanceof TaskValidationError)) throw err;
      problems.push(...err.problems);
    }
  });
  if (problems.length) throw new TaskValidationError(problems, 'task file');
  if (tasks.length === 0) throw new TaskValidationError([{ field: 'file', message: 'holds no task' }], 'task file');
  return tasks;
}

/** One item of a task file; `line` where the format has lines (NDJSON, CSV), none for JSON (problems name the item). */
interface RawItem {
  value: unknown;
  line?: number;
}

/** The columns of a `dlq export` CSV that make a row an entry rather than a task. */
const EXPORT_MARKS = ['id', 'failureClass', 'taskKey'];

/**
 * Entries of a DLQ export → their tasks, keyed by their task key (by `<batch>:<key>` where two entries share a key).
 * JSON and NDJSON exports carry the whole task (options and image bodies too); a CSV export only type, sitekey and page.
 */
function fromDlqExport(items: RawItem[]): RawItem[] {
  const entry = (v: unknown): v is { task: Record<string, unknown>; taskKey?: unknown; batchId?: unknown; id: unknown } =>
    typeof v === 'object' && v !== null && typeof (v as { task?: unknown }).task === 'object' && (v as { task?: unknown }).task !== null && 'id' in v;
  const csvEntry = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && EXPORT_MARKS.every((k) => k in v);
  if (!items.length || !items.every((i) => entry(i.value) || csvEntry(i.value))) return items;
  const keyOf = (v: Record<string, unknown>): string | undefined => (typeof v.taskKey === 'string' ? v.taskKey : undefined);
  const counts = new Map<string, number>();
  for (const { value } of items) {
    const key = keyOf(value as Record<string, unknown>);
    if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return items.map(({ value, line }) => {
    const v = value as Record<string, unknown>;
    const taskKey = keyOf(v);
    const key = taskKey !== undefined && (counts.get(taskKey) ?? 0) > 1 ? `${typeof v.batchId === 'string' ? v.batchId : 'solve'}:${taskKey}` : taskKey;
    const task = entry(v) ? v.task : Object.fromEntries(['type', 'sitekey', 'pageUrl'].filter((c) => v[c] !== undefined).map((c) => [c, v[c]]));
    return { value: { ...task, ...(key !== undefined && { key }) }, ...(line !== undefined && { line }) };
  });
}

function rawItems(text: string, format: TaskFileFormat): RawItem[] {
  if (format === 'ndjson') {
    const items: RawItem[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      if (!raw.trim()) return;
      try {
        items.push({ value: JSON.parse(raw), line: i + 1 });
      } catch (err) {
        throw new TaskValidationError([{ line: i + 1, field: '(line)', message: `not JSON: ${(err as Error).message}` }], 'task file');
      }
    });
    return items;
  }
  if (format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new TaskValidationError([{ field: '(file)', message: `not JSON: ${(err as Error).message}` }], 'task file');
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { tasks?: unknown })?.tasks;
    if (!Array.isArray(list)) {
      throw new TaskValidationError([{ field: '(file)', message: 'must be an array of tasks or an object with a "tasks" array' }], 'task file');
    }
    // JSON has no useful line per item: problems name the item (its 0-based index, as default keys do)
    return list.map((value) => ({ value }));
  }
  return csvItems(text);
}

const CSV_OPTION_COLUMNS = ['invisible', 'enterprise', 'action', 'minScore', 'data', 'pageData', 'userAgent', 'proxy', 'proxyType'];

/** CSV: a header row naming type, sitekey, pageUrl, key, body and option columns; empty cells are absent. */
function csvItems(text: string): RawItem[] {
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parseCsv(text, { columns: true, info: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (err) {
    const line = (err as { lines?: number }).lines;
    throw new TaskValidationError([{ ...(line !== undefined && { line }), field: '(csv)', message: (err as Error).message }], 'task file');
  }
  return rows.map(({ record, info }) => {
    const value: Record<string, unknown> = {};
    const options: Record<string, unknown> = {};
    for (const [column, cell] of Object.entries(record)) {
      if (cell === '') continue;
      if (CSV_OPTION_COLUMNS.includes(column)) options[column] = csvCell(column, cell);
      else value[column] = cell;
    }
    if (Object.keys(options).length) value.options = options;
    return { value, line: info.lines };
  });
}

function csvCell(column: string, cell: string): unknown {
  if (column === 'invisible' || column === 'enterprise') return cell === 'true' || cell === '1' ? true : cell === 'false' || cell === '0' ? false : cell;
  if (column === 'minScore') return Number.isNaN(Number(cell)) ? cell : Number(cell);
  return cell;
}
