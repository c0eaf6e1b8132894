// The node flags a worker process starts with: the primary's own, plus what a worker serving
// traffic is better off with.

/**
 * V8's young generation grows to 2 x 16 MiB semi-spaces under load; 8 MiB ones kept a worker's
 * RSS about 10 MiB lower after a keep-alive load on this 2-core machine, at no measurable CPU cost
 * per request (README, Processes). A --max-semi-space-size the user gave (on the command line or in
 * NODE_OPTIONS) is kept.
 */
export function workerExecArgv(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((flag) => /^--max[-_]semi[-_]space[-_]size/.test(flag));
  return given ? [...execArgv] : [...execArgv, '--max-semi-space-size=8'];
}
