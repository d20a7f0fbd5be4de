/**
 * A throwaway PostgreSQL server for tests: initdb into a temporary directory, started on a
 * free loopback port with trust authentication, stopped and deleted afterwards. Uses
 * Debian's postgresql package (scripts/setup.sh installs it). PostgreSQL refuses to run as
 * root, so under root the server runs as the `postgres` system user.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PostgresServer {
  connectionString: string;
  stop(): Promise<void>;
}

/** The directory with initdb/postgres, or undefined when PostgreSQL is not installed. */
export function postgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0], 'bin') : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const root = process.getuid?.() === 0;
  const asPostgres = (cmd: string, args: string[]) => (root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] as const : [cmd, args] as const);
  const dir = mkdtempSync(join(tmpdir(), 'crossrank-pg-'));
  const data = join(dir, 'data');
  if (root) {
    const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(pw.stdout.trim()), Number(gid.stdout.trim()));
    chmodSync(dir, 0o700);
  }
  const [initCmd, initArgs] = asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'crossrank', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const init = spawnSync(initCmd, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const [cmd, args] = asPostgres(join(bin, 'postgres'), [
    '-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off',
  ]);
  const server: ChildProcess = spawn(cmd, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr!.on('data', (d) => (log += d));
  const ready = join(bin, 'pg_isready');
  for (let i = 0; ; i++) {
    if (spawnSync(ready, ['-h', '127.0.0.1', '-p', String(port), '-U', 'crossrank']).status === 0) break;
    if (server.exitCode !== null || i > 100) {
      server.kill('SIGKILL');
      throw new Error(`PostgreSQL did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const created = spawnSync(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'crossrank', 'crossrank']);
  if (created.status !== 0) throw new Error(`createdb failed: ${created.stderr}`);
  return {
    connectionString: `postgresql://crossrank@127.0.0.1:${port}/crossrank`,
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        // Signal the postmaster itself (runuser does not forward signals); SIGINT = fast shutdown.
        const pidFile = join(data, 'postmaster.pid');
        const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : NaN;
        if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGINT');
        else server.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
