// The parts of a host's kernel state reconciled after links exist, in pass order: port
// security (nftables tables owned by plumb), applied in one atomic transaction per pass.
import { FirewallReconciler } from '../firewall/reconciler.js';
import type { PassExtension } from './reconciler.js';

export interface ExtensionOptions {
  netns?: string;
  firewall: boolean;
}

export function hostExtensions(opts: ExtensionOptions): PassExtension[] {
  return opts.firewall ? [new FirewallReconciler(opts.netns === undefined ? {} : { netns: opts.netns })] : [];
}
