// Polls until `get` gives a value (sync or async), or fails naming how long it waited. A wait,
// not an assertion of speed: callers give the bound that separates "never" from "slow".
export async function until<T>(get: () => T | undefined | Promise<T | undefined>, ms = 15_000, everyMs = 20): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() - start > ms) throw new Error(`not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
