// The proxy benchmark (a benchmark, not a test): req/s, latency and memory of meshgate side by
// side with a direct connection, the reference proxy, nginx and HAProxy, each case against
// each target started fresh on 127.0.0.1, the targets' runs interleaved (interleaved-case.ts).
// Prints a Markdown table and writes it to bench/results/<date>-<git sha>.md. See bench/README.md.
//
//   npm run bench [-- --duration 10 --connections 50 --runs 3 --cases plain,vhosts,post-1k,get-1m]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchCases, type BenchCase } from './cases.js';
import { measureCase, warmupSeconds, wrkThreads, type CaseLoad } from './interleaved-case.js';
import { buildNoResume } from './no-resume.js';
import { compileNodeScript, stopAllProcesses } from './processes.js';
import { progress } from './progress.js';
import { markdownTable, oneLine, type CaseRow, type TargetResult } from './report.js';
import { benchTargets, peerInstallHint, peerVersion, type Target } from './targets.js';
import { createTlsFiles } from './tls-material.js';
import { wrkScript, wrkVersion } from './wrk.js';

const repoRoot = path.resolve(import.meta.dirname, '..');

interface LoadOptions extends CaseLoad {
  readonly cases: readonly BenchCase[];
  /** Target ids to run; undefined runs them all. */
  readonly targets: readonly string[] | undefined;
}

function parseOptions(argv: string[]): LoadOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      runs: { type: 'string', default: '3' },
      cases: { type: 'string', default: benchCases.map((c) => c.id).join(',') },
      targets: { type: 'string' },
    },
    strict: true,
  });
  const positive = (name: string, value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number of at least 1, not "${value}"`);
    return n;
  };
  const cases = values.cases.split(',').map((id) => {
    const found = benchCases.find((c) => c.id === id.trim());
    if (found === undefined) throw new Error(`--cases: unknown case "${id}"; cases are ${benchCases.map((c) => c.id).join(', ')}`);
    return found;
  });
  return {
    durationSeconds: positive('duration', values.duration),
    connections: positive('connections', values.connections),
    runs: positive('runs', values.runs),
    cases,
    targets: values.targets?.split(',').map((id) => id.trim()),
  };
}

function git(...args: string[]): string {
  return spawnSync('git', args, { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } }).stdout.trim();
}

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** `node dist/cli.js run --help` lists `--workers` once the process model has landed. */
function meshgateHasWorkers(cli: string): boolean {
  return spawnSync(process.execPath, [cli, 'run', '--help'], { encoding: 'utf8' }).stdout.includes('--workers');
}

async function main(): Promise<number> {
  let load: LoadOptions;
  try {
    load = parseOptions(process.argv.slice(2));
  } catch (err) {
    progress(`bench: ${oneLine(err)}`);
    return 2;
  }
  const wrk = wrkVersion();
  if (wrk === undefined) {
    progress(`bench: wrk is not installed; it is the load generator. Install it (and the peers):\n  ${peerInstallHint}`);
    return 2;
  }
  const cliPath = path.join(repoRoot, 'dist', 'cli.js');
  const meshgateCli = existsSync(cliPath) ? cliPath : undefined;
  const nginxVersion = peerVersion('nginx');
  const haproxyVersion = peerVersion('haproxy');
  if (nginxVersion === undefined || haproxyVersion === undefined) progress(`bench: ${nginxVersion === undefined ? 'nginx' : 'haproxy'}${nginxVersion === undefined && haproxyVersion === undefined ? ' and haproxy are' : ' is'} not installed, so not compared. To install:\n  ${peerInstallHint}`);

  // What is measured is the tree as it is when the run starts.
  const date = new Date().toISOString().slice(0, 10);
  const sha = git('rev-parse', '--short', 'HEAD') || 'nogit';
  const dirty = git('status', '--porcelain') !== '';
  const distNote =
    meshgateCli === undefined
      ? 'meshgate not built'
      : statSync(meshgateCli).mtimeMs < newestMtimeMs(path.join(repoRoot, 'src'))
        ? 'meshgate from dist/, which is older than the newest file in src/'
        : 'meshgate from dist/, built from the current src/';
  const workRoot = await mkdtemp(path.join(os.tmpdir(), 'meshgate-proxy-bench-'));
  const loadBefore = os.loadavg()[0]!;
  const upstreamScript = await compileNodeScript(repoRoot, path.join(repoRoot, 'bench', 'upstream.ts'));
  const referenceProxyScript = await compileNodeScript(repoRoot, path.join(repoRoot, 'bench', 'reference-proxy.ts'));
  const tls = load.cases.some((c) => c.tls === true) ? await createTlsFiles(workRoot) : undefined;
  const noResume = load.cases.some((c) => c.fullHandshakes === true) ? buildNoResume(repoRoot) : undefined;
  if (noResume?.kind === 'missing') progress(`bench: the full-handshake case is skipped: ${noResume.reason}`);
  const environment = {
    node: process.execPath,
    upstreamScript,
    referenceProxyScript,
    meshgateCli,
    meshgateHasWorkers: meshgateCli !== undefined && meshgateHasWorkers(meshgateCli),
    nginxVersion,
    haproxyVersion,
    cores: os.availableParallelism(),
  };
  const targets = benchTargets(environment).filter((target) => load.targets === undefined || load.targets.includes(target.id));
  const unknown = load.targets?.filter((id) => !targets.some((target) => target.id === id)) ?? [];
  if (unknown.length > 0) {
    progress(`bench: --targets: unknown target "${unknown[0]}"; targets are ${benchTargets(environment).map((t) => t.id).join(', ')}`);
    return 2;
  }
  const active = targets.filter((t) => t.skipReason === undefined).length;
  for (const target of targets) if (target.skipReason !== undefined) progress(`bench: skipping ${target.label}: ${target.skipReason}`);
  const minutes = (load.cases.length * active * load.runs * (load.durationSeconds + warmupSeconds)) / 60;
  progress(`bench: ${load.cases.length} case(s) x ${active} target(s) x ${load.runs} run(s): about ${Math.ceil(minutes)} min of load`);

  const rows: CaseRow[] = [];
  for (const benchCase of load.cases) {
    const luaScript = path.join(workRoot, `${benchCase.id}.lua`);
    await writeFile(luaScript, wrkScript(benchCase.requestLua));
    const skipReasonOf = (target: Target) => target.skipReason ?? (benchCase.fullHandshakes === true && noResume?.kind === 'missing' ? noResume.reason : undefined);
    const measured = await measureCase(
      benchCase,
      targets.filter((target) => skipReasonOf(target) === undefined),
      load,
      { workRoot, upstreamScript, luaScript, tls, noResume: noResume?.kind === 'built' ? noResume.library : undefined },
    );
    for (const target of targets) {
      const skipReason = skipReasonOf(target);
      const result: TargetResult = skipReason !== undefined ? { kind: 'skipped', reason: skipReason } : measured.get(target)!;
      rows.push({ caseTitle: benchCase.title, targetId: target.id, targetLabel: target.label, result });
    }
  }
  await rm(workRoot, { recursive: true, force: true });

  const cpus = os.cpus();
  const report = `## meshgate proxy benchmark, ${date}

- git ${sha}${dirty ? ' (with uncommitted changes in the tree)' : ''}; ${distNote}
- machine: ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown cpu'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${os.release()}; node ${process.version}; ${wrk}; ${nginxVersion ?? 'no nginx'}; ${haproxyVersion ?? 'no HAProxy'}
- load: \`wrk -t${wrkThreads} -c${load.connections} -d${load.durationSeconds}s --latency\`, ${warmupSeconds} s warm-up before each of ${load.runs} measured runs; every target started fresh for every case, each in front of its own fresh upstream (one node:http process), all of them started before the first run and idle beside the loaded one; the runs interleaved: round i gives every target its warm-up and one run, in an order rotated each round, so a slow minute of the host falls on every target alike
- **the ${cpus.length} cores are shared** by wrk (${wrkThreads} threads), the upstream and the target, all on 127.0.0.1: the figures compare targets on this machine, they are not what a dedicated gateway host does; "direct" is the upstream's own limit under the same load
- req/s: median of the runs (min-max); p50/p99: wrk's latency percentiles, median of the runs; CPU: user + system CPU time of the target and its child processes during each measured run, divided by the run's requests, median of the runs (what a request costs the target, whatever share of the cores wrk took: wrk busy-polls while a TLS handshake is pending, so a slower handshake also costs the target cores); ratios (vs ...): per round, this target's req/s over the other's in the same round, median of the rounds; RSS: VmRSS of the target and its child processes after the last round, and in brackets of its main process (meshgate's primary, nginx's master) and of its largest worker, for targets that fork workers; errors: socket errors and non-2xx/3xx answers over all measured runs
- load average (1 min) when the benchmark started: ${loadBefore.toFixed(2)} (well above 0 means other work was sharing the cores too)
${tls === undefined ? '' : `- HTTPS cases: every target (and "direct", a second upstream process) serves HTTPS with a ${tls.description}; the proxies forward plain HTTP to the upstream
`}- access logs: none (meshgate on Istio's default, nginx \`access_log off\`, HAProxy and the reference proxy log nothing)
${load.cases.flatMap((c) => (c.peerNote === undefined ? [] : [`- ${c.title}: ${c.peerNote}\n`])).join('')}
${markdownTable(rows)}
`;
  process.stdout.write(`\n${report}`);
  // A run of some cases or targets gets its own file beside the full run of the same commit.
  const someCases = load.cases.length < benchCases.length ? `-${load.cases.map((c) => c.id).join('-')}` : '';
  const someTargets = load.targets === undefined ? '' : `-${targets.map((t) => t.id).join('-')}`;
  const resultsFile = path.join(repoRoot, 'bench', 'results', `${date}-${sha}${someCases}${someTargets}.md`);
  await writeFile(resultsFile, report);
  progress(`bench: written to ${path.relative(repoRoot, resultsFile)}`);
  return 0;
}

process.once('SIGINT', () => {
  progress('bench: interrupted; stopping what it started');
  void stopAllProcesses().then(() => process.exit(130));
});

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    progress(`bench: ${err instanceof Error ? err.stack : String(err)}`);
    await stopAllProcesses();
    process.exit(1);
  },
);
