// A throwaway PostgreSQL server in a directory of its own (Debian's postgresql, initdb and pg_ctl),
// for the HA lab and the tests: password login on a loopback port, one database for plumb.
// PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` system user
// (Debian's package makes it). kill() is a SIGKILL of the postmaster, as a crash drill needs.
import { execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../bus/nats-server.js';
import { PlumbError } from '../util/errors.js';

const run = promisify(execFile);

/** PostgreSQL's programs are missing or a step of setting it up failed. */
export class PostgresSetupError extends PlumbError {}

/** The newest installed PostgreSQL's bin directory (Debian keeps them per version). */
export function postgresBinDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin', 'pg_ctl'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new PostgresSetupError(`no PostgreSQL under ${base}: install Debian's postgresql (scripts/setup.sh does)`);
  return join(base, newest, 'bin');
}

async function userIds(name: string): Promise<{ uid: number; gid: number }> {
  const [u, g] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export interface PostgresServerOptions {
  /** default: a new temporary directory, removed by remove() */
  dir?: string;
  port?: number;
  /** fsync off: for tests whose drills kill processes, never the machine */
  fsync?: boolean;
  /**
   * synchronous_commit off: a commit survives a crash of PostgreSQL but not of the machine (the
   * last few hundred ms may be lost, never half a transaction): SQLite's WAL with
   * synchronous=NORMAL, as plumb runs it, for a like-for-like benchmark
   */
  synchronousCommit?: boolean;
  maxConnections?: number;
}

export class PostgresServer {
  readonly user = 'plumb';
  readonly password: string;
  readonly database = 'plumb';

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
    private readonly owner: { uid: number; gid: number } | undefined,
    private readonly ownsDir: boolean,
  ) {
    this.password = `pw-${Math.random().toString(36).slice(2, 12)}`;
  }

  get url(): string {
    return `postgresql://${this.user}:${this.password}@127.0.0.1:${this.port}/${this.database}`;
  }

  private get data(): string {
    return join(this.dir, 'data');
  }

  /** The server made earlier in `dir` (by create), to start, stop or kill it again; its password is not kept. */
  static async attach(dir: string): Promise<PostgresServer> {
    const conf = readFileSync(join(dir, 'data', 'postgresql.auto.conf'), 'utf8');
    const port = Number(/^port = (\d+)$/m.exec(conf)?.[1]);
    if (!port) throw new PostgresSetupError(`${dir}: no port in its postgresql.auto.conf (not made by plumb?)`);
    const owner = process.getuid?.() === 0 ? await userIds('postgres') : undefined;
    return new PostgresServer(dir, port, postgresBinDir(), owner, false);
  }

  /** initdb, start, and create plumb's database. */
  static async create(opts: PostgresServerOptions = {}): Promise<PostgresServer> {
    const bin = postgresBinDir();
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'plumb-pg-'));
    mkdirSync(dir, { recursive: true });
    const owner = process.getuid?.() === 0 ? await userIds('postgres') : undefined;
    const pg = new PostgresServer(dir, opts.port ?? (await freePort()), bin, owner, opts.dir === undefined);
    if (owner) chownSync(dir, owner.uid, owner.gid);
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${pg.password}\n`, { mode: 0o600 });
    if (owner) chownSync(pwfile, owner.uid, owner.gid);
    await pg.as(join(bin, 'initdb'), ['-D', pg.data, '-U', pg.user, '--pwfile', pwfile, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    rmSync(pwfile);
    const conf = [
      `listen_addresses = '127.0.0.1'`,
      `port = ${pg.port}`,
      `unix_socket_directories = '${dir}'`,
      `max_connections = ${opts.maxConnections ?? 200}`,
      `fsync = ${opts.fsync === false ? 'off' : 'on'}`,
      `synchronous_commit = ${opts.synchronousCommit === false ? 'off' : 'on'}`,
      `log_min_messages = warning`,
    ].join('\n');
    writeFileSync(join(pg.data, 'postgresql.auto.conf'), `${conf}\n`);
    if (owner) chownSync(join(pg.data, 'postgresql.auto.conf'), owner.uid, owner.gid);
    await pg.start();
    await pg.psql('postgres', `CREATE DATABASE ${pg.database}`);
    return pg;
  }

  /** Runs a PostgreSQL program as the cluster's owner. */
  private as(cmd: string, args: string[]): Promise<{ stdout: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { uid: this.owner?.uid, gid: this.owner?.gid, cwd: this.dir, env: { ...process.env, PGPASSWORD: this.password }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.once('error', (e) => reject(new PostgresSetupError(`${cmd}: ${e.message}`)));
      child.once('close', (code) => (code === 0 ? resolve({ stdout: out }) : reject(new PostgresSetupError(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim() || out.trim()}`))));
    });
  }

  /** One SQL statement through psql over TCP, as plumb's user. */
  async psql(database: string, sql: string): Promise<string> {
    return (await this.as(join(this.bin, 'psql'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', this.user, '-d', database, '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql])).stdout.trim();
  }

  async start(): Promise<void> {
    await this.as(join(this.bin, 'pg_ctl'), ['-D', this.data, '-l', join(this.dir, 'postgres.log'), '-w', '-t', '30', 'start']);
  }

  /** A clean shutdown (fast: open sessions are ended). */
  async stop(): Promise<void> {
    if (this.pid() === undefined) return;
    await this.as(join(this.bin, 'pg_ctl'), ['-D', this.data, '-m', 'fast', '-w', '-t', '30', 'stop']);
  }

  /** The postmaster's pid while it runs. */
  pid(): number | undefined {
    const file = join(this.data, 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    try {
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  /** SIGKILL of the postmaster (its backends exit when they see it gone); start() recovers. */
  async kill(): Promise<void> {
    const pid = this.pid();
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 200 && this.pid() === pid; i++) await new Promise((r) => setTimeout(r, 25));
    // the backends notice the postmaster's death and exit; wait until none holds the port's socket
    for (let i = 0; i < 200; i++) {
      const { stdout } = await run('pgrep', ['-x', 'postgres']).catch(() => ({ stdout: '' }));
      if (!this.backendsLeft(stdout)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Processes of this cluster still running (backends of a killed postmaster). */
  private backendsLeft(pgrepOut: string): boolean {
    for (const pid of pgrepOut.split('\n').filter(Boolean)) {
      try {
        if (readlinkSync(`/proc/${pid}/cwd`) === this.data) return true;
      } catch {
        // gone, or another cluster
      }
    }
    return false;
  }

  /** Stop it (SIGKILL if it will not) and delete its directory if it made it. */
  async remove(): Promise<void> {
    await this.stop().catch(() => this.kill());
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
