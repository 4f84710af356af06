// Figures, the summary table, and the two report files (bench/results/latest.json and latest.md).
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';

export interface Target {
  op: '>=' | '<=' | '<' | '=';
  value: number;
}

export interface Figure {
  /** the measurement (1–6) it belongs to */
  section: string;
  label: string;
  value: number | null;
  unit?: string;
  target?: Target;
  note?: string;
}

export interface MeasurementResult {
  figures: Figure[];
  /** sentences for the top of the report (the peer comparison's) */
  headline?: string[];
  /** raw numbers behind the figures, for the JSON report */
  details: Record<string, unknown>;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  temporal: string;
  commit: string;
  /** 1-minute load average at the start and the end of the run: how busy the machine was with others' work */
  load: { start: number; end?: number };
}

import type { Mode } from './stack';

export interface BenchReport {
  mode: Mode;
  startedAt: string;
  elapsedS: number;
  machine: Machine;
  sizes: Record<string, unknown>;
  /** the run's headline sentences, above the table */
  headline: string[];
  figures: Figure[];
  crashed: { section: string; measurement: string; error: string }[];
  details: Record<string, unknown>;
}

export function figure(section: string, label: string, value: number | null, unit?: string, target?: Target, note?: string): Figure {
  return { section, label, value, ...(unit && { unit }), ...(target && { target }), ...(note && { note }) };
}

export function verdict(f: Figure): 'pass' | 'FAIL' | '' {
  if (!f.target || f.value === null || Number.isNaN(f.value)) return '';
  const { op, value } = f.target;
  const ok = op === '>=' ? f.value >= value : op === '<=' ? f.value <= value : op === '<' ? f.value < value : f.value === value;
  return ok ? 'pass' : 'FAIL';
}

function formatValue(f: Figure): string {
  if (f.value === null || Number.isNaN(f.value)) return 'n/a';
  const v = Math.abs(f.value) >= 100 ? Math.round(f.value).toLocaleString('en-US') : String(Number(f.value.toPrecision(3)));
  return f.unit ? `${v} ${f.unit}` : v;
}

function formatTarget(t: Target | undefined): string {
  return t ? `${t.op === '>=' ? '≥' : t.op === '<=' ? '≤' : t.op} ${t.value.toLocaleString('en-US')}` : '';
}

function rows(report: BenchReport): string[][] {
  const out = report.figures.map((f) => [f.section, f.label, formatValue(f), formatTarget(f.target), verdict(f)]);
  for (const c of report.crashed) out.push([c.section, `CRASHED: ${c.measurement}`, c.error.split('\n')[0]!.slice(0, 80), '', 'FAIL']);
  return out;
}

export function summaryTable(report: BenchReport): string {
  const header = ['#', 'figure', 'value', 'target', ''];
  const body = rows(report);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function markdown(report: BenchReport, methods: string): string {
  const m = report.machine;
  const table = rows(report).map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  const notes = report.figures.filter((f) => f.note).map((f) => `- **${f.section} ${f.label}**: ${f.note}`);
  return [
    `# Benchmark results (${report.mode} mode)`,
    '',
    `Run ${report.startedAt}, ${Math.round(report.elapsedS)} s. Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; ` +
      `Node ${m.node}; ${m.temporal}; code ${m.commit}; load average ${m.load.start} at the start, ${m.load.end ?? '?'} at the end.`,
    '',
    'Absolute numbers depend on the machine and on whatever else runs on it; the ratios are measured in the same run ' +
      'and are what to compare.',
    '',
    ...(report.headline.length ? ['## Headline', '', ...report.headline.map((h) => `- ${h}`), ''] : []),
    '| # | figure | value | target | |',
    '|---|---|---|---|---|',
    ...table,
    '',
    ...(notes.length ? ['## Notes', '', ...notes, ''] : []),
    methods,
    '',
  ].join('\n');
}

/** `<dir>/<name>.json` and `<name>.md`. */
export async function writeReport(dir: string, name: string, report: BenchReport, methods: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(dir, `${name}.md`), markdown(report, methods));
}

export function machine(temporalVersion: string): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.version,
    temporal: temporalVersion,
    commit: gitDescribe(),
    load: { start: loadNow() },
  };
}

export function loadNow(): number {
  return Math.round(loadavg()[0]! * 10) / 10;
}

/** The commit, and whether the working tree differs from it (teammates' uncommitted work is part of the run). */
function gitDescribe(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
    const changed = dirty ? dirty.split('\n').length : 0;
    return changed ? `${sha} + ${changed} modified files` : sha;
  } catch {
    return 'unknown';
  }
}
