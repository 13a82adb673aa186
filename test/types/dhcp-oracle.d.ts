// The `dhcp` npm package is a devDependency used only as a test oracle (never shipped); it has
// no types, so declare the one module the codec test reads.
declare module 'dhcp/lib/protocol.js' {
  export function parse(b: Buffer): { yiaddr: string; options: Record<number, unknown> };
}
