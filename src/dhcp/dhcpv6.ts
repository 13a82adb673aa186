// Stateless DHCPv6 (RFC 8415 18.2.6 / 18.3.6): an Information-Request is answered with the DNS
// servers (RFC 3646 option 23) and domain search list (option 24) of the port's IPv6 subnets.
// Pure: parse the request, build the reply frame.
import ipaddr from 'ipaddr.js';
import { internetChecksum } from '../packet/checksum.js';
import { domainSearchOption } from './codec/options.js';
import { linkLocalOf, type RaBinding } from './ra.js';

const INFORMATION_REQUEST = 11;
const REPLY = 7;
const OPTION_CLIENTID = 1;
const OPTION_SERVERID = 2;
const OPTION_DNS_SERVERS = 23;
const OPTION_DOMAIN_LIST = 24;

export interface InfoRequest {
  srcIp: string;
  srcMac: string;
  srcPort: number;
  xid: Buffer;
  clientId: Buffer | undefined;
}

/** An Information-Request in an Ethernet/IPv6/UDP frame (no extension headers), or undefined. */
export function parseInfoRequest(frame: Buffer): InfoRequest | undefined {
  if (frame.length < 14 + 40 + 8 + 4 || frame.readUInt16BE(12) !== 0x86dd || frame.readUInt8(20) !== 17) return undefined;
  const udp = 54;
  if (frame.readUInt16BE(udp + 2) !== 547) return undefined;
  const len = frame.readUInt16BE(udp + 4);
  if (len < 12 || udp + len > frame.length) return undefined;
  const msg = frame.subarray(udp + 8, udp + len);
  if (msg.readUInt8(0) !== INFORMATION_REQUEST) return undefined;
  let clientId: Buffer | undefined;
  for (let i = 4; i + 4 <= msg.length; ) {
    const code = msg.readUInt16BE(i);
    const olen = msg.readUInt16BE(i + 2);
    if (i + 4 + olen > msg.length) return undefined;
    if (code === OPTION_CLIENTID) clientId = Buffer.from(msg.subarray(i + 4, i + 4 + olen));
    i += 4 + olen;
  }
  return {
    srcIp: ipaddr.fromByteArray([...frame.subarray(22, 38)]).toString(),
    srcMac: [...frame.subarray(6, 12)].map((x) => x.toString(16).padStart(2, '0')).join(':'),
    srcPort: frame.readUInt16BE(udp),
    xid: Buffer.from(msg.subarray(1, 4)),
    clientId,
  };
}

const opt = (code: number, value: Buffer): Buffer => {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(code, 0);
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value]);
};

export function buildInfoReply(b: RaBinding, serverMac: string, req: InfoRequest): Buffer {
  const macBytes = Buffer.from(serverMac.split(':').map((h) => parseInt(h, 16)));
  const duid = Buffer.concat([Buffer.from([0, 3, 0, 1]), macBytes]); // DUID-LL, Ethernet (RFC 8415 11.4)
  const dns = [...new Set(b.subnets.flatMap((s) => s.dns.filter((d) => d.includes(':'))))];
  const domains = [...new Set(b.subnets.flatMap((s) => s.searchDomains))];
  const parts = [Buffer.concat([Buffer.from([REPLY]), req.xid]), opt(OPTION_SERVERID, duid)];
  if (req.clientId) parts.push(opt(OPTION_CLIENTID, req.clientId));
  if (dns.length) parts.push(opt(OPTION_DNS_SERVERS, Buffer.concat(dns.map((d) => Buffer.from(ipaddr.parse(d).toByteArray())))));
  if (domains.length) parts.push(opt(OPTION_DOMAIN_LIST, domainSearchOption(domains)));
  const payload = Buffer.concat(parts);
  const src = Buffer.from(ipaddr.parse(linkLocalOf(serverMac)).toByteArray());
  const dst = Buffer.from(ipaddr.parse(req.srcIp).toByteArray());
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(547, 0);
  udp.writeUInt16BE(req.srcPort, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const pseudo = Buffer.alloc(40);
  src.copy(pseudo, 0);
  dst.copy(pseudo, 16);
  pseudo.writeUInt32BE(8 + payload.length, 32);
  pseudo.writeUInt8(17, 39);
  const sum = internetChecksum(pseudo, udp, payload);
  udp.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
  const ip6 = Buffer.alloc(40);
  ip6.writeUInt32BE(0x60000000, 0);
  ip6.writeUInt16BE(8 + payload.length, 4);
  ip6.writeUInt8(17, 6);
  ip6.writeUInt8(255, 7);
  src.copy(ip6, 8);
  dst.copy(ip6, 24);
  const eth = Buffer.alloc(14);
  Buffer.from(req.srcMac.split(':').map((h) => parseInt(h, 16))).copy(eth, 0);
  macBytes.copy(eth, 6);
  eth.writeUInt16BE(0x86dd, 12);
  return Buffer.concat([eth, ip6, udp, payload]);
}
