// sd_notify through libsystemd on a real unix datagram socket (socat receives it), in this
// process: READY/STATUS/STOPPING pass through verbatim, the watchdog pings at half of
// WATCHDOG_USEC and stops when told, and nothing is sent (or attempted) without NOTIFY_SOCKET.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sdNotify, startWatchdog } from '../../src/systemd/notify.js';
import { describeUnless } from '../helpers/skip.js';

const socat = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
const libsystemd = existsSync('/usr/lib/x86_64-linux-gnu/libsystemd.so.0') || existsSync('/lib/x86_64-linux-gnu/libsystemd.so.0');

let receiver: ChildProcess | undefined;
let dir: string | undefined;
const savedEnv = { NOTIFY_SOCKET: process.env.NOTIFY_SOCKET, WATCHDOG_USEC: process.env.WATCHDOG_USEC };

afterEach(() => {
  receiver?.kill();
  receiver = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** A notify socket; returns a getter of everything received so far (socat prints datagrams back to back). */
async function notifySocket(): Promise<() => string> {
  dir = mkdtempSync(join(tmpdir(), 'plumb-sdn-'));
  const sock = join(dir, 'notify.sock');
  // socat prints each datagram; -u one way, fork-free: UNIX-RECV keeps receiving
  receiver = spawn('socat', ['-u', `UNIX-RECV:${sock}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let got = '';
  receiver.stdout?.on('data', (d: Buffer) => (got += d.toString()));
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
  process.env.NOTIFY_SOCKET = sock;
  return () => got;
}

const until = async (cond: () => boolean, ms = 15_000): Promise<void> => {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describeUnless(socat && libsystemd ? undefined : 'socat or libsystemd.so.0 missing')('sd_notify', () => {
  it('sends READY, STATUS and STOPPING messages to NOTIFY_SOCKET', async () => {
    const got = await notifySocket();
    expect(sdNotify('READY=1\nSTATUS=converged, 3 ports')).toBe(true);
    expect(sdNotify('STOPPING=1')).toBe(true);
    await until(() => got().includes('STOPPING=1'));
    expect(got()).toBe('READY=1\nSTATUS=converged, 3 portsSTOPPING=1');
  });

  it('pings the watchdog at half of WATCHDOG_USEC while healthy, and stops when told', async () => {
    const got = await notifySocket();
    process.env.WATCHDOG_USEC = '1000000'; // WatchdogSec=1 → a ping every 500 ms
    let healthy = false;
    const stop = startWatchdog(() => healthy);
    await new Promise((r) => setTimeout(r, 700));
    expect(got()).toBe(''); // unhealthy: no ping, so systemd would restart the daemon
    healthy = true;
    await until(() => got().split('WATCHDOG=1').length - 1 >= 2);
    expect(got().replaceAll('WATCHDOG=1', '')).toBe('');
    stop();
    const n = got().length;
    await new Promise((r) => setTimeout(r, 700));
    expect(got().length).toBe(n);
  });

  it('is a no-op without NOTIFY_SOCKET, and the watchdog without WATCHDOG_USEC', async () => {
    delete process.env.NOTIFY_SOCKET;
    expect(sdNotify('READY=1')).toBe(false);
    const got = await notifySocket();
    delete process.env.WATCHDOG_USEC;
    const stop = startWatchdog();
    await new Promise((r) => setTimeout(r, 600));
    stop();
    expect(got()).toBe('');
  });
});
