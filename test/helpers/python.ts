// Vendors' official SDKs published on PyPI only (CaptchaAI, CapSolver), pinned and installed once into .data/, for
// the tests that drive them from a Python script (test/conformance.test.ts, test/gateway.test.ts).
import { execFile } from 'node:child_process';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** CaptchaAI's official SDK and its dependencies, pinned (`--no-deps`, so nothing floats). */
export const CAPTCHAAI_SDK = ['captchaai==1.0.1', 'httpx==0.28.1', 'httpcore==1.0.9', 'h11==0.16.0', 'anyio==4.16.0', 'idna==3.20', 'certifi==2026.10.19.post1', 'typing_extensions==4.16.0'];
/** CapSolver's official SDK (github.com/capsolver/capsolver-python) and its dependencies, pinned. */
export const CAPSOLVER_SDK = ['capsolver==1.0.7', 'requests==2.34.2', 'urllib3==2.8.0', 'charset_normalizer==3.5.3', 'idna==3.20', 'certifi==2026.10.19.post1'];
export const run = promisify(execFile);

/** Installs the pinned packages once into .data/conformance-py/<hash of the pins>; returns that directory. */
export async function pythonPackages(pins: readonly string[]): Promise<string> {
  const root = join(__dirname, '..', '..', '.data', 'conformance-py');
  const dir = join(root, Buffer.from(pins.join(' ')).toString('base64url').slice(0, 48));
  const done = join(dir, '.installed');
  if (await access(done).then(() => true, () => false)) return dir;
  await mkdir(root, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await run('python3', ['-m', 'pip', 'install', '--target', tmp, '--no-deps', '--disable-pip-version-check', '--no-input', '-q', ...pins], {
    env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' },
    timeout: 10 * 60_000,
  });
  await writeFile(join(tmp, '.installed'), `${pins.join('\n')}\n`);
  await rename(tmp, dir).catch(async () => rm(tmp, { recursive: true, force: true })); // another run got there first
  return dir;
}
