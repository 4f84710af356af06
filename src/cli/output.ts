// Output: results on stdout (tables for people, --json for scripts), progress and notes on stderr.
import Table from 'cli-table3';

/** How a user runs this program, as every hint prints it: in a clone the bin is not on PATH, `npx` finds it. */
export const INVOCATION = 'npx captcha-dlq';

export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}
export function note(line = ''): void {
  process.stderr.write(`${line}\n`);
}
export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

export function table(head: string[] | undefined, rows: (string | number)[][]): string {
  const t = new Table({
    ...(head && { head }),
    style: { head: [], border: [] },
    // no rule between rows: compact, still aligned
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  t.push(...rows.map((r) => r.map((c) => String(c))));
  return t.toString();
}

export function sortedCounts(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export function pct(n: number, of: number): string {
  return of > 0 ? `${((100 * n) / of).toFixed(1)}%` : '-';
}

/** 65_000 → "1m05s" */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
