// The notification socket must survive an overflow: with the `netlink` package, ENOBUFS on a
// subscribed socket aborted the agent ("Napi::Error ... Error in native callback") when 1,000
// taps were deleted at once. Here a deliberately tiny buffer is flooded while the event loop is
// held, and the socket must report the loss, keep delivering, and still answer fences.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { NetnsBinding } from '../../src/kernel/netns.js';
import { NotificationSocket, RTNLGRP } from '../../src/kernel/rtnl/notify-socket.js';
import { Netns, ipIn } from '../helpers/netns.js';

const netns = new Netns();
afterAll(() => netns.cleanup());

describe('rtnetlink notification socket', () => {
  it('reports lost notifications on overflow instead of crashing, then keeps working', async () => {
    const ns = netns.add('pt-ns');
    const binding = new NetnsBinding(ns);
    let messages = 0;
    let lost = 0;
    const sock = new NotificationSocket(binding, [RTNLGRP.LINK], 4096, { message: () => void (messages += 1), lost: () => void (lost += 1) });
    try {
      // 200 link changes in one `ip -batch` while this thread is blocked in execFileSync: far
      // more notifications than a 4 KiB buffer holds
      const batch = Array.from({ length: 100 }, (_, i) => `link add ov${i} type bridge\nlink set ov${i} up`).join('\n');
      execFileSync('ip', ['-n', ns, '-batch', '-'], { input: batch });
      await sock.fence();
      expect(lost).toBeGreaterThan(0);
      // still delivering after the overflow
      const before = messages;
      ipIn(ns, 'link', 'add', 'after0', 'type', 'bridge');
      await sock.fence();
      expect(messages).toBeGreaterThan(before);
    } finally {
      sock.close();
      binding.close();
    }
  });

  it('a fence resolves only after the notifications generated before it were delivered', async () => {
    const ns = netns.add('pt-ns');
    const binding = new NetnsBinding(ns);
    const seen: number[] = [];
    const sock = new NotificationSocket(binding, [RTNLGRP.LINK], 8 * 1024 * 1024, { message: (m) => void seen.push(m.type), lost: () => {} });
    try {
      execFileSync('ip', ['-n', ns, '-batch', '-'], { input: Array.from({ length: 50 }, (_, i) => `link add fb${i} type bridge`).join('\n') });
      await sock.fence();
      expect(seen.filter((t) => t === 16 /* RTM_NEWLINK */).length).toBeGreaterThanOrEqual(50);
    } finally {
      sock.close();
      binding.close();
    }
  });
});
