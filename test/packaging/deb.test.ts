// The Debian packages, installed the way a host installs them: scripts/package.sh builds two
// versions from this checkout, and dpkg installs, upgrades, downgrades, removes and purges them
// in a throwaway Debian 12 root (a copy of the cached debootstrap root, entered with chroot).
// What needs a booted systemd (the units starting and notifying READY=1) is in
// test/qemu/systemd-units.test.ts.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeUnless } from '../helpers/skip.js';
import { until } from '../helpers/until.js';
import { ThrowawayRoot, buildPackages, cachedDebianRoot, debianRootUnavailable, run } from '../helpers/debian-root.js';
import { freePort } from '../../src/bus/nats-server.js';
import { SCHEMA_VERSION } from '../../src/controller/db.js';

const repo = new URL('../..', import.meta.url).pathname;
const upstream = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const V1 = `${upstream}~pkgtest1`;
const V2 = `${upstream}~pkgtest2`;
const PACKAGES = ['plumb', 'plumb-agent', 'plumb-controller'];

const debs = mkdtempSync(join(tmpdir(), 'plumb-debs-'));
let host: ThrowawayRoot | undefined;


/** Copies the .deb files into the root's /tmp and dpkg-installs them; returns dpkg's result. */
function dpkgInstall(root: ThrowawayRoot, files: string[]): ReturnType<ThrowawayRoot['sh']> {
  const names = files.map((f) => {
    const name = f.split('/').pop() as string;
    writeFileSync(root.path(join('tmp', name)), readFileSync(f));
    return `/tmp/${name}`;
  });
  return root.sh(`dpkg -i ${names.join(' ')}`);
}

function status(root: ThrowawayRoot, pkg: string): string {
  return root.sh(`dpkg-query -W -f='\${db:Status-Abbrev}\${Version}' ${pkg}`).stdout.trim();
}

let v1: string[] = [];
let v2: string[] = [];

beforeAll(async () => {
  if (debianRootUnavailable()) return;
  const started = Date.now();
  const cached = await cachedDebianRoot();
  process.stderr.write(`[deb] cached Debian root ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  [v1, v2] = await Promise.all([buildPackages(debs, V1), buildPackages(debs, V2)]);
  host = new ThrowawayRoot(cached);
}, 20 * 60_000);

afterAll(() => {
  host?.cleanup();
  rmSync(debs, { recursive: true, force: true });
});

describeUnless(debianRootUnavailable())('Debian packages in a throwaway Debian 12 root', () => {
  it('builds three packages that say which architecture and Node.js their native modules are for', () => {
    const arch = spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout.trim();
    const [major] = process.versions.node.split('.');
    expect(v1.map((f) => f.split('/').pop())).toEqual([`plumb_${V1}_${arch}.deb`, `plumb-agent_${V1}_all.deb`, `plumb-controller_${V1}_all.deb`]);
    const info = spawnSync('dpkg-deb', ['-f', v1[0] as string, 'Architecture', 'Depends', 'Description'], { encoding: 'utf8' }).stdout;
    expect(info).toMatch(new RegExp(`^Architecture: ${arch}$`, 'm'));
    expect(info).toContain(`Depends: nodejs (>= 20.11), nodejs (<< ${Number(major) + 1}), libc6, libsystemd0\n`);
    expect(info.replace(/\s+/g, ' ')).toContain(
      `built for ${arch} and Node.js ${major} (ABI ${process.versions.modules}): better-sqlite3 (compiled by node-gyp), netlink and koffi (N-API binaries for linux-${process.arch})`,
    );
    // exactly one binary per native module, all of this architecture
    const natives = spawnSync('sh', ['-c', `dpkg-deb -c ${v1[0] as string} | grep -o '[^ ]*\\.node$'`], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(natives.map((n) => n.replace(/^.*node_modules\//, '').split('/')[0]).sort()).toEqual(['@koromix', 'better-sqlite3', 'netlink']);
    for (const n of natives) expect(n).not.toMatch(/musl|arm|ia32|darwin|win32/);
    expect(spawnSync('dpkg-deb', ['-f', v1[1] as string, 'Depends'], { encoding: 'utf8' }).stdout).toBe(`plumb (= ${V1}), iproute2, nftables\n`);
    expect(spawnSync('dpkg-deb', ['-f', v1[2] as string, 'Depends', 'Recommends'], { encoding: 'utf8' }).stdout).toBe(`Depends: plumb (= ${V1}), adduser\nRecommends: nats-server\n`);
  });

  it('lintian finds no errors', async () => {
    // exits non-zero when it finds an error, which run() turns into a failure with the report
    const out = await run('lintian', ['--tag-display-limit', '0', ...v1], 300_000);
    const lines = out.split('\n').filter((l) => /^[EW]: /.test(l));
    process.stderr.write(`[deb] lintian: ${lines.length === 0 ? 'clean' : lines.join('\n')}\n`);
    expect(lines.filter((l) => l.startsWith('E: '))).toEqual([]);
  });

  it('installs the files, the plumb user, the conffiles, and enables the units without starting them', () => {
    const root = host as ThrowawayRoot;
    const r = dpkgInstall(root, v1);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    for (const p of PACKAGES) expect(status(root, p)).toBe(`ii ${V1}`);
    expect(root.ok('plumb --version').trim()).toBe(V1);
    for (const f of [
      '/usr/bin/plumb',
      '/lib/systemd/system/plumb-agent.service',
      '/lib/systemd/system/plumb-controller.service',
      '/usr/share/doc/plumb/operations.md',
      '/usr/share/doc/plumb/copyright',
      '/usr/share/doc/plumb/examples/agent.example.yaml',
      '/usr/share/doc/plumb/examples/hook.example.yaml',
      '/usr/share/doc/plumb/examples/ganeti-kvm-vif-bridge',
      '/usr/share/man/man1/plumb.1.gz',
      '/usr/lib/plumb/NATIVE-MODULES',
    ]) {
      expect(existsSync(root.path(f)), f).toBe(true);
    }
    expect(lstatSync(root.path('/usr/share/doc/plumb-agent')).isSymbolicLink()).toBe(true);
    // the system user owns the controller's state directory; nobody else may read the store
    const [, , uid, gid, , home, shell] = root.ok('getent passwd plumb').trim().split(':');
    expect(Number(uid)).toBeLessThan(1000);
    expect(home).toBe('/var/lib/plumb');
    expect(shell).toBe('/usr/sbin/nologin');
    const st = statSync(root.path('/var/lib/plumb'));
    expect(st.uid).toBe(Number(uid));
    expect(st.mode & 0o777).toBe(0o750);
    // the controller's config holds password hashes: root:plumb 0640 (a stat override)
    const ctlConfig = statSync(root.path('/etc/plumb/controller.yaml'));
    expect([ctlConfig.uid, ctlConfig.gid, ctlConfig.mode & 0o777]).toEqual([0, Number(gid), 0o640]);
    expect(root.ok("dpkg-query -W -f='${Conffiles}' plumb-agent")).toMatch(/^ \/etc\/plumb\/agent\.yaml [0-9a-f]{32}$/m);
    expect(root.ok("dpkg-query -W -f='${Conffiles}' plumb-controller")).toMatch(/^ \/etc\/plumb\/controller\.yaml [0-9a-f]{32}$/m);
    // enabled for multi-user.target (the symlinks deb-systemd-helper makes), but not started:
    // the shipped configs set nothing, which the units' ExecCondition turns into a skipped start
    for (const u of ['plumb-agent', 'plumb-controller']) {
      expect(lstatSync(root.path(`/etc/systemd/system/multi-user.target.wants/${u}.service`)).isSymbolicLink(), u).toBe(true);
    }
    const unconfigured = root.sh('plumb agent check-config --exec-condition --config /etc/plumb/agent.yaml');
    expect(unconfigured.stderr).toMatch(/agent\.yaml: the agent config sets nothing yet \(every setting is commented out\); edit it first/);
    expect(unconfigured.status).toBe(1);
    expect(root.sh('plumb controller check-config --exec-condition --config /etc/plumb/controller.yaml').status).toBe(1);
    // the units as installed: ExecStart's /usr/bin/plumb exists here, so verify checks everything
    const verify = root.sh('systemd-analyze verify /lib/systemd/system/plumb-agent.service /lib/systemd/system/plumb-controller.service');
    expect(verify.stderr).toBe('');
    expect(verify.status).toBe(0);
  });

  it('the packaged controller runs as the plumb user with its store in /var/lib/plumb (native modules load)', async () => {
    const root = host as ThrowawayRoot;
    const port = await freePort();
    writeFileSync(root.path('/tmp/controller.yaml'), `listen: 127.0.0.1:${port}\ndatabase: /var/lib/plumb/controller.db\nusers: [{ name: admin, password: pw, project: admin, roles: [admin] }]\n`);
    expect(root.ok('plumb controller check-config --exec-condition --config /tmp/controller.yaml')).toMatch(/valid \(0 public networks, 1 users/);
    // the agent's native modules: netlink (a kernel handle) and koffi (sd_notify), in a fresh netns
    const ns = `pt-deb${process.pid}`;
    const inRoot = root.path(`/run/netns/${ns}`);
    try {
      expect(spawnSync('ip', ['netns', 'add', ns]).status).toBe(0);
      // the root has its own /run: hand it the namespace with a bind mount, as ip netns does
      mkdirSync(root.path('/run/netns'), { recursive: true });
      writeFileSync(inRoot, '');
      expect(spawnSync('mount', ['--bind', `/run/netns/${ns}`, inRoot]).status).toBe(0);
      writeFileSync(root.path('/tmp/empty.json'), JSON.stringify({ schemaVersion: 1, generation: 1, host: { name: 'h' }, networks: [], ports: [] }));
      const plan = root.sh(`plumb agent plan --state /tmp/empty.json --netns ${ns}`);
      expect(plan.stderr).toBe('');
      expect(plan.stdout).toBe("0 operations\n");
    } finally {
      spawnSync('umount', [inRoot]);
      spawnSync('ip', ['netns', 'del', ns]);
    }
    const ctl = spawn('chroot', ['--userspec=plumb:plumb', root.root, '/usr/bin/plumb', 'controller', 'run', '--config', '/tmp/controller.yaml'], { stdio: 'ignore' });
    try {
      const status = await until(
        () =>
          fetch(`http://127.0.0.1:${port}/v2.0/networks`, { headers: { authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` } }).then(
            (r) => r.status,
            () => undefined,
          ),
        30_000,
        100,
      );
      expect(status).toBe(200);
    } finally {
      ctl.kill('SIGTERM');
      await new Promise((r) => ctl.once('exit', r));
    }
    const db = statSync(root.path('/var/lib/plumb/controller.db'));
    expect(db.uid).toBe(statSync(root.path('/var/lib/plumb')).uid);
  });

  it('upgrades to the next build, keeping an edited /etc/plumb/agent.yaml', () => {
    const root = host as ThrowawayRoot;
    const edited = 'host: hv1\nstateFile: /etc/plumb/state.json\n# edited by the operator\n';
    writeFileSync(root.path('/etc/plumb/agent.yaml'), edited);
    const r = dpkgInstall(root, v2);
    expect(r.status).toBe(0);
    for (const p of PACKAGES) expect(status(root, p)).toBe(`ii ${V2}`);
    expect(readFileSync(root.path('/etc/plumb/agent.yaml'), 'utf8')).toBe(edited);
    expect(statSync(root.path('/etc/plumb/controller.yaml')).mode & 0o777).toBe(0o640);
    expect(root.ok('plumb --version').trim()).toBe(V2);
    expect(root.ok('plumb agent check-config --exec-condition --config /etc/plumb/agent.yaml')).toMatch(/valid \(host hv1, state file/);
    // the store written by the V1 controller is still there, and the plumb user still owns it
    expect(existsSync(root.path('/var/lib/plumb/controller.db'))).toBe(true);
  });

  it('refuses a downgrade below the schema of the store, before unpacking anything', () => {
    const root = host as ThrowawayRoot;
    // a store migrated by a newer plumb: its schema version is one past what these packages know
    const db = root.path('/var/lib/plumb/controller.db');
    const bump = spawnSync('sqlite3', [db, `PRAGMA user_version = ${SCHEMA_VERSION + 1}`], { encoding: 'utf8' });
    expect(bump.status).toBe(0);
    const r = dpkgInstall(root, [v1[0] as string, v1[1] as string, v1[2] as string]);
    expect(r.stderr).toContain(`plumb-controller: /var/lib/plumb/controller.db has schema version ${SCHEMA_VERSION + 1}, newer than this package's (${SCHEMA_VERSION}):`);
    expect(r.stderr).toContain('this downgrade is refused');
    expect(r.status).not.toBe(0);
    expect(status(root, 'plumb-controller')).toBe(`ii ${V2}`);
    // and the controller itself refuses to open it, naming the file and both versions
    writeFileSync(root.path('/tmp/controller.yaml'), 'listen: 127.0.0.1:1\ndatabase: /var/lib/plumb/controller.db\n');
    const run = root.sh('plumb controller run --config /tmp/controller.yaml', { user: 'plumb:plumb' });
    expect(run.stderr).toMatch(new RegExp(`/var/lib/plumb/controller\\.db: the store's schema is version ${SCHEMA_VERSION + 1}, newer than this plumb's \\(${SCHEMA_VERSION}\\)`));
    expect(run.status).toBe(1);
    spawnSync('sqlite3', [db, `PRAGMA user_version = ${SCHEMA_VERSION}`]);
    // dpkg may have left the failed downgrade's other packages at V1: bring all back to V2
    expect(dpkgInstall(root, v2).status).toBe(0);
  });

  it('apt remove keeps /etc/plumb and the store; purge removes them', () => {
    const root = host as ThrowawayRoot;
    writeFileSync(root.path('/etc/plumb/creds.nk'), 'SU-not-a-real-seed\n');
    const rm = root.sh('dpkg -r plumb-agent plumb-controller plumb');
    expect(rm.status).toBe(0);
    for (const p of PACKAGES) expect(status(root, p)).toBe(`rc ${V2}`);
    expect(existsSync(root.path('/usr/bin/plumb'))).toBe(false);
    expect(existsSync(root.path('/usr/lib/plumb'))).toBe(false);
    expect(readFileSync(root.path('/etc/plumb/agent.yaml'), 'utf8')).toMatch(/edited by the operator/);
    expect(existsSync(root.path('/etc/plumb/controller.yaml'))).toBe(true);
    expect(existsSync(root.path('/var/lib/plumb/controller.db'))).toBe(true);

    const purge = root.sh('dpkg -P plumb-agent plumb-controller plumb');
    expect(purge.status).toBe(0);
    for (const p of PACKAGES) expect(root.sh(`dpkg-query -W -f='\${db:Status-Abbrev}' ${p}`).stdout.trim()).toMatch(/^(un)?$/);
    expect(existsSync(root.path('/etc/plumb'))).toBe(false);
    expect(root.sh('dpkg-statoverride --list').stdout).not.toContain('/etc/plumb'); // exit 1: no overrides at all
    expect(existsSync(root.path('/var/lib/plumb'))).toBe(false);
    expect(readdirSync(root.path('/etc/systemd/system/multi-user.target.wants')).filter((f) => f.startsWith('plumb'))).toEqual([]);
    // Debian keeps system users on purge (files elsewhere may still carry the uid)
    expect(root.sh('getent passwd plumb').status).toBe(0);
  });
});
