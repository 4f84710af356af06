// `node --import tsx scripts/screenshot-cli.ts [--out docs/screenshots/cli-watch.png] [--tasks 120] [--at 0.45]`
//
// The README's picture of `captcha-dlq batch watch`: brings up a throwaway local stack in this process (an in-memory
// Temporal dev server with our search attributes, the provider simulator, a worker), starts a batch of reCAPTCHA v2
// tasks for example.com in which a few sitekeys are rejected, runs the real CLI command in a tmux pane of its own,
// captures the pane mid-run (`tmux capture-pane -e -p`, colours included), turns it into a small HTML page with a
// monospace font and renders that to PNG in Debian's headless Chromium (playwright-core). Stops everything it started.
//
// Needs tmux and /usr/bin/chromium (or CHROMIUM_PATH). Run it again whenever the progress bar changes.
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { chromium } from 'playwright-core';
import { startLocalStack } from '../src/dev/stack';

const ROOT = resolve(__dirname, '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const API_KEY = 'screenshot0000000000000000000000';
const REJECTED_SITEKEY = '6Lc-REJECTED-KEY';
const SITEKEY = '6Lc-EXAMPLE-COM-KEY';
const COLUMNS = 150;
const ROWS = 6;
const run = promisify(execFile);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: join(ROOT, 'docs', 'screenshots', 'cli-watch.png') },
      tasks: { type: 'string', default: '120' },
      /** share of the batch done when the pane is captured */
      at: { type: 'string', default: '0.45' },
    },
  });
  const total = Number(values.tasks);
  const at = Number(values.at);
  if (!(Number.isInteger(total) && total >= 10)) throw new Error(`--tasks must be an integer ≥ 10, got ${values.tasks}`);
  if (!(at > 0 && at < 1)) throw new Error(`--at must be between 0 and 1, got ${values.at}`);
  const out = resolve(values.out);
  await run('tmux', ['-V']).catch(() => {
    throw new Error('tmux is not installed (apt-get install tmux)');
  });
  await stat(CHROMIUM).catch(() => {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
  });

  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const stops: (() => Promise<unknown>)[] = [];
  const socket = `captcha-dlq-screenshot-${process.pid}`; // a tmux server of our own: never touches the user's
  const tmux = (...args: string[]) => run('tmux', ['-L', socket, ...args]).then((r) => r.stdout);
  try {
    const stack = await startLocalStack({
      temporal: { devServer: { headless: true } },
      // ~1 s per solve, 10 at a time: a 120-task batch takes ~15 s, time enough to catch the bar halfway
      simulator: {
        timeScale: 0.03,
        seed: 7,
        scenarios: { sitekeys: { [REJECTED_SITEKEY]: { submit: [{ type: 'error', code: 'ERROR_WRONG_GOOGLEKEY' }] } } },
      },
      env: { CAPTCHA_API_KEY: API_KEY, SOLVE_POLL_FIRST_DELAY_MS: '300', SOLVE_POLL_INTERVAL_MS: '250', SOLVE_SUBMIT_INITIAL_INTERVAL_MS: '100' },
    });
    stops.push(() => stack.stop());
    const env = { TEMPORAL_ADDRESS: stack.config.temporal.address, CAPTCHA_BASE_URL: stack.sim!.url, CAPTCHA_API_KEY: API_KEY };
    const worker = await stack.newWorker();
    const workerDone = worker.run();
    stops.push(async () => {
      worker.shutdown();
      await workerDone;
    });

    const tasks = Array.from({ length: total }, (_, i) => ({
      type: 'recaptcha-v2',
      sitekey: i % 17 === 5 ? REJECTED_SITEKEY : SITEKEY,
      pageUrl: `https://example.com/login/${i}`,
      key: `task-${String(i).padStart(3, '0')}`,
    }));
    const solver = stack.solver;
    const { batchId, handle } = await solver.startBatch({ tasks, concurrency: 10 });
    console.log(`batch ${batchId}: ${total} tasks; watching it in tmux`);

    // a shell with a plain prompt and `captcha-dlq` on PATH, as a user who ran `npm link` would have it
    const bin = await mkdtemp(join(tmpdir(), 'captcha-dlq-bin-'));
    stops.push(() => rm(bin, { recursive: true, force: true }));
    await writeFile(join(bin, 'captcha-dlq'), `#!/bin/sh\nexec node ${JSON.stringify(join(ROOT, 'bin', 'captcha-dlq.js'))} "$@"\n`);
    await chmod(join(bin, 'captcha-dlq'), 0o755);
    // (bash ignores PS1 from the environment, and tmux may not pass PATH through: an rc file sets both)
    const rc = join(bin, 'bashrc');
    await writeFile(rc, `PS1='$ '\nexport PATH=${JSON.stringify(`${bin}:${process.env.PATH ?? ''}`)}\n`);
    const shellEnv = { ...env, TERM: 'xterm-256color', LANG: 'C.UTF-8' };
    await tmux(
      'new-session', '-d', '-s', 'watch', '-x', String(COLUMNS), '-y', String(ROWS), '-c', ROOT,
      ...Object.entries(shellEnv).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      `bash --noprofile --rcfile ${rc}`,
    );
    stops.push(() => tmux('kill-server').catch(() => undefined));
    await tmux('send-keys', '-t', 'watch', `captcha-dlq batch watch ${batchId}`, 'Enter');

    // capture once the bar has moved past `at` (and before the batch ends)
    let pane = '';
    for (const deadline = Date.now() + 120_000; ; ) {
      if (Date.now() > deadline) throw new Error(`the batch did not reach ${at * 100}% within 2 minutes`);
      const p = await solver.batch(batchId).progress();
      const done = p.solved + p.deadLettered + p.cancelled;
      if (done >= at * total) {
        await sleep(600); // let the bar draw this state (it refreshes every second)
        pane = await tmux('capture-pane', '-e', '-p', '-t', 'watch');
        break;
      }
      await sleep(100);
    }
    if (!pane.includes('█') && !pane.includes('░')) throw new Error(`no progress bar in the pane:\n${pane}`);
    console.log(pane.replace(/\x1b\[[0-9;]*m/g, ''));
    await handle.result(); // let it finish, so nothing is left mid-flight when we stop

    await mkdir(dirname(out), { recursive: true });
    await renderPng(pane, out);
    console.log(`wrote ${out} (${(await stat(out)).size} bytes)`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

/** Renders captured pane text (with SGR colour codes) as a terminal window, to PNG. */
async function renderPng(pane: string, out: string): Promise<void> {
  const lines = pane.replace(/\s+$/, '').split('\n');
  const html = `<!doctype html><html><head><meta charset="utf-8"><style>
  body { margin: 0; background: #ffffff; }
  .window { display: inline-block; margin: 16px; border-radius: 8px; overflow: hidden; box-shadow: 0 2px 10px rgba(0,0,0,.25); }
  .bar { background: #3a3a3a; height: 26px; padding-left: 12px; display: flex; align-items: center; gap: 7px; }
  .dot { width: 11px; height: 11px; border-radius: 50%; }
  .title { color: #bbbbbb; font: 12px 'DejaVu Sans', sans-serif; margin-left: 12px; }
  pre { margin: 0; padding: 12px 16px 14px; background: #1e1e1e; color: #d4d4d4;
        font: 14px/1.35 'DejaVu Sans Mono', 'Liberation Mono', monospace; white-space: pre; }
  </style></head><body><div class="window">
  <div class="bar"><span class="dot" style="background:#ff5f56"></span><span class="dot" style="background:#ffbd2e"></span><span class="dot" style="background:#27c93f"></span><span class="title">captcha-dlq batch watch</span></div>
  <pre>${lines.map(ansiToHtml).join('\n')}</pre></div></body></html>`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 400 }, deviceScaleFactor: 2 });
    await page.setContent(html);
    await page.locator('.window').screenshot({ path: out });
  } finally {
    await browser.close();
  }
}

const PALETTE = ['#1e1e1e', '#f14c4c', '#23d18b', '#e5e510', '#3b8eea', '#d670d6', '#29b8db', '#e5e5e5'];
const BRIGHT = ['#666666', '#f14c4c', '#23d18b', '#f5f543', '#3b8eea', '#d670d6', '#29b8db', '#ffffff'];

/** One line of SGR-coloured text to HTML spans (foreground/background 8, 16, 256 and true colours; bold, dim, underline). */
function ansiToHtml(line: string): string {
  let fg: string | undefined;
  let bg: string | undefined;
  let bold = false;
  let dim = false;
  let underline = false;
  let html = '';
  const color256 = (n: number): string => {
    if (n < 8) return PALETTE[n]!;
    if (n < 16) return BRIGHT[n - 8]!;
    if (n >= 232) {
      const v = 8 + (n - 232) * 10;
      return `rgb(${v},${v},${v})`;
    }
    const c = n - 16;
    const level = (x: number) => (x === 0 ? 0 : 55 + x * 40);
    return `rgb(${level(Math.floor(c / 36))},${level(Math.floor(c / 6) % 6)},${level(c % 6)})`;
  };
  for (const part of line.split(/(\x1b\[[0-9;]*m)/)) {
    const sgr = /^\x1b\[([0-9;]*)m$/.exec(part);
    if (!sgr) {
      if (!part) continue;
      const style = [fg && `color:${fg}`, bg && `background:${bg}`, bold && 'font-weight:bold', dim && 'opacity:.6', underline && 'text-decoration:underline']
        .filter(Boolean)
        .join(';');
      const text = part.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      html += style ? `<span style="${style}">${text}</span>` : text;
      continue;
    }
    const codes = (sgr[1] || '0').split(';').map(Number);
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i]!;
      if (c === 0) [fg, bg, bold, dim, underline] = [undefined, undefined, false, false, false];
      else if (c === 1) bold = true;
      else if (c === 2) dim = true;
      else if (c === 4) underline = true;
      else if (c === 22) [bold, dim] = [false, false];
      else if (c === 24) underline = false;
      else if (c >= 30 && c <= 37) fg = PALETTE[c - 30];
      else if (c >= 90 && c <= 97) fg = BRIGHT[c - 90];
      else if (c >= 40 && c <= 47) bg = PALETTE[c - 40];
      else if (c >= 100 && c <= 107) bg = BRIGHT[c - 100];
      else if (c === 39) fg = undefined;
      else if (c === 49) bg = undefined;
      else if (c === 38 || c === 48) {
        let value: string | undefined;
        if (codes[i + 1] === 5) {
          value = color256(codes[i + 2] ?? 0);
          i += 2;
        } else if (codes[i + 1] === 2) {
          value = `rgb(${codes[i + 2] ?? 0},${codes[i + 3] ?? 0},${codes[i + 4] ?? 0})`;
          i += 4;
        }
        if (c === 38) fg = value;
        else bg = value;
      }
    }
  }
  return html;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
