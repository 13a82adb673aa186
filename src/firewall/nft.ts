// Run nft, inside a named network namespace when asked. nft has no namespace option and a
// child process cannot inherit a thread's setns, so the namespace is entered with nsenter
// (cheaper than `ip netns exec`, which also remounts /sys).
import { spawn } from 'node:child_process';
import { NftCommandError, NftUnavailableError } from './errors.js';
import { netnsPath } from '../kernel/netns.js';

export interface NftRunner {
  /** Run `nft ARGS`, feeding `input` on stdin; resolves with stdout. */
  run(args: string[], input?: string): Promise<string>;
}

export function nftRunner(netns?: string): NftRunner {
  const [cmd, prefix] = netns === undefined ? ['nft', [] as string[]] : ['nsenter', [`--net=${netnsPath(netns)}`, 'nft']];
  return {
    run: (args, input) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(cmd, [...prefix, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (b: Buffer) => out.push(b));
        child.stderr.on('data', (b: Buffer) => err.push(b));
        child.on('error', (e) => reject(new NftUnavailableError(cmd, e)));
        child.on('close', (code) => {
          if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
          else reject(new NftCommandError(args, code, Buffer.concat(err).toString('utf8')));
        });
        child.stdin.on('error', () => undefined); // nft may exit before reading all input
        child.stdin.end(input ?? '');
      }),
  };
}
