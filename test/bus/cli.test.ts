// `plumb bus gen-creds` and `gen-server-config` produce seeds and a config that Debian's
// nats-server accepts (`nats-server -t`), with TLS when asked.
import { describe, expect, it } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPlumb, tempDir } from '../helpers/topology.js';

describe('plumb bus CLI', () => {
  it('generates 0600 seeds and a server config nats-server accepts, with TLS', async () => {
    const dir = tempDir();
    const creds = join(dir, 'creds');
    const r = await runPlumb(['bus', 'gen-creds', '--out', creds, '--host', 'hv1', '--host', 'hv2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^controller\s+U[A-Z0-9]{55}/m);
    expect(statSync(join(creds, 'hv1.nk')).mode & 0o777).toBe(0o600);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const out = join(dir, 'nats.conf');
    const g = await runPlumb(['bus', 'gen-server-config', '--creds', creds, '--host', 'hv1', '--host', 'hv2', '--store', join(dir, 'js'), '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem'), '--out', out]);
    expect(g.code).toBe(0);
    const conf = readFileSync(out, 'utf8');
    expect(conf).toMatch(/\$KV\.plumb-desired\.hv1\.>/);
    expect(conf).not.toMatch(/\$KV\.plumb-desired\.hv2\.>.*hv1/);
    const t = spawnSync('/usr/sbin/nats-server', ['-t', '-c', out], { encoding: 'utf8' });
    expect(`${t.stdout}${t.stderr}`).toMatch(/configuration file .* is valid/);
  });

  it('refuses bad input naming the option', async () => {
    const r = await runPlumb(['bus', 'gen-server-config', '--creds', tempDir(), '--port', '99999', '--out', '/dev/null']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--port: '99999' is not a TCP port/);
    const h = await runPlumb(['bus', 'gen-creds', '--out', tempDir(), '--host', 'bad.host']);
    expect(h.stderr).toMatch(/host: 'bad\.host' cannot be used/);
  });
});
