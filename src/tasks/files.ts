// Batch files: JSON (an array), NDJSON (one task a line) or CSV (a header row). Every problem names its line and field.
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
  /** the line of each task, in order (JSON: the item's position) */
  lines: number[];
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
  const lines: number[] = [];
  const tasks = parseTaskText(bytes.toString('utf8'), format, lines);
  return { path, format, sha256, tasks, lines };
}

/** Parses and validates every task; keys default to the 0-based item index and must be unique. */
export function parseTaskText(text: string, format: TaskFileFormat, lines: number[] = []): KeyedTask[] {
  // a UTF-8 byte order mark (Windows editors write one) is not part of the content, in any format
  const items = rawItems(text.replace(/^\uFEFF/, ''), format);
  const problems: TaskValidationError['problems'] = [];
  const seen = new Map<string, number>();
  const tasks: KeyedTask[] = [];
  items.forEach(({ value, line }, index) => {
    try {
      const task = parseTask(value, index, line);
      const key = task.key ?? String(index);
      const previous = seen.get(key);
      if (previous !== undefined) problems.push({ index, line, field: 'key', message: `"${key}" duplicates the key on line ${previous}` });
      seen.set(key, line);
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

function rawItems(text: string, format: TaskFileFormat): { value: unknown; line: number }[] {
  if (format === 'ndjson') {
    const items: { value: unknown; line: number }[] = [];
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
    // JSON has no useful line per item; report the item index (line = index + 1 keeps problems ordered)
    return list.map((value, i) => ({ value, line: i + 1 }));
  }
  return csvItems(text);
}

const CSV_OPTION_COLUMNS = ['invisible', 'enterprise', 'action', 'minScore', 'data', 'pageData', 'userAgent', 'proxy', 'proxyType'];

/** CSV: a header row naming type, sitekey, pageUrl, key, body and option columns; empty cells are absent. */
function csvItems(text: string): { value: unknown; line: number }[] {
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
