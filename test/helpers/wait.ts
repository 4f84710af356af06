// Waiting on a condition rather than a clock: tests stay correct on a loaded machine.

/** Reads `get` every 200 ms until `ok` accepts its value; fails naming `what` and the last value at the deadline. */
export async function untilValue<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
