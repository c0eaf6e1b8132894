// The benchmark's one output: a Markdown table, every case x target side by side, with the
// ratios users ask for (against the direct limit, nginx and the reference proxy).
import { median } from './stats.js';
import type { WrkErrors, WrkResult } from './wrk.js';
import type { TreeRss } from './process-tree.js';

/** One wrk run and the target's CPU time per request during it. */
export type MeasuredRun = WrkResult & { readonly cpuUsPerRequest: number };

export type TargetResult =
  | { readonly kind: 'measured'; readonly runs: readonly MeasuredRun[]; readonly rss: TreeRss }
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string };

export interface CaseRow {
  readonly caseTitle: string;
  readonly targetId: string;
  readonly targetLabel: string;
  readonly result: TargetResult;
}

/** Target ids the ratio columns divide by. */
const baselines = [
  { id: 'direct', column: 'vs direct' },
  { id: 'nginx', column: 'vs nginx' },
  { id: 'reference', column: 'vs reference' },
] as const;

/**
 * The nginx target with as many worker processes as each meshgate target (`auto` starts one per
 * core, as many as nginx's second target runs): the performance issue's "same worker count".
 */
const nginxWithSameWorkers: Readonly<Record<string, string>> = { 'meshgate-1': 'nginx-1', 'meshgate-auto': 'nginx' };

/** `rows` in order, grouped by case. */
export function markdownTable(rows: readonly CaseRow[]): string {
  const measured = new Map<string, readonly MeasuredRun[]>();
  for (const row of rows) if (row.result.kind === 'measured') measured.set(`${row.caseTitle}\n${row.targetId}`, row.result.runs);
  const ratioTo = (row: CaseRow, runs: readonly MeasuredRun[], baseId: string | undefined) => {
    const base = baseId === undefined ? undefined : measured.get(`${row.caseTitle}\n${baseId}`);
    return base === undefined ? '-' : `${pairedRatio(runs, base).toFixed(2)}x`;
  };
  const header = ['case', 'target', 'req/s median (min-max)', 'p50 ms', 'p99 ms', 'CPU us/req', 'RSS MiB total (main process / largest worker)', ...baselines.map((b) => b.column), 'vs nginx, same workers', 'errors'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const row of rows) {
    const { result } = row;
    if (result.kind !== 'measured') {
      lines.push(`| ${row.caseTitle} | ${row.targetLabel} | ${result.kind}: ${result.reason} |${' |'.repeat(header.length - 3)}`);
      continue;
    }
    const rps = result.runs.map((r) => r.requestsPerSecond);
    lines.push(
      `| ${[
        row.caseTitle,
        row.targetLabel,
        `${Math.round(median(rps))} (${Math.round(Math.min(...rps))}-${Math.round(Math.max(...rps))})`,
        median(result.runs.map((r) => r.p50Ms)).toFixed(2),
        median(result.runs.map((r) => r.p99Ms)).toFixed(2),
        Math.round(median(result.runs.map((r) => r.cpuUsPerRequest))),
        describeRss(result.rss),
        ...baselines.map((b) => ratioTo(row, result.runs, b.id)),
        ratioTo(row, result.runs, nginxWithSameWorkers[row.targetId]),
        describeErrors(result.runs.map((r) => r.errors)),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/**
 * The median of the rounds' ratios: run i of both targets came from round i, minutes apart at
 * most, so a slow stretch of the host that falls on one round moves one ratio, not a median each.
 */
function pairedRatio(own: readonly MeasuredRun[], base: readonly MeasuredRun[]): number {
  const rounds = Math.min(own.length, base.length);
  return median(Array.from({ length: rounds }, (_, i) => own[i]!.requestsPerSecond / base[i]!.requestsPerSecond));
}

/** `total (main / largest worker)` in MiB, or the one figure of a target that forked nothing. */
function describeRss(rss: TreeRss): string {
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  return rss.largestChildBytes === undefined ? mib(rss.totalBytes) : `${mib(rss.totalBytes)} (${mib(rss.mainBytes)} / ${mib(rss.largestChildBytes)})`;
}

/** Errors summed over the measured runs: `0` is the only good answer. */
export function describeErrors(runs: readonly WrkErrors[]): string {
  const totals: Record<keyof WrkErrors, number> = { status: 0, connect: 0, read: 0, write: 0, timeout: 0 };
  for (const run of runs) for (const key of Object.keys(totals) as (keyof WrkErrors)[]) totals[key] += run[key];
  const parts = Object.entries(totals)
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${count} ${kind === 'status' ? 'non-2xx/3xx' : kind}`);
  return parts.length === 0 ? '0' : parts.join(', ');
}

/** An error as one line that fits a table cell and a progress line. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s+/g, ' ').replace(/\|/g, '/').slice(0, 300);
}
