// The bounded memo behind the address, alias and name caches.
import { describe, expect, it } from 'vitest';
import { BoundedMemo } from '../../../src/util/memo.js';

describe('BoundedMemo', () => {
  it('computes a value once, forgets everything at its limit, and never keeps undefined', () => {
    const m = new BoundedMemo<string | undefined>(3);
    let calls = 0;
    const upper = (k: string) => m.get(k, () => (calls++, k === 'none' ? undefined : k.toUpperCase()));
    expect([upper('a'), upper('a'), upper('b')]).toEqual(['A', 'A', 'B']);
    expect(calls).toBe(2);
    expect(upper('none')).toBeUndefined();
    expect(upper('none')).toBeUndefined();
    expect(calls).toBe(4); // undefined is computed again each time
    upper('c');
    expect(m.size).toBe(3);
    upper('d'); // at the limit: cleared, then d kept
    expect(m.size).toBe(1);
    upper('a');
    expect(calls).toBe(7); // a was forgotten
  });
});
