// The bus address in daemon configs: one nats:// (or tls://) URL, or the list of a cluster's
// nodes (the client connects to any and fails over to the others).
import { z } from 'zod';

const oneUrl = z.string().regex(/^(nats|tls):\/\/.+/, 'a nats:// or tls:// URL');

export const natsUrls = z.union([oneUrl, z.array(oneUrl).min(1, 'at least one URL').max(16, 'at most 16 URLs')], {
  error: (iss) => (Array.isArray(iss.input) ? 'a list of nats:// or tls:// URLs' : 'a nats:// or tls:// URL, or a list of them'),
});

export type NatsUrls = z.infer<typeof natsUrls>;

/** For logs: the URLs as one string. */
export const shownNatsUrls = (u: NatsUrls): string => (Array.isArray(u) ? u.join(',') : u);
