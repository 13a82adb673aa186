// Kernel modules for the initramfs, with their dependencies resolved from each module's own
// `depends=` field (`modinfo -F depends`): the unpacked package has no modules.dep because
// depmod only runs on install. Returned in load order (dependencies first).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InitramfsBuildError } from './errors.js';

/** What the guests need: virtio PCI + net, virtiofs (the shared host root) + overlay, and the
 * network drivers plumb drives (bridge, 802.1Q, veth, tun). */
export const wantedModules = ['virtio_pci', 'virtio_net', 'virtiofs', 'overlay', 'bridge', '8021q', 'veth', 'tun'];

export interface ModuleFile {
  name: string;
  /** absolute path in the unpacked kernel package (.ko, .ko.xz or .ko.zst) */
  file: string;
}

function indexModules(modulesDir: string): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const m = /^(.+)\.ko(\.xz|\.zst)?$/.exec(e.name);
        // modinfo names use underscores; some files use dashes.
        if (m?.[1]) index.set(m[1].replace(/-/g, '_'), p);
      }
    }
  };
  walk(path.join(modulesDir, 'kernel'));
  return index;
}

/** A module's bytes, decompressed when the package ships .ko.xz / .ko.zst. */
export function readModule(file: string): Buffer {
  if (file.endsWith('.xz')) return execFileSync('xz', ['-dc', file], { maxBuffer: 1 << 28 });
  if (file.endsWith('.zst')) return execFileSync('zstd', ['-dc', file], { maxBuffer: 1 << 28 });
  return readFileSync(file);
}

/** The `depends=` string from the module's .modinfo section (NUL-separated key=value pairs);
 * read directly because kmod's modinfo is not installed here. */
function dependsOf(file: string): string[] {
  const bytes = readModule(file);
  const at = bytes.indexOf('\0depends=');
  if (at < 0) return [];
  const start = at + '\0depends='.length;
  const value = bytes.subarray(start, bytes.indexOf(0, start)).toString('latin1');
  return value.split(',').map((d) => d.trim().replace(/-/g, '_')).filter(Boolean);
}

export function resolveModules(modulesDir: string, wanted: string[] = wantedModules): ModuleFile[] {
  const index = indexModules(modulesDir);
  const builtin = new Set(
    readFileSync(path.join(modulesDir, 'modules.builtin'), 'utf8')
      .split('\n')
      .map((l) => path.basename(l).replace(/\.ko$/, '').replace(/-/g, '_'))
      .filter(Boolean),
  );
  const order: ModuleFile[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    if (seen.has(name) || builtin.has(name)) return;
    const file = index.get(name);
    if (!file) throw new InitramfsBuildError(`kernel module ${name} (needed by ${chain.join(' <- ') || 'the harness'}) is not in ${modulesDir}`);
    seen.add(name);
    for (const dep of dependsOf(file)) visit(dep, [name, ...chain]);
    order.push({ name, file });
  };
  for (const w of wanted) visit(w, []);
  return order;
}
