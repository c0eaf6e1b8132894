// The node flags a worker process starts with: the primary's own, plus what a worker serving
// traffic is better off with.

/**
 * V8 flags a worker gets unless the user gave the same flag (on the command line or in
 * NODE_OPTIONS), measured on this 2-core machine (README, Processes):
 * - the young generation otherwise grows to 2 x 16 MiB semi-spaces under load; 4 MiB ones kept a
 *   worker's RSS about 20 MiB lower (under 120 MiB with 1,000 VirtualServices), at no measurable
 *   CPU cost per plain request or per handshake, and a few percent with 1,000 VirtualServices;
 * - the old generation otherwise grows to 2-4x what is alive before V8 collects it (new TLS
 *   connections and 1,000 VirtualServices took a worker over 120 MiB that way); growing it by 30%
 *   keeps it near what is alive;
 * - `gc`, for a young-generation collection after every few MiB of relayed bodies, which frees
 *   the dead read buffers Node leaves outside V8's heap (upstream/relayed-bytes-gc.ts).
 */
const workerV8Flags = [
  ['max-semi-space-size', '--max-semi-space-size=4'],
  ['heap-growing-percent', '--heap-growing-percent=30'],
  ['expose-gc', '--expose-gc'],
] as const;

/** node accepts a V8 flag with dashes or underscores. */
const flagPattern = (name: string) => new RegExp(`^--${name.replace(/-/g, '[-_]')}(=|$)`);

export function workerExecArgv(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)];
  const added = workerV8Flags.filter(([name]) => !given.some((flag) => flagPattern(name).test(flag))).map(([, flag]) => flag);
  return [...execArgv, ...added];
}
