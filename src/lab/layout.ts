// The local lab's fixed layout: namespace names, addresses and files. Everything the lab makes
// is named here, so `plumb lab down` can remove exactly that and nothing else.
export const LAB_DIR = process.env.PLUMB_LAB_DIR ?? '/run/plumb-lab';
export const LAB_ENV_FILE = `${LAB_DIR}/env`;

/** Logical name (as used by `plumb lab exec`) -> network namespace name. */
export const NS = {
  fabric: 'plab-fabric',
  router: 'plab-router',
  h1: 'plab-h1',
  h2: 'plab-h2',
} as const;

export const HOSTS = ['h1', 'h2'] as const;
export type LabHost = (typeof HOSTS)[number];

export function vmNetns(device: string): string {
  return `plab-vm-${device}`;
}

export const UNDERLAY = { cidr: '10.90.0.0/24', h1: '10.90.0.1', h2: '10.90.0.2' } as const;
/** Where each lab agent serves Prometheus metrics (the agent process runs in the root namespace). */
export const LAB_AGENT_METRICS = { h1: '127.0.0.1:9461', h2: '127.0.0.1:9462' } as const;

/** The public segment the routed network lives on; the router namespace is its gateway. */
export const PUBLIC = {
  v4: { cidr: '203.0.113.0/24', gateway: '203.0.113.1', pool: { start: '203.0.113.10', end: '203.0.113.250' } },
  v6: { cidr: '2001:db8:100::/64', gateway: '2001:db8:100::1' },
  routingTable: 100,
} as const;

export const CONTROLLER_URL = 'http://127.0.0.1:9696';
