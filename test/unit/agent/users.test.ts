// Tap owners by name resolve through this machine's /etc/passwd and /etc/group.
import { describe, expect, it } from 'vitest';
import { systemIdResolver } from '../../../src/agent/users.js';

describe('systemIdResolver', () => {
  it('passes numeric ids through and resolves names from /etc/passwd and /etc/group', () => {
    const ids = systemIdResolver();
    expect(ids.uid(1234)).toBe(1234);
    expect(ids.gid(5678)).toBe(5678);
    expect(ids.uid('root')).toBe(0);
    expect(ids.gid('root')).toBe(0);
    expect(ids.uid('no-such-user-plumb')).toBeUndefined();
    expect(ids.gid('no-such-group-plumb')).toBeUndefined();
  });
});
