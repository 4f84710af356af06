// Measurement 9: the gateway (issue 18), three figures, each side by side with what it is compared to in the same run:
//   - overhead: tasks one after another, alternating a solve through the client library (`solver.solve`, awaited) and
//     the same solve through the gateway (in.php, then res.php every 10 ms until the token), instant solves; the
//     overhead of a pair is the difference of its two times, reported as p50 / p95 over the pairs;
//   - provider calls: N clients each submitting through the gateway and polling it every 5 s (scaled ×0.1, like the
//     solves: reCAPTCHA 15–60 s ×0.1, the product's default poll policy scaled the same, polls coalesced) vs the same N
//     tasks as one batch with all N in flight; provider calls (in.php + res.php) per solve for both;
//   - requests/s: clients polling finished tasks as fast as answers come (the gateway answers from its cache), and the
//     Temporal calls it made meanwhile. The clients run in the same process as the gateway: they share its 2 cores.
import { startGateway, type Gateway } from '../src/gateway/server';
import { parseGatewayKeys } from '../src/gateway/keys';
import { CaptchaSolver } from '../src/client';
import type { SimulatorStats } from '../src/simulator/stats';
import { scaledPolicy } from './poll-calls';
import { figure, type MeasurementResult } from './report';
import { NO_WAIT_POLICY, benchEnv, startBenchSimulator, withTimeout, withWorker, type BenchContext, type Mode } from './stack';

const KEY = 'bench-gateway-key-0123456789abcd';
const USERS = parseGatewayKeys({ keys: [{ name: 'bench', key: KEY, budget: 1e9, submitsPerMinute: 100_000 }] });
const SCALE = 0.1;
/** sequential overhead samples; clients polling every 5 s (×0.1) vs a batch of as many tasks; seconds of cached polls */
/** `callRounds`: rounds of each side of the provider-calls comparison, interleaved (gateway, batch, batch, gateway, …) */
const SIZES: Record<Mode, { overheadTasks: number; clients: number; pollSeconds: number; pollers: number; callRounds: number }> = {
  smoke: { overheadTasks: 10, clients: 20, pollSeconds: 1, pollers: 10, callRounds: 1 },
  quick: { overheadTasks: 60, clients: 200, pollSeconds: 3, pollers: 50, callRounds: 2 },
  full: { overheadTasks: 200, clients: 500, pollSeconds: 5, pollers: 100, callRounds: 3 },
};

const pct = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const calls = (s: SimulatorStats) => s.requests['in.php'] + s.requests['res.php'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function text(url: string): Promise<string> {
  return (await fetch(url)).text();
}

/** Submits through the gateway and polls every `everyMs` until the answer; the token or the final code. */
async function solveThrough(g: Gateway, query: string, everyMs: number): Promise<{ id: string; answer: string }> {
  const submitted = await text(`${g.url}/in.php?key=${KEY}&${query}`);
  if (!submitted.startsWith('OK|')) throw new Error(`the gateway refused a submit: ${submitted}`);
  const id = submitted.slice(3);
  for (;;) {
    const answer = await text(`${g.url}/res.php?key=${KEY}&action=get&id=${id}`);
    if (answer !== 'CAPCHA_NOT_READY') return { id, answer };
    await sleep(everyMs);
  }
}

export async function measureGateway(ctx: BenchContext): Promise<MeasurementResult> {
  const { stack } = ctx;
  const sizes = SIZES[ctx.mode];

  // ---- overhead over the underlying solve, and requests/s from the cache -----------------------------------------
  const direct: number[] = [];
  const through: number[] = [];
  let rps = 0;
  let temporalCallsWhilePolling = 0;
  {
    const sim = await startBenchSimulator({ provider: '2captcha', timeScale: 0, scenarios: { sitekeys: { '*': { outcome: { type: 'solve', afterMs: 0 } } } } });
    try {
      const env = benchEnv(stack, 'q-bench-gateway-overhead', sim, NO_WAIT_POLICY, { CAPTCHA_PROVIDER: '2captcha' });
      await withWorker(stack, env, async (config) => {
        const solver = new CaptchaSolver(stack.client, config);
        const g = await startGateway({ client: stack.client, config, users: USERS });
        try {
          const ids: string[] = [];
          for (let i = 0; i < sizes.overheadTasks + 2; i++) {
            // alternating, so both see the same server state; the first two of each are warm-up
            let t0 = performance.now();
            await solver.solve({ type: 'recaptcha-v2', sitekey: '6Le-bench-gw', pageUrl: `https://example.com/direct/${i}` }, { policy: NO_WAIT_POLICY });
            const d = performance.now() - t0;
            t0 = performance.now();
            const { id, answer } = await withTimeout(solveThrough(g, `method=userrecaptcha&googlekey=6Le-bench-gw&pageurl=https://example.com/gw/${i}`, 10), 60_000, 'a solve through the gateway');
            if (!answer.startsWith('OK|')) throw new Error(`a solve through the gateway failed: ${answer}`);
            if (i >= 2) {
              direct.push(d);
              through.push(performance.now() - t0);
            }
            ids.push(id);
          }
          const temporalCalls = () => {
            const s = g.stats();
            return s.starts + s.describes + s.resultWaits + s.counts;
          };
          const before = temporalCalls();
          let polls = 0;
          const started = performance.now();
          const until = started + sizes.pollSeconds * 1000;
          await Promise.all(
            Array.from({ length: sizes.pollers }, async (_, c) => {
              for (let i = c; performance.now() < until; i++) {
                await text(`${g.url}/res.php?key=${KEY}&action=get&id=${ids[i % ids.length]!}`);
                polls++;
              }
            }),
          );
          rps = polls / ((performance.now() - started) / 1000);
          temporalCallsWhilePolling = temporalCalls() - before;
        } finally {
          await g.close();
        }
      });
    } finally {
      await sim.close();
    }
  }
  const overheads = through.map((t, i) => t - direct[i]!);
  const overheadP50 = pct(overheads, 50);
  const overheadP95 = pct(overheads, 95);
  ctx.log(`  overhead: direct p50 ${round(pct(direct, 50))} ms, through the gateway p50 ${round(pct(through, 50))} ms; ${round(rps, 0)} cached polls/s`);

  // ---- N clients polling every 5 s (×0.1) through the gateway vs N tasks in one batch ------------------------------
  const n = sizes.clients;
  const policy = scaledPolicy(SCALE);
  const clientPollMs = Math.round(5_000 * SCALE);
  const runSide = async (side: 'gateway' | 'batch', r: number) => {
    const sim = await startBenchSimulator({ provider: '2captcha', timeScale: SCALE, seed: 18 });
    try {
      const env = benchEnv(stack, `q-bench-gateway-${side}-${r}`, sim, policy, { CAPTCHA_PROVIDER: '2captcha', CAPTCHA_POLL_COALESCE_MS: '100' });
      return await withWorker(stack, env, async (config) => {
        const started = performance.now();
        let solved = 0;
        let clientPolls = 0;
        if (side === 'batch') {
          const solver = new CaptchaSolver(stack.client, config);
          const tasks = Array.from({ length: n }, (_, i) => ({ type: 'recaptcha-v2', sitekey: `6Le-bench-gw-calls-${i}`, pageUrl: `https://example.com/gw-calls/${i}`, key: `t${i}` }));
          const { handle } = await solver.startBatch({ batchId: `bench-gateway-batch-${r}`, tasks, concurrency: n, policy });
          solved = (await withTimeout(handle.result(), 600_000, 'the batch')).solved;
        } else {
          const g = await startGateway({ client: stack.client, config, users: USERS });
          try {
            const answers = await withTimeout(
              Promise.all(Array.from({ length: n }, (_, i) => solveThrough(g, `method=userrecaptcha&googlekey=6Le-bench-gw-calls-${i}&pageurl=https://example.com/gw-calls/${i}`, clientPollMs))),
              600_000,
              'the gateway clients',
            );
            solved = answers.filter((a) => a.answer.startsWith('OK|')).length;
            clientPolls = g.stats().polls;
          } finally {
            await g.close();
          }
        }
        const stats = sim.stats();
        return { solved, clientPolls, wallMs: performance.now() - started, calls: calls(stats), inPhp: stats.requests['in.php'], resPhp: stats.requests['res.php'], paidSubmits: stats.paidSubmits };
      });
    } finally {
      await sim.close();
    }
  };
  // the poll rounds' timing moves a few res.php calls either way: rounds of each side, interleaved, and their totals
  type Side = Awaited<ReturnType<typeof runSide>>;
  const rounds: { gateway: Side; batch: Side }[] = [];
  for (let r = 1; r <= sizes.callRounds; r++) {
    const order: ('gateway' | 'batch')[] = r % 2 === 1 ? ['gateway', 'batch'] : ['batch', 'gateway'];
    const got: Partial<Record<'gateway' | 'batch', Side>> = {};
    for (const side of order) got[side] = await runSide(side, r);
    rounds.push({ gateway: got.gateway!, batch: got.batch! });
    ctx.log(`  calls round ${r}: ${n} clients through the gateway ${got.gateway!.solved} solved, ${got.gateway!.calls} provider calls, ${got.gateway!.clientPolls} client polls; ${n} tasks in one batch ${got.batch!.solved} solved, ${got.batch!.calls} provider calls`);
  }
  const total = (side: 'gateway' | 'batch'): Side =>
    rounds.map((x) => x[side]).reduce((a, b) => ({ solved: a.solved + b.solved, clientPolls: a.clientPolls + b.clientPolls, wallMs: a.wallMs + b.wallMs, calls: a.calls + b.calls, inPhp: a.inPhp + b.inPhp, resPhp: a.resPhp + b.resPhp, paidSubmits: a.paidSubmits + b.paidSubmits }));
  const viaGateway = total('gateway');
  const batch = total('batch');
  const rawPerSolve = (r: { calls: number; solved: number }) => r.calls / Math.max(1, r.solved);
  const perSolve = (r: { calls: number; solved: number }) => round(rawPerSolve(r), 2);
  const roundRatios = rounds.map((x) => round(rawPerSolve(x.gateway) / rawPerSolve(x.batch), 3));
  const describe = (r: Side) => `${r.solved}/${n * rounds.length} solved in ${rounds.length} round(s), ${round(r.wallMs / 1000 / rounds.length)} s each on average; in.php ${r.inPhp}, res.php ${r.resPhp}, paid submits ${r.paidSubmits}`;

  return {
    figures: [
      figure('9', `gateway overhead p50 over solver.solve (instant solves, client polls every 10 ms; ${direct.length} pairs)`, round(overheadP50), 'ms', { op: '<=', value: 50 }, `direct p50 ${round(pct(direct, 50))} ms, via gateway ${round(pct(through, 50))} ms`),
      figure('9', 'gateway overhead p95 over solver.solve (the same pairs)', round(overheadP95), 'ms', undefined, `direct p95 ${round(pct(direct, 95))} ms, via gateway ${round(pct(through, 95))} ms`),
      figure('9', `provider calls per solve, ${n} clients polling the gateway every 5 s (×${SCALE})`, perSolve(viaGateway), undefined, undefined, `${describe(viaGateway)}; ${viaGateway.clientPolls} client polls answered`),
      figure('9', `provider calls per solve, ${n} tasks in one batch (all in flight)`, perSolve(batch), undefined, undefined, describe(batch)),
      figure('9', 'provider calls per solve, gateway clients / batch', round(rawPerSolve(viaGateway) / Math.max(0.01, rawPerSolve(batch)), 2), '×', { op: '<=', value: 1 },
        `all rounds' calls over all rounds' solves; every round's ratio: ${roundRatios.join(', ')} (min ${Math.min(...roundRatios)}, max ${Math.max(...roundRatios)})`),
      figure('9', `gateway requests/s, cached res.php polls (${sizes.pollers} clients in-process, 2 cores)`, round(rps, 0), 'req/s', undefined, `${temporalCallsWhilePolling} Temporal calls meanwhile`),
    ],
    details: {
      gateway: {
        sizes,
        scale: SCALE,
        overhead: { directMs: direct.map((x) => round(x)), throughMs: through.map((x) => round(x)) },
        calls: { gateway: viaGateway, batch, rounds },
        cachedPolls: { perSecond: round(rps), pollers: sizes.pollers, seconds: sizes.pollSeconds, temporalCalls: temporalCallsWhilePolling },
      },
    },
  };
}
