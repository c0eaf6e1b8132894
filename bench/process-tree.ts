// Resident memory of a target as its users would see it: the process and every process it
// forked (cluster workers, nginx workers), read from Linux /proc.
import { readdirSync, readFileSync } from 'node:fs';

export interface TreeRss {
  /** Sum of VmRSS over the process and all its descendants, in bytes; 0 when the process is gone. */
  readonly totalBytes: number;
  /** VmRSS of the largest of them (for meshgate, a worker or the primary). */
  readonly largestBytes: number;
}

export function treeRss(rootPid: number): TreeRss {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = parentPid(entry);
    if (ppid === undefined) continue;
    const siblings = children.get(ppid);
    if (siblings === undefined) children.set(ppid, [Number(entry)]);
    else siblings.push(Number(entry));
  }
  let totalBytes = 0;
  let largestBytes = 0;
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    const bytes = rssBytes(pid);
    totalBytes += bytes;
    largestBytes = Math.max(largestBytes, bytes);
    pending.push(...(children.get(pid) ?? []));
  }
  return { totalBytes, largestBytes };
}

function parentPid(pid: string): number | undefined {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: fields after it start at the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[1]);
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
