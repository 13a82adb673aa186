// generateCredentials keeps what the operator set on an existing seed: under systemd the
// controller reads its seed as group plumb (root:plumb 0640), and a later gen-creds or
// gen-server-config once reset it to 0600, so the controller failed with EACCES at start.
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCredentials, seedPath } from '../../../src/bus/credentials.js';

const dirs: string[] = [];
const mode = (p: string): number => statSync(p).mode & 0o777;
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('generateCredentials', () => {
  it('writes new seeds 0600 and keeps existing seeds, their content and a granted group read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plumb-creds-'));
    dirs.push(dir);
    const first = generateCredentials(dir, ['hv1']);
    const controller = seedPath(dir, 'controller');
    expect(first).toHaveLength(2);
    expect(first[0]!.name).toBe('controller');
    expect(mode(controller)).toBe(0o600);
    const seed = readFileSync(controller, 'utf8');

    chmodSync(controller, 0o640);
    const again = generateCredentials(dir, ['hv1', 'hv2']);
    expect(mode(controller)).toBe(0o640);
    expect(readFileSync(controller, 'utf8')).toBe(seed);
    expect(again[0]!.publicKey).toBe(first[0]!.publicKey);
    expect(again).toHaveLength(3);
  });

  it('takes access for others away from an existing seed, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plumb-creds-'));
    dirs.push(dir);
    generateCredentials(dir, []);
    const controller = seedPath(dir, 'controller');
    chmodSync(controller, 0o644);
    generateCredentials(dir, []);
    expect(mode(controller)).toBe(0o640);
  });
});
