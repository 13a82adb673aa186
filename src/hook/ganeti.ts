// `plumb hook ganeti-ifup` / `ganeti-ifdown`: Ganeti made the tap (and will close it when the
// instance stops or migrates away); plumb adopts it into the port the controller knows by MAC,
// the way snf-network's kvm-ifup-custom plugged Cyclades into Ganeti. ifup binds the port to this
// node with binding:profile {ifname, adopt} and returns once the agent reports it ACTIVE, so
// the instance starts with its network in place; ifdown unbinds it when it is still here.
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from '../client/api.js';
import type { HookConfig } from './config.js';
import { PortFailedError, PortLiveElsewhereError, PortNotAppliedError, UnknownPortError } from './errors.js';
import { describeNic, type GanetiNic } from './ganeti-env.js';

interface PortView {
  id: string;
  mac_address: string;
  status: string;
  status_reason: string | null;
  fixed_ips: { ip_address: string }[];
  'binding:host_id'?: string;
  'binding:profile'?: { ifname?: string; adopt?: boolean };
}

const POLL_MS = 100;

function client(cfg: HookConfig): ApiClient {
  return new ApiClient({ url: cfg.url, user: cfg.user, password: cfg.password });
}

async function portByMac(api: ApiClient, mac: string): Promise<PortView | undefined> {
  const { ports } = await api.call<{ ports: PortView[] }>('GET', `/v2.0/ports?mac_address=${encodeURIComponent(mac)}`);
  return ports[0];
}

export interface IfupResult {
  portId: string;
  /** from the binding request to the agent's ACTIVE report */
  ms: number;
  warnings: string[];
}

export async function ganetiIfup(nic: GanetiNic, cfg: HookConfig): Promise<IfupResult> {
  const api = client(cfg);
  const port = await portByMac(api, nic.mac);
  if (!port) throw new UnknownPortError(nic.mac, describeNic(nic));
  // A routed NIC's script runs where the instance now runs (a start, a failover, or a migration's
  // destination once it succeeded): binding the port here is the switch. Any other mode's runs on
  // a migration's destination before the guest moved, so a port live elsewhere must stay there.
  const boundTo = port['binding:host_id'] ?? '';
  if (nic.mode !== 'routed' && boundTo !== '' && boundTo !== cfg.host && port.status === 'ACTIVE') {
    throw new PortLiveElsewhereError(port.id, boundTo, describeNic(nic), nic.mode);
  }
  const warnings: string[] = [];
  // Ganeti's idea of the address is informative; the controller's is what DHCP hands out
  if (nic.ip && !port.fixed_ips.some((f) => f.ip_address === nic.ip)) {
    warnings.push(`Ganeti gives ${describeNic(nic)} IP ${nic.ip}, but port ${port.id} has ${port.fixed_ips.map((f) => f.ip_address).join(', ') || 'no address'}; the guest gets the port's by DHCP`);
  }
  // The kernel hands out tapN names again once a tap is gone: another port still naming this
  // device on this node belongs to an instance whose tap has since closed. Unbind it.
  const { ports: here } = await api.call<{ ports: PortView[] }>('GET', `/v2.0/ports?binding:host_id=${encodeURIComponent(cfg.host)}`);
  for (const stale of here) {
    if (stale.id !== port.id && stale['binding:profile']?.ifname === nic.interface) {
      await api.call('PUT', `/v2.0/ports/${stale.id}`, { port: { 'binding:host_id': '' } });
      warnings.push(`port ${stale.id} still named ${nic.interface} on ${cfg.host}, whose tap is gone; unbound it`);
    }
  }
  const started = performance.now();
  await api.call('PUT', `/v2.0/ports/${port.id}`, { port: { 'binding:host_id': cfg.host, 'binding:profile': { ifname: nic.interface, adopt: true } } });
  const deadline = started + cfg.timeoutMs;
  for (;;) {
    const { port: now } = await api.call<{ port: PortView }>('GET', `/v2.0/ports/${port.id}`);
    if (now.status === 'ACTIVE') return { portId: port.id, ms: Math.round(performance.now() - started), warnings };
    if (now.status === 'ERROR') throw new PortFailedError(port.id, now.status_reason ?? 'no reason given');
    if (performance.now() >= deadline) throw new PortNotAppliedError(port.id, now.status, now.status_reason, cfg.timeoutMs / 1000);
    await sleep(POLL_MS);
  }
}

export type IfdownResult = { unbound: true; portId: string } | { unbound: false; why: string };

/** Unbinds the NIC's port from this node, unless it has already moved on (a migration) or gone. */
export async function ganetiIfdown(nic: GanetiNic, cfg: HookConfig): Promise<IfdownResult> {
  const api = client(cfg);
  const port = await portByMac(api, nic.mac);
  if (!port) return { unbound: false, why: `no port with MAC ${nic.mac} (already deleted)` };
  const host = port['binding:host_id'] ?? '';
  if (host !== cfg.host || port['binding:profile']?.ifname !== nic.interface) {
    return { unbound: false, why: `port ${port.id} is bound to ${host || 'no host'} as ${port['binding:profile']?.ifname ?? 'its own tap'}, not to ${cfg.host} as ${nic.interface}; left as it is` };
  }
  await api.call('PUT', `/v2.0/ports/${port.id}`, { port: { 'binding:host_id': '' } });
  return { unbound: true, portId: port.id };
}
