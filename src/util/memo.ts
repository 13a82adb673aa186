// Values computed from strings that recur pass after pass (addresses, CIDRs, device aliases,
// name tags), kept in a map that forgets everything when it reaches its limit: bounded memory
// with no per-hit bookkeeping on hot paths. A value of undefined is not kept (computed again).
export class BoundedMemo<V> {
  private readonly values = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get(key: string, make: () => V): V {
    let v = this.values.get(key);
    if (v === undefined) {
      v = make();
      if (v === undefined) return v;
      if (this.values.size >= this.limit) this.values.clear();
      this.values.set(key, v);
    }
    return v;
  }

  get size(): number {
    return this.values.size;
  }
}
