import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { until } from './wait.js';

/** Debian's nginx (scripts/setup.sh --test installs it). */
export const NGINX = '/usr/sbin/nginx';

export interface NginxBalancer {
  url: string;
  /** The configuration it runs, as an operator would write it. */
  configuration: string;
  close(): Promise<void>;
}

/**
 * nginx on loopback spreading requests round robin over `upstreams` (`127.0.0.1:port`), without buffering (NDJSON
 * streams pass through as they come), and retrying on another node a request a node refused before reading it
 * (connection refused), and a GET a node answered 503 (a draining node).
 */
export async function startNginxBalancer(upstreams: string[]): Promise<NginxBalancer> {
  const directory = await mkdtemp(join(tmpdir(), 'airlock-nginx-'));
  const port = await freePort();
  const temporary = (name: string) => join(directory, name);
  for (const name of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(temporary(name));
  const configuration = `worker_processes 1;
pid ${temporary('nginx.pid')};
error_log ${temporary('error.log')} warn;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${temporary('body')};
  proxy_temp_path ${temporary('proxy')};
  fastcgi_temp_path ${temporary('fastcgi')};
  uwsgi_temp_path ${temporary('uwsgi')};
  scgi_temp_path ${temporary('scgi')};
  upstream airlock {
${upstreams.map((upstream) => `    server ${upstream} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 16m;
    location / {
      proxy_pass http://airlock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 300s;
      # Only what no node ran is retried: a refused connection, or a draining node's 503 (a POST is retried only if
      # nginx could not send it, so an execution never runs twice).
      proxy_next_upstream error timeout http_503;
    }
  }
}
`;
  const file = temporary('nginx.conf');
  await writeFile(file, configuration);
  const checked = spawnSync(NGINX, ['-t', '-q', '-c', file, '-p', directory], { encoding: 'utf8' });
  if (checked.status !== 0) throw new Error(`nginx refused its configuration: ${checked.stderr}`);
  const child: ChildProcess = spawn(NGINX, ['-c', file, '-p', directory], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = `http://127.0.0.1:${port}`;
  const up = await until(async () => (await fetch(`${url}/healthz`).catch(() => null)) !== null, 10_000);
  if (!up) {
    child.kill('SIGKILL');
    throw new Error(`nginx did not start: ${await readFile(temporary('error.log'), 'utf8').catch(() => '')}`);
  }
  return {
    url,
    configuration,
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGQUIT');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
