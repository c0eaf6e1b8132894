// Resident memory and CPU time of a target as its users would see them: the process and every
// process it forked (cluster workers, nginx workers), read from Linux /proc.
import { readdirSync, readFileSync } from 'node:fs';

export interface TreeRss {
  /** Sum of VmRSS over the process and all its descendants, in bytes; 0 when the process is gone. */
  readonly totalBytes: number;
  /** VmRSS of the process itself (meshgate's primary, nginx's master). */
  readonly mainBytes: number;
  /** VmRSS of the largest descendant (a meshgate or nginx worker); undefined when it forked none. */
  readonly largestChildBytes: number | undefined;
}

export function treeRss(rootPid: number): TreeRss {
  const [main = rootPid, ...children] = processTree(rootPid);
  const mainBytes = rssBytes(main);
  let totalBytes = mainBytes;
  let largestChildBytes: number | undefined;
  for (const pid of children) {
    const bytes = rssBytes(pid);
    totalBytes += bytes;
    largestChildBytes = Math.max(largestChildBytes ?? 0, bytes);
  }
  return { totalBytes, mainBytes, largestChildBytes };
}

/**
 * CPU time (user + system) the process and its descendants have used so far, in seconds. The
 * difference over a run, divided by its requests, is what one request costs the target, whatever
 * share of the cores the load generator took meanwhile.
 */
export function treeCpuSeconds(rootPid: number): number {
  let ticks = 0;
  for (const pid of processTree(rootPid)) {
    const fields = statFields(String(pid));
    // utime and stime: fields 14 and 15 of proc(5); statFields starts at field 3.
    if (fields !== undefined) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / clockTicksPerSecond;
}

/** sysconf(_SC_CLK_TCK): 100 on every Linux port node runs on. */
const clockTicksPerSecond = 100;

/** The process and every live descendant. */
function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = statFields(entry)?.[1];
    if (ppid === undefined) continue;
    const siblings = children.get(Number(ppid));
    if (siblings === undefined) children.set(Number(ppid), [Number(entry)]);
    else siblings.push(Number(entry));
  }
  const tree: number[] = [];
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** /proc/PID/stat from field 3 (state) on, or undefined when the process is gone. */
function statFields(pid: string): string[] | undefined {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: fields after it start at the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function rssBytes(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readOrUndefined(`/proc/${pid}/status`) ?? '')?.[1];
  return kib === undefined ? 0 : Number(kib) * 1024;
}

// A process may exit between listing /proc and reading it.
function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
