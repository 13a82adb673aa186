// The namespaces a veth port's peer may be moved into: a per-host allow-list in the agent's
// configuration (and a cluster-wide one in the controller's), so that neither a project nor the
// VM manager's credential can put an interface into a system namespace or another tenant's.
/**
 * Whether a namespace name matches one of the allow-list's patterns, where `*` stands for any
 * run of characters (the names themselves hold only letters, digits, '.', '_' and '-').
 */
export function netnsAllowed(patterns: readonly string[], netns: string): boolean {
  return patterns.some((pattern) => {
    const parts = pattern.split('*');
    if (parts.length === 1) return pattern === netns;
    const first = parts[0] as string;
    const last = parts[parts.length - 1] as string;
    if (!netns.startsWith(first) || !netns.endsWith(last) || netns.length < first.length + last.length) return false;
    let at = first.length;
    for (const middle of parts.slice(1, -1)) {
      const i = netns.indexOf(middle, at);
      if (i < 0 || i + middle.length > netns.length - last.length) return false;
      at = i + middle.length;
    }
    return true;
  });
}

/** A pattern in an allow-list: a namespace name in which `*` may stand for any run of characters. */
export const NETNS_PATTERN = /^[A-Za-z0-9._*-]{1,64}$/;
