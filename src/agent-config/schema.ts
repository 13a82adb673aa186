// The agent daemon's own configuration (not the desired state: that comes from the controller
// over NATS, or from a state file in standalone mode).
import { z } from 'zod';
import { ipAddress } from '../state/schema.js';
import { NETNS_PATTERN } from '../state/netns-allow.js';
import { natsUrls } from '../state/nats-url.js';

export const agentConfigSchema = z
  .object({
    /** This host's id: its KV key prefix and its NATS identity. */
    host: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'host ids are letters, digits, "_" and "-"'),
    nats: z
      .object({
        /** one node, or every node of a cluster */
        url: natsUrls,
        seedFile: z.string().min(1),
        tls: z.object({ ca: z.string().optional(), cert: z.string().optional(), key: z.string().optional() }).strict().optional(),
      })
      .strict()
      .optional(),
    /** Desired state from a file instead of NATS (standalone mode). */
    stateFile: z.string().min(1).optional(),
    /** Operate inside this named network namespace (the lab runs one agent per host namespace). */
    netns: z.string().min(1).optional(),
    /** Underlay address reported in heartbeats (the controller derives other hosts' VXLAN remotes from it). */
    underlay: z.object({ address: ipAddress.optional() }).strict().default({}),
    /**
     * The namespaces a veth port's peer may be moved into ('*' matches any run of characters).
     * Empty (the default): no veth port is plugged, whatever the desired state says, so no
     * credential upstream can put an interface into a system namespace of this host.
     */
    veth: z.object({ netnsAllowed: z.array(z.string().regex(NETNS_PATTERN, "a namespace name, '*' for any run of characters")).default([]) }).strict().default({ netnsAllowed: [] }),
    heartbeatSeconds: z.number().min(1).max(3600).default(5),
    firewall: z.boolean().default(true),
    dhcp: z.boolean().default(true),
    metrics: z.object({ listen: z.string().regex(/^[^:]+:\d+$/, 'host:port') }).strict().optional(),
  })
  .strict()
  .refine((c) => c.nats !== undefined || c.stateFile !== undefined, { message: 'set nats (controller-driven) or stateFile (standalone)', path: ['nats'] });

export type AgentConfig = z.infer<typeof agentConfigSchema>;
