// Gateway overhead (issue 18), on its own: `npx tsx bench/gateway.ts [tasks]`. One local stack (in-memory dev server,
// a simulator answering at once, one worker) and a gateway in front of it. Prints, side by side in the same run:
//   - p50 / p95 of a solve through the client library (`solver.solve`, awaited) and through the gateway (in.php, then
//     res.php every 10 ms until the token), tasks one after another; the overhead is the difference of the p50s;
//   - res.php polls per second the gateway answers from its cache (20 clients polling finished tasks for 3 s), and the
//     Temporal calls it made meanwhile.
import { startGateway } from '../src/gateway/server';
import { parseGatewayKeys } from '../src/gateway/keys';
import { startLocalStack } from '../src/dev/stack';

const KEY = 'bench-gateway-key-0123456789abcd';
const tasks = Number(process.argv[2] ?? 40);

const pct = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

async function main(): Promise<void> {
  const stack = await startLocalStack({
    temporal: { devServer: {} },
    simulator: { timeScale: 0, rateLimits: { submitBurst: false, pollBudget: false }, scenarios: { sitekeys: { '*': { outcome: { type: 'solve', afterMs: 0 } } } } },
    env: { SOLVE_POLL_FIRST_DELAY_MS: '0', SOLVE_POLL_INTERVAL_MS: '10', SOLVE_SUBMIT_INITIAL_INTERVAL_MS: '20' },
  });
  const gateway = await startGateway({ client: stack.client, config: stack.config, users: parseGatewayKeys({ keys: [{ name: 'bench', key: KEY, budget: 1e6 }] }) });
  try {
    await stack.run(async () => {
      const direct: number[] = [];
      const through: number[] = [];
      const ids: string[] = [];
      for (let i = 0; i < tasks; i++) {
        // alternate, so both see the same server state
        let t0 = performance.now();
        await stack.solver.solve({ type: 'recaptcha-v2', sitekey: '6Le-bench-SITEKEY', pageUrl: `https://example.com/direct/${i}` });
        direct.push(performance.now() - t0);
        t0 = performance.now();
        const id = (await (await fetch(`${gateway.url}/in.php?key=${KEY}&method=userrecaptcha&googlekey=6Le-bench-SITEKEY&pageurl=https://example.com/gw/${i}`)).text()).slice(3);
        for (;;) {
          const answer = await (await fetch(`${gateway.url}/res.php?key=${KEY}&action=get&id=${id}`)).text();
          if (answer !== 'CAPCHA_NOT_READY') break;
          await new Promise((r) => setTimeout(r, 10));
        }
        through.push(performance.now() - t0);
        ids.push(id);
      }
      const before = gateway.stats();
      let polls = 0;
      const until = Date.now() + 3_000;
      await Promise.all(
        Array.from({ length: 20 }, async (_, c) => {
          for (let i = c; Date.now() < until; i++) {
            await (await fetch(`${gateway.url}/res.php?key=${KEY}&action=get&id=${ids[i % ids.length]}`)).text();
            polls++;
          }
        }),
      );
      const after = gateway.stats();
      const calls = (s: typeof after) => s.starts + s.describes + s.resultWaits + s.counts;
      console.log(`tasks ${tasks}, one after another`);
      console.log(`  solver.solve      p50 ${pct(direct, 50).toFixed(1)} ms  p95 ${pct(direct, 95).toFixed(1)} ms`);
      console.log(`  through gateway   p50 ${pct(through, 50).toFixed(1)} ms  p95 ${pct(through, 95).toFixed(1)} ms  (polls every 10 ms)`);
      console.log(`  gateway overhead  p50 ${(pct(through, 50) - pct(direct, 50)).toFixed(1)} ms`);
      console.log(`cached polls: ${(polls / 3).toFixed(0)} res.php answers/s (20 clients), ${calls(after) - calls(before)} Temporal calls meanwhile`);
    });
  } finally {
    await gateway.close();
    await stack.stop();
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
