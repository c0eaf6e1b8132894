#!/usr/bin/env node
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { MeshgateError } from './errors.js';
import { createLogger, type LogLevel, type Logger } from './log.js';
import { buildSnapshot } from './config/pipeline.js';
import { formatIssue, hasErrors } from './config/issue.js';
import { parseDuration } from './config/duration.js';
import { startGateway, type Gateway } from './gateway.js';
import { startDemoUpstreams } from './demo-upstreams.js';

// `meshgate run | validate | demo`: the command a user types. It parses flags, wires the
// process (signals, exit codes) and leaves everything else to gateway.ts and the pipeline.

const usage = `meshgate - an edge gateway configured with Istio's YAML

Usage:
  meshgate run --config PATH [--config PATH ...] [options]
  meshgate validate PATH... [--namespace NS] [--certs DIR] [--output text|json]
  meshgate demo PATH... [options]      run, plus an echo server on every loopback endpoint the config names
  meshgate version

Options for run and demo:
  --config PATH          file or folder of YAML (repeatable; folders are read recursively)
  --namespace NS         namespace of resources that do not name one (default: default)
  --certs DIR            certificates: DIR/NAME/tls.crt, tls.key, ca.crt for credentialName NAME
                         (default: certs/ beside the first config path, else ./certs)
  --workers N|auto       worker processes serving traffic (default: auto, one per available core)
  --connection-balance kernel|round-robin
                         kernel: workers accept on the shared socket; round-robin: the primary
                         accepts and hands each connection to the next worker (default: kernel)
  --admin-port N         admin port: the status page (/), /healthz/ready, /config_dump, /clusters,
                         /listeners, /certs, /reload, /workers, /stats/prometheus (default: 15000)
  --readiness-port N     readiness alone, /healthz/ready (default: 15021)
  --admin-bind ADDR      address of the admin, readiness and Prometheus ports (default: 127.0.0.1)
  --no-admin             neither the admin nor the readiness port
  --prometheus-port N    Prometheus metrics at /stats/prometheus, on the admin address (default: 15090)
  --no-prometheus        no Prometheus port (/stats/prometheus on the admin port stays)
  --workload-name NAME   the gateway's source_workload in Istio's metrics (default: meshgate)
  --drain-timeout DUR    how long SIGTERM waits for in-flight requests (default: 30s)
  --no-watch             do not reload on file change (SIGHUP still reloads)
  --log-level LEVEL      debug | info | warn | error (default: info)
`;

const runOptions = {
  config: { type: 'string', multiple: true },
  namespace: { type: 'string', default: 'default' },
  certs: { type: 'string' },
  workers: { type: 'string', default: 'auto' },
  'connection-balance': { type: 'string', default: 'kernel' },
  'admin-port': { type: 'string', default: '15000' },
  'readiness-port': { type: 'string', default: '15021' },
  'admin-bind': { type: 'string', default: '127.0.0.1' },
  'no-admin': { type: 'boolean', default: false },
  'prometheus-port': { type: 'string', default: '15090' },
  'no-prometheus': { type: 'boolean', default: false },
  'workload-name': { type: 'string', default: 'meshgate' },
  'drain-timeout': { type: 'string', default: '30s' },
  'no-watch': { type: 'boolean', default: false },
  'log-level': { type: 'string', default: 'info' },
  output: { type: 'string', default: 'text' },
  help: { type: 'boolean', short: 'h', default: false },
} satisfies ParseArgsConfig['options'];

type Flags = ReturnType<typeof parseFlags>['values'];

function parseFlags(args: string[]) {
  return parseArgs({ args, options: runOptions, allowPositionals: true, strict: true });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(usage);
    return command === undefined ? 2 : 0;
  }
  if (command === 'version' || command === '--version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const { values, positionals } = parseFlags(rest);
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const paths = [...(values.config ?? []), ...positionals];
  if (paths.length === 0) throw usageError(`${command} needs at least one config path`);
  switch (command) {
    case 'validate':
      return validate(paths, values);
    case 'run':
      return run(paths, values, false);
    case 'demo':
      return run(paths, values, true);
    default:
      throw usageError(`unknown command "${command}"`);
  }
}

async function validate(paths: string[], flags: Flags): Promise<number> {
  const result = await buildSnapshot({ paths, defaultNamespace: flags.namespace, generation: 1, certsDir: certsDir(paths, flags) });
  const errors = result.issues.filter((i) => i.severity === 'error').length;
  const warnings = result.issues.length - errors;
  if (flags.output === 'json') {
    process.stdout.write(`${JSON.stringify({ valid: !hasErrors(result.issues), errors, warnings, issues: result.issues }, null, 2)}\n`);
  } else if (flags.output === 'text') {
    for (const issue of result.issues) process.stdout.write(`${formatIssue(issue)}\n`);
    const listeners = result.snapshot?.listeners.length ?? 0;
    const clusters = result.snapshot?.clusters.size ?? 0;
    process.stdout.write(
      errors === 0
        ? `configuration OK: ${listeners} listener(s), ${clusters} cluster(s), ${warnings} warning(s)\n`
        : `configuration refused: ${errors} error(s), ${warnings} warning(s)\n`,
    );
  } else {
    throw usageError(`--output must be text or json, not "${flags.output}"`);
  }
  return errors === 0 ? 0 : 1;
}

async function run(paths: string[], flags: Flags, demo: boolean): Promise<number> {
  const level = logLevel(flags['log-level']);
  const logger = createLogger({ level, fields: { process: 'primary' } });
  const drainMs = parseDuration(flags['drain-timeout']);
  if (drainMs === undefined) throw usageError(`--drain-timeout "${flags['drain-timeout']}" is not a duration like 30s`);
  const adminPort = portFlag(flags, 'admin-port');
  const prometheusPort = portFlag(flags, 'prometheus-port');
  const readinessPort = portFlag(flags, 'readiness-port');

  const workers = flags.workers === 'auto' ? availableParallelism() : Number(flags.workers);
  if (!Number.isInteger(workers) || workers < 1) throw usageError(`--workers "${flags.workers}" is not a number of workers (1 or more) or auto`);

  const connectionBalance = flags['connection-balance'];
  if (connectionBalance !== 'kernel' && connectionBalance !== 'round-robin') throw usageError(`--connection-balance "${connectionBalance}" is not kernel or round-robin`);

  const certs = certsDir(paths, flags);
  const upstreams = demo ? await startDemoUpstreams(paths, flags.namespace, certs, logger) : undefined;
  const gateway = await startGateway({
    configPaths: paths,
    certsDir: certs,
    namespace: flags.namespace,
    workers,
    connectionBalance,
    ...(flags['no-admin'] ? {} : { admin: { bind: flags['admin-bind'], port: adminPort, readinessPort } }),
    ...(flags['no-prometheus'] ? {} : { prometheus: { bind: flags['admin-bind'], port: prometheusPort } }),
    source: { name: flags['workload-name'], namespace: flags.namespace },
    drainMs,
    watch: !flags['no-watch'],
    logger,
    logLevel: level,
  }).catch(async (err: unknown) => {
    await upstreams?.close();
    throw err;
  });
  return waitForSignals(gateway, logger, async () => upstreams?.close());
}

function waitForSignals(gateway: Gateway, logger: Logger, afterStop: () => Promise<void>): Promise<number> {
  process.on('SIGHUP', () => void gateway.reload('SIGHUP'));
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn('second signal: ending the workers without draining', { signal });
        gateway.kill();
        process.exit(1);
      }
      stopping = true;
      logger.info('draining', { signal });
      void gateway
        .stop()
        .then(afterStop)
        .then(() => {
          logger.info('stopped');
          resolve(0);
        });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

/** --certs, else certs/ beside the first config path (gateways/ -> ./certs), else ./certs. */
function certsDir(paths: readonly string[], flags: Flags): string {
  if (flags.certs !== undefined) return path.resolve(flags.certs);
  const beside = path.join(path.dirname(path.resolve(paths[0]!)), 'certs');
  return existsSync(beside) ? beside : path.resolve('certs');
}

function portFlag(flags: Flags, name: 'admin-port' | 'readiness-port' | 'prometheus-port'): number {
  const port = Number(flags[name]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`--${name} "${flags[name]}" is not a port`);
  return port;
}

function logLevel(value: string): LogLevel {
  if (value === 'debug' || value === 'info' || value === 'warn' || value === 'error') return value;
  throw usageError(`--log-level must be debug, info, warn or error, not "${value}"`);
}

function usageError(message: string): MeshgateError {
  return new MeshgateError('MG_ERR_CLI_USAGE', `${message}\n\n${usage}`);
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Expected failures print their message and exit 1 (2 for a command-line mistake);
    // anything else is a bug and keeps its stack.
    const code = err instanceof Error && 'code' in err ? String(err.code) : '';
    const misuse = code === 'MG_ERR_CLI_USAGE' || code.startsWith('ERR_PARSE_ARGS');
    const known = misuse || err instanceof MeshgateError;
    process.stderr.write(`meshgate: ${known ? (err as Error).message : err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(misuse ? 2 : 1);
  },
);
