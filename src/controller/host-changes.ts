// What one write unit changed in hosts' desired state, collected while it runs: per host, every
// object (all) or the ports and networks whose objects may differ. The publisher rebuilds only
// those, so an API write costs O(what it touched), not O(ports on the host).
import type { HostChange } from '../state/controller-hooks.js';

interface Scope {
  all: boolean;
  ports: Set<string>;
  networks: Set<string>;
}

export class HostChanges {
  private readonly byHost = new Map<string, Scope>();

  private scope(host: string): Scope {
    let s = this.byHost.get(host);
    if (!s) {
      s = { all: false, ports: new Set(), networks: new Set() };
      this.byHost.set(host, s);
    }
    return s;
  }

  /** Anything on the host may differ. */
  all(host: string | null): this {
    if (host) this.scope(host).all = true;
    return this;
  }

  /** Only the host's meta (its generation and host info). */
  meta(host: string | null): this {
    if (host) this.scope(host);
    return this;
  }

  /** The port, and its network's object on that host (which exists only while ports use it). */
  port(host: string | null, portId: number, networkId: number): this {
    if (!host) return this;
    const s = this.scope(host);
    s.ports.add(String(portId));
    s.networks.add(String(networkId));
    return this;
  }

  network(host: string | null, networkId: number): this {
    if (host) this.scope(host).networks.add(String(networkId));
    return this;
  }

  hosts(): string[] {
    return [...this.byHost.keys()];
  }

  list(): HostChange[] {
    return [...this.byHost].map(([host, s]) => (s.all ? { host, all: true } : { host, ports: [...s.ports], networks: [...s.networks] }));
  }
}
