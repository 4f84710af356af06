// The benchmark in smoke mode (tiny sizes): keeps `npm run bench` working in CI. It asserts that every measurement ran
// and reported a figure, and the figures that are facts rather than timings (duplicate paid submits, exact DLQ stats,
// history sizes, every task accounted for). Timings are the bench's business (`npm run bench`), not the test's.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { BenchReport, Figure } from '../bench/report';

const ROOT = join(__dirname, '..');

interface PeerRun {
  solved: number;
  deadLettered: number;
  lost: Record<string, number>;
  overheadMs: { n: number };
}

describe('benchmark (smoke mode)', () => {
  it('runs every measurement through a real server and simulator and writes the report', async () => {
    const out = await mkdtemp(join(tmpdir(), 'captcha-bench-smoke-'));
    try {
      const output: string[] = [];
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
        child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
        child.once('error', reject);
        child.once('exit', resolve);
      });
      assert.equal(code, 0, `bench exited with ${code}:\n${output.join('').slice(-4000)}`);
      const report = JSON.parse(await readFile(join(out, 'latest-smoke.json'), 'utf8')) as BenchReport;
      assert.deepEqual(report.crashed, []);
      assert.equal(report.mode, 'smoke');
      const byLabel = (re: RegExp): Figure => {
        const f = report.figures.find((x) => re.test(x.label));
        assert.ok(f, `a figure matching ${re}; got ${report.figures.map((x) => x.label).join(' | ')}`);
        return f;
      };
      for (const section of ['1', '2', '3', '4', '5', '6', '7']) {
        const figures = report.figures.filter((f) => f.section === section);
        assert.ok(figures.length > 0, `section ${section} reported`);
        for (const f of figures) assert.equal(typeof f.value, 'number', `${f.label} has a value`);
      }
      for (const re of [/throughput ratio/, /wall-time ratio seed/, /events per solved child \(mean\)/, /Cloud actions per solve/, /stats query p95 at rest/]) {
        assert.ok(byLabel(re).value! > 0, `${re} > 0`);
      }
      // facts, not timings
      assert.equal(byLabel(/duplicate paid submits/).value, 0);
      assert.equal(byLabel(/stats exact \(total and byCode\)/).value, 1);
      for (const f of report.figures.filter((x) => /largest run history/.test(x.label))) assert.ok(f.value! < 10_240, f.label);
      // the gateway (section 9): its six figures, and cached polls that cost Temporal nothing
      assert.equal(report.figures.filter((f) => f.section === '9' && typeof f.value === 'number').length, 6, 'section 9 reported');
      assert.equal((report.details.gateway as { cachedPolls: { temporalCalls: number } }).cachedPolls.temporalCalls, 0);
      const seed = report.details.seedCompare as { tasks: number; seed: { solved: number; deadLettered: number }; ours: { solved: number; deadLettered: number } };
      assert.equal(seed.seed.solved + seed.seed.deadLettered, seed.tasks, 'the seed accounted for every task');
      assert.equal(seed.ours.solved + seed.ours.deadLettered, seed.tasks, 'our batch accounted for every task');
      // the peer comparison: every task accounted for on both sides, each solve's ready time found, none of ours lost
      const peer = report.details.peer as { tasks: number; rounds: Record<'ours' | 'peer', unknown>; rateRules: Record<'ours' | 'peer', unknown> };
      const runs = [...Object.values(peer.rounds.ours as Record<string, PeerRun[]>).flat(), ...(peer.rounds.peer as PeerRun[])];
      for (const r of [...runs, ...Object.values(peer.rateRules.ours as Record<string, PeerRun>), peer.rateRules.peer as PeerRun]) {
        const lost = Object.values(r.lost).reduce((a, b) => a + b, 0);
        assert.equal(r.solved + r.deadLettered + lost, peer.tasks, 'every task accounted for');
        assert.equal(r.overheadMs.n, r.solved, 'the ready time of every solve found');
      }
      for (const r of Object.values(peer.rateRules.ours as Record<string, PeerRun>)) assert.deepEqual(r.lost, {}, 'none of ours lost with the rate rules on');
      assert.ok(byLabel(/CPU per task ratio/).value! > 0, 'CPU read from the processes');
      assert.ok(report.headline.some((h) => /the peer a user would pick/.test(h)), 'the peer comparison is the headline');
      const md = await readFile(join(out, 'latest-smoke.md'), 'utf8');
      assert.match(md, /# Benchmark results \(smoke mode\)/);
      assert.match(md, /## Headline/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
