// Stateful profiles on bridged ports need bridged IPv4/IPv6 handed to the inet hooks (the bridge
// family has no conntrack on our kernels): net.bridge.bridge-nf-call-ip{,6}tables = 1. The setting
// is per network namespace; plumb turns it on when a bridged port needs it and never turns it
// off (other software on the host may rely on it too).
import { readFileSync, writeFileSync } from 'node:fs';
import { withNetns } from '../kernel/netns.js';
import { BridgeNetfilterUnavailableError } from './errors.js';

const KEYS = ['/proc/sys/net/bridge/bridge-nf-call-iptables', '/proc/sys/net/bridge/bridge-nf-call-ip6tables'];

/** Returns the number of sysctls written (0 when already on). */
export function ensureBridgeNetfilter(netns: string | undefined): number {
  try {
    return setBoth(netns);
  } catch (err) {
    throw new BridgeNetfilterUnavailableError(err);
  }
}

function setBoth(netns: string | undefined): number {
  return withNetns(netns, () => {
    let writes = 0;
    for (const key of KEYS) {
      if (readFileSync(key, 'utf8').trim() !== '1') {
        writeFileSync(key, '1\n');
        writes++;
      }
    }
    return writes;
  });
}
