// The packaged units under a real systemd: a Debian 12 root with plumb's packages installed by
// dpkg boots in a QEMU guest with its own systemd as PID 1 (the stock cloud kernel). In it:
// the units are enabled but skipped at boot while the configs set nothing; once configured,
// `systemctl start` returns because READY=1 arrived; the agent plumbs two VMs (namespaces) that
// ping each other, and keeps pinging while the next package version is installed and
// try-restarts the agent, whose first pass then writes nothing; the controller runs as user
// plumb and serves the API; `dpkg -r` stops both and leaves the VMs' network up; installed
// again, the kept config stays and the unit stays down; the documented clean-up (apply an empty
// state) removes what the agent made; purge removes /etc/plumb and the store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { Guest } from '../../src/qemu/vm.js';
import { withLock } from '../../src/qemu/lock.js';
import { cacheDir } from '../../src/qemu/paths.js';
import { describeUnless } from '../helpers/skip.js';
import { ThrowawayRoot, buildPackages, cachedDebianRoot, debianRootUnavailable } from '../helpers/debian-root.js';
import { QUEUED_GUEST_TEST_TIMEOUT_MS } from '../helpers/guest-queue.js';

const repo = new URL('../..', import.meta.url).pathname;
const upstream = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const V1 = `${upstream}~sdtest1`;
const V2 = `${upstream}~sdtest2`;
const debs = mkdtempSync(join(tmpdir(), 'plumb-sd-debs-'));
let host: ThrowawayRoot | undefined;


beforeAll(async () => {
  if (debianRootUnavailable()) return;
  const cached = await cachedDebianRoot();
  const [v1, v2] = await Promise.all([buildPackages(debs, V1), buildPackages(debs, V2)]);
  host = new ThrowawayRoot(cached);
  for (const f of v1) copyFileSync(f, host.path(`/tmp/${path.basename(f)}`));
  host.ok('dpkg -i /tmp/*.deb && rm /tmp/*.deb');
  // the next version waits in the root, for the guest to upgrade to
  mkdirSync(host.path('/var/cache/plumb-next'), { recursive: true });
  for (const f of v2) copyFileSync(f, host.path(`/var/cache/plumb-next/${path.basename(f)}`));
  host.makeBootable();
}, 20 * 60_000);

afterAll(() => {
  host?.cleanup();
  rmSync(debs, { recursive: true, force: true });
});

const state = {
  schemaVersion: 1,
  generation: 1,
  host: { name: 'guest', macFiltered: { bridge: 'plumbmf0' } },
  networks: [{ id: 'n', type: 'MAC_FILTERED', macPrefix: 'aa:00:02', subnets: [{ cidr: '192.168.2.0/24' }] }],
  ports: [
    { id: 'a', network: 'n', mac: 'aa:00:02:00:00:0a', addresses: ['192.168.2.10'], kind: 'veth', veth: { netns: 'vm-a', peerName: 'eth0' } },
    { id: 'b', network: 'n', mac: 'aa:00:02:00:00:0b', addresses: ['192.168.2.11'], kind: 'veth', veth: { netns: 'vm-b', peerName: 'eth0' } },
  ],
};

// sh -e; every fact goes to the console as "PLUMB-RESULT <key> <value>"
const script = `r() { echo "PLUMB-RESULT $*"; }
prop() { systemctl show -p "$2" --value "$1"; }
r pid1 "$(cat /proc/1/comm)"
for u in plumb-agent plumb-controller; do r "boot-$u" "$(systemctl is-enabled $u) $(prop $u ActiveState) $(prop $u Result)"; done
journalctl -u plumb-agent -o cat --no-pager | grep -q 'agent.yaml: the agent config sets nothing yet' && r boot-agent-said-why yes

# configure the agent (standalone: a state file) and start it: start returns after READY=1
ip netns add vm-a
ip netns add vm-b
cat > /etc/plumb/state.json <<'JSON'
${JSON.stringify(state)}
JSON
printf 'host: guest\\nstateFile: /etc/plumb/state.json\\nveth: { netnsAllowed: ["vm-*"] }\\n' > /etc/plumb/agent.yaml
systemctl start plumb-agent
r agent-started "$(prop plumb-agent ActiveState) $(prop plumb-agent SubState) $(prop plumb-agent StatusText)"
r agent-user "$(ps -o user= -p $(prop plumb-agent MainPID))"
n=0; until ip -n vm-a link show eth0 >/dev/null 2>&1 && ip -n vm-b link show eth0 >/dev/null 2>&1; do n=$((n+1)); [ $n -lt 300 ] || { r vm-ports missing; exit 1; }; sleep 0.1; done
ip -n vm-a addr add 192.168.2.10/24 dev eth0 && ip -n vm-a link set eth0 up
ip -n vm-b addr add 192.168.2.11/24 dev eth0 && ip -n vm-b link set eth0 up
ip netns exec vm-a ping -n -q -c 3 -W 5 192.168.2.11 >/dev/null && r ping-before ok

# upgrade with traffic flowing: 10 pings a second from vm-a to vm-b for the whole install, in
# batches of 10 that each wait for their last reply (a ping stopped by a signal would count the
# echo still in flight as lost)
( while [ ! -e /tmp/ping.stop ]; do ip netns exec vm-a ping -n -q -c 10 -i 0.1 -W 2 192.168.2.11 | grep -o '[0-9]* packets transmitted, [0-9]* received' >> /tmp/ping.log || true; done ) &
pinger=$!
sleep 2
before=$(prop plumb-agent MainPID)
ctl_before=$(prop plumb-controller MainPID)
dpkg -i /var/cache/plumb-next/*.deb > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
after=$(prop plumb-agent MainPID)
r upgraded "$(dpkg-query -W -f='\${Version}' plumb) agent-pid-changed=$([ "$before" != "$after" ] && echo yes || echo no) $(prop plumb-agent ActiveState) controller-still=$(prop plumb-controller ActiveState)"
sleep 3
touch /tmp/ping.stop; wait $pinger
r ping-during-upgrade "$(awk '{ sent += $1; got += $4 } END { print sent " packets transmitted, " got " received" }' /tmp/ping.log)"
n=0; until journalctl _PID=$after -o cat --no-pager | grep -q '"msg":"reconcile pass"'; do n=$((n+1)); [ $n -lt 300 ] || break; sleep 0.1; done
r first-pass-after-restart "$(journalctl _PID=$after -o cat --no-pager | grep '"msg":"reconcile pass"' | head -n 1 | grep -o '"writes":[0-9]*')"

# the controller: configured, started as user plumb, serving
printf 'listen: 127.0.0.1:9696\\nusers: [{ name: admin, password: pw, project: admin, roles: [admin] }]\\n' > /etc/plumb/controller.yaml
systemctl start plumb-controller
r controller-started "$(prop plumb-controller ActiveState) $(prop plumb-controller SubState) $(prop plumb-controller StatusText)"
r controller-user "$(ps -o user= -p $(prop plumb-controller MainPID)) $(stat -c '%U %a' /var/lib/plumb) $(stat -c %U /var/lib/plumb/controller.db)"
r controller-api "$(node -e "fetch('http://127.0.0.1:9696/v2.0/networks',{headers:{authorization:'Basic '+Buffer.from('admin:pw').toString('base64')}}).then(r=>console.log(r.status),e=>console.log(e.message))")"

# removal stops the services and keeps the network; purge removes the configuration and the store
dpkg -r plumb-agent plumb-controller plumb > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
r removed "agent-running=$(pgrep -f 'plumb.js agent run' >/dev/null && echo yes || echo no) controller-running=$(pgrep -f 'plumb.js controller run' >/dev/null && echo yes || echo no) config=$([ -f /etc/plumb/agent.yaml ] && echo kept || echo gone) store=$([ -f /var/lib/plumb/controller.db ] && echo kept || echo gone)"
ip link show plumbmf0 >/dev/null && r removed-bridge kept
ip netns exec vm-a ping -n -q -c 3 -W 5 192.168.2.11 >/dev/null && r ping-after-remove ok

# installed again: the kept config is used as it is, and the unit comes back enabled but stays down
dpkg -i /var/cache/plumb-next/*.deb > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
r reinstalled "$(systemctl is-enabled plumb-agent) $(prop plumb-agent ActiveState) config=$(grep -c 'stateFile: /etc/plumb/state.json' /etc/plumb/agent.yaml)"

# taking down what the agent made, as docs/operations.md says: apply an empty state
echo '{"schemaVersion":1,"generation":1,"host":{"name":"guest"},"networks":[],"ports":[]}' > /tmp/empty.json
plumb agent apply --state /tmp/empty.json > /tmp/apply.log 2>&1 || { cat /tmp/apply.log; exit 1; }
r cleaned "bridge=$(ip link show plumbmf0 >/dev/null 2>&1 && echo left || echo gone) vm-port=$(ip -n vm-a link show eth0 >/dev/null 2>&1 && echo left || echo gone) plumb-links=$(ip -o link show | grep -c 'alias plumb:' || true) nft-tables=$(nft list tables | grep -c plumb || true)"

dpkg -P plumb-agent plumb-controller plumb > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
r purged "etc=$([ -e /etc/plumb ] && echo kept || echo gone) store=$([ -e /var/lib/plumb ] && echo kept || echo gone)"
`;

function results(consoleText: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of consoleText.split(/\r?\n/)) {
    const r = /PLUMB-RESULT (\S+) ?(.*)$/.exec(line);
    if (r?.[1]) m.set(r[1], (r[2] ?? '').trim());
  }
  return m;
}

describeUnless(debianRootUnavailable())('the packages under a real systemd (QEMU guest, Debian 12 root)', () => {
  it('units start with READY=1 once configured, upgrade without dropping traffic, remove and purge', async () => {
    await withLock(path.join(cacheDir, 'guests.lock'), async () => {
      const started = Date.now();
      const g = await Guest.start({ name: 'systemd', root: (host as ThrowawayRoot).root, systemd: true, memoryMb: 1024, bootTimeoutMs: 300_000, script });
      const booted = Date.now();
      try {
        const out = results((await g.result(600_000)).console);
        process.stderr.write(`[systemd] booted to multi-user in ${((booted - started) / 1000).toFixed(1)} s; script ran ${((Date.now() - booted) / 1000).toFixed(1)} s\n${[...out].map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`);
        const ping = /(\d+) packets transmitted, (\d+) received/.exec(out.get('ping-during-upgrade') ?? '');
        process.stderr.write(`[systemd] pings during the upgrade: ${ping?.[1]} sent, ${ping?.[2]} received\n`);
        expect(Object.fromEntries(out)).toMatchObject({
          pid1: 'systemd',
          // enabled at install, skipped at boot (ExecCondition), not failed, with the reason in the journal
          'boot-plumb-agent': 'enabled inactive exec-condition',
          'boot-plumb-controller': 'enabled inactive exec-condition',
          'boot-agent-said-why': 'yes',
          // Type=notify: active only once READY=1 (with STATUS=) came from the agent itself
          'agent-started': 'active running reconciling',
          'agent-user': 'root',
          'ping-before': 'ok',
          // the upgrade try-restarted the running agent (new pid) and left the stopped controller stopped
          upgraded: `${V2} agent-pid-changed=yes active controller-still=inactive`,
          'first-pass-after-restart': '"writes":0',
          'controller-started': expect.stringMatching(/^active running serving http:\/\/127\.0\.0\.1:9696/),
          'controller-user': 'plumb plumb 750 plumb',
          'controller-api': '200',
          removed: 'agent-running=no controller-running=no config=kept store=kept',
          'removed-bridge': 'kept',
          'ping-after-remove': 'ok',
          reinstalled: 'enabled inactive config=1',
          cleaned: 'bridge=gone vm-port=gone plumb-links=0 nft-tables=0',
          purged: 'etc=gone store=gone',
        });
        expect(ping, 'ping summary').not.toBeNull();
        expect(Number(ping?.[1])).toBeGreaterThan(20);
        expect(ping?.[2]).toBe(ping?.[1]);
      } finally {
        g.kill();
      }
    });
  }, QUEUED_GUEST_TEST_TIMEOUT_MS);
});
