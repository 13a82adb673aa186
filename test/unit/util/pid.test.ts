// parsePid/signalPid: an empty or malformed pid file must never become process.kill(0), which
// signals the caller's whole process group (it once took a whole test run down, vitest included).
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { parsePid, signalPid } from '../../../src/util/pid.js';

describe('pids', () => {
  it.each([['', undefined], ['\n', undefined], ['0', undefined], ['1', undefined], ['-5', undefined], ['12x', undefined], ['1e3', undefined], [' 4242\n', 4242], [4242, 4242]])(
    'parsePid(%j) is %s',
    (text, pid) => expect(parsePid(text)).toBe(pid),
  );

  it('signalPid refuses what is not a pid, and signals a real child', async () => {
    expect(signalPid('', 'SIGKILL')).toBe(false); // Number('') is 0: the whole group
    expect(signalPid(0, 0)).toBe(false);
    const child = spawn('sleep', ['30']);
    const exited = new Promise((r) => child.once('exit', (_c, sig) => r(sig)));
    expect(signalPid(String(child.pid), 'SIGKILL')).toBe(true);
    expect(await exited).toBe('SIGKILL');
    expect(signalPid(String(child.pid), 0)).toBe(false);
  });
});
