// The servers wrk is pointed at, side by side: the upstream itself (the limit), the reference
// proxy, meshgate and the proxies users would pick instead. Each start is fresh, on 127.0.0.1,
// proxying to the upstream of the case.
import { spawnSync } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BenchCase } from './cases.js';
import { freePort, startProcess, type ManagedProcess } from './processes.js';
import type { TlsFiles } from './tls-material.js';

export interface TargetContext {
  readonly benchCase: BenchCase;
  readonly upstream: { readonly port: number; readonly process: ManagedProcess };
  /** An empty folder for this start's config files. */
  readonly workDir: string;
  /** Set in the HTTPS cases: the target serves HTTPS with it (upstreams stay plain HTTP). */
  readonly tls: TlsFiles | undefined;
}

export interface RunningTarget {
  readonly port: number;
  /** The process whose tree's memory is the target's. */
  readonly process: ManagedProcess;
  /** How long the first correct answer may take (a 1,000-VirtualService config compiles first). */
  readonly startTimeoutMs: number;
  stop(): Promise<void>;
}

export interface Target {
  readonly id: string;
  readonly label: string;
  /** Why this target does not run here; undefined when it does. */
  readonly skipReason?: string;
  start(context: TargetContext): Promise<RunningTarget>;
}

export interface TargetEnvironment {
  readonly node: string;
  readonly upstreamScript: string;
  readonly referenceProxyScript: string;
  /** dist/cli.js, or undefined when meshgate is not built. */
  readonly meshgateCli: string | undefined;
  /** Whether `meshgate run --help` lists `--workers`. */
  readonly meshgateHasWorkers: boolean;
  readonly nginxVersion: string | undefined;
  readonly haproxyVersion: string | undefined;
  /** The available parallelism: what `--workers auto` starts, and so nginx's worker count beside it. */
  readonly cores: number;
}

export const peerInstallHint = 'apt-get install -y wrk nginx-light haproxy gcc   (or nginx instead of nginx-light; gcc builds bench/no-resume.c)';
const startTimeoutMs = 20_000;

export function benchTargets(env: TargetEnvironment): Target[] {
  const meshgateSkip = env.meshgateCli === undefined ? 'dist/cli.js missing: run `npm run build` first' : undefined;
  return [
    {
      id: 'direct',
      label: 'direct to the upstream',
      start: async ({ upstream, tls }) => {
        if (tls === undefined) return { port: upstream.port, process: upstream.process, startTimeoutMs, stop: async () => undefined };
        // The proxies' upstream stays plain HTTP; "direct" over HTTPS is a second upstream serving it.
        return whenAnnounced(startProcess('upstream (HTTPS)', env.node, [env.upstreamScript, ...tlsArgs(tls)], 'pipe'));
      },
    },
    {
      id: 'reference',
      label: 'reference proxy (fastify + undici Pool)',
      start: ({ upstream, tls }) => whenAnnounced(startProcess('reference proxy', env.node, [env.referenceProxyScript, String(upstream.port), ...tlsArgs(tls)], 'pipe')),
    },
    {
      id: 'meshgate-1',
      label: env.meshgateHasWorkers ? 'meshgate --workers 1' : 'meshgate (one process; no --workers yet)',
      ...(meshgateSkip === undefined ? {} : { skipReason: meshgateSkip }),
      start: (context) => startMeshgate(env, context, env.meshgateHasWorkers ? ['--workers', '1'] : []),
    },
    {
      id: 'meshgate-auto',
      label: 'meshgate --workers auto',
      ...(meshgateSkip !== undefined
        ? { skipReason: meshgateSkip }
        : env.meshgateHasWorkers
          ? {}
          : { skipReason: 'this build of meshgate has no `--workers` (not listed by `meshgate run --help`)' }),
      start: (context) => startMeshgate(env, context, ['--workers', 'auto']),
    },
    {
      id: 'nginx-1',
      label: 'nginx (worker_processes 1)',
      ...(env.nginxVersion === undefined ? { skipReason: `nginx not installed: ${peerInstallHint}` } : {}),
      start: (context) => startNginx(context, 1),
    },
    {
      id: 'nginx',
      label: `nginx (worker_processes ${env.cores})`,
      ...(env.nginxVersion === undefined ? { skipReason: `nginx not installed: ${peerInstallHint}` } : {}),
      start: (context) => startNginx(context, env.cores),
    },
    {
      id: 'haproxy',
      label: 'HAProxy (nbthread 2)',
      ...(env.haproxyVersion === undefined ? { skipReason: `haproxy not installed: ${peerInstallHint}` } : {}),
      start: startHaproxy,
    },
  ];
}

async function startMeshgate(env: TargetEnvironment, context: TargetContext, workerArgs: readonly string[]): Promise<RunningTarget> {
  const port = await freePort();
  await writeFile(path.join(context.workDir, 'meshgate.yaml'), context.benchCase.meshgateConfig(port, { address: '127.0.0.1', port: context.upstream.port }, context.tls));
  // Istio's defaults: no access log (no MeshConfig turns it on), as no other target writes one.
  const args = [env.meshgateCli!, 'run', '--config', context.workDir, '--no-admin', '--no-prometheus', '--no-watch', '--log-level', 'warn', '--drain-timeout', '1s', ...workerArgs];
  const gateway = startProcess('meshgate', env.node, args, 'ignore');
  return { port, process: gateway, startTimeoutMs: 120_000, stop: () => gateway.stop() };
}

async function startNginx(context: TargetContext, workers: number): Promise<RunningTarget> {
  const port = await freePort();
  const dir = context.workDir;
  // nginx's workers (www-data when started as root) create their temp files in here.
  await chmod(dir, 0o755);
  await writeFile(
    path.join(dir, 'nginx.conf'),
    `user www-data;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  # nginx logs every request by default; off here, as meshgate's (Istio's default) and the others.
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  upstream upstream_bench {
    server 127.0.0.1:${context.upstream.port};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port}${context.tls === undefined ? '' : ` ssl;
    ssl_certificate ${context.tls.certFile};
    ssl_certificate_key ${context.tls.keyFile}`};
    location / {
      proxy_pass http://upstream_bench;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`,
  );
  const nginx = startProcess('nginx', 'nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'], 'pipe');
  return { port, process: nginx, startTimeoutMs, stop: () => nginx.stop() };
}

async function startHaproxy(context: TargetContext): Promise<RunningTarget> {
  const port = await freePort();
  const config = path.join(context.workDir, 'haproxy.cfg');
  await writeFile(
    config,
    `global
  nbthread 2
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend bench
  bind 127.0.0.1:${port}${context.tls === undefined ? '' : ` ssl crt ${context.tls.combinedFile}`}
  default_backend upstream_bench
backend upstream_bench
  server upstream 127.0.0.1:${context.upstream.port}
`,
  );
  const haproxy = startProcess('haproxy', 'haproxy', ['-f', config, '-db'], 'pipe');
  return { port, process: haproxy, startTimeoutMs, stop: () => haproxy.stop() };
}

/** A node script's process as a target once it prints its port; stopped if it never does. */
async function whenAnnounced(script: ManagedProcess): Promise<RunningTarget> {
  try {
    return { port: await script.announcedPort(startTimeoutMs), process: script, startTimeoutMs, stop: () => script.stop() };
  } catch (err) {
    // The other targets of the case keep running; this one must not linger beside them.
    await script.stop();
    throw err;
  }
}

/** The arguments with which upstream.ts and reference-proxy.ts serve HTTPS. */
function tlsArgs(tls: TlsFiles | undefined): string[] {
  return tls === undefined ? [] : [tls.certFile, tls.keyFile];
}

/** The first line a peer prints about its version, or undefined when it is not installed. */
export function peerVersion(command: 'nginx' | 'haproxy'): string | undefined {
  const probe = spawnSync(command, ['-v'], { encoding: 'utf8' });
  if (probe.error !== undefined) return undefined;
  const text = `${probe.stdout}${probe.stderr}`;
  return command === 'nginx' ? /nginx\/\S+/.exec(text)?.[0] : /HAProxy version \S+/.exec(text)?.[0];
}
