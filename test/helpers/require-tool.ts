import { execFileSync } from 'node:child_process';

// A test that needs an outside tool (curl, openssl, redis-server) says so loudly when the tool is
// missing and is skipped; CI sets MESHGATE_REQUIRE_TOOLS=1, which turns that skip into a failure.

export function hasTool(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** True when the tool is there; otherwise warns (or throws under MESHGATE_REQUIRE_TOOLS=1). */
export function requireTool(tool: string): boolean {
  if (hasTool(tool)) return true;
  const message = `${tool} is not installed: the tests that need it are SKIPPED (apt-get install ${tool})`;
  if (process.env.MESHGATE_REQUIRE_TOOLS === '1') throw new Error(`${message}; MESHGATE_REQUIRE_TOOLS=1 makes this a failure`);
  console.warn(`\n*** ${message} ***\n`);
  return false;
}
