// The parts of a host's kernel state reconciled after links exist, in pass order.
// Port security (nftables) joins here once src/firewall lands.
import type { PassExtension } from './reconciler.js';

export interface ExtensionOptions {
  netns?: string;
  firewall: boolean;
}

export function hostExtensions(_opts: ExtensionOptions): PassExtension[] {
  return [];
}
