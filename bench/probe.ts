// Before any load, a target must answer the case's request the way the upstream does: a 200
// with the right body. A target that does not is reported, not measured.
import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Probe } from './cases.js';
import type { ManagedProcess } from './processes.js';

/** Undefined when the answer is right, else what was wrong. */
function probeOnce(port: number, probe: Probe, tls: boolean): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = (tls ? https : http).request(
      {
        host: '127.0.0.1',
        // The run's self-signed certificate: the probe checks answers, not the chain.
        rejectUnauthorized: false,
        port,
        method: probe.method,
        path: probe.path,
        agent: false,
        headers: { ...(probe.host === undefined ? {} : { host: probe.host }), ...(probe.body === undefined ? {} : { 'content-length': probe.body.length }) },
        timeout: 5_000,
      },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.once('end', () => {
          const expected = probe.expectedBodyBytes;
          if (res.statusCode !== 200) resolve(`status ${res.statusCode}`);
          else if (expected === undefined ? bytes === 0 : bytes !== expected) resolve(`body of ${bytes} bytes, expected ${expected ?? 'some'}`);
          else resolve(undefined);
        });
        res.once('error', (err) => resolve(err.message));
      },
    );
    req.once('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.once('error', (err) => resolve(err.message));
    req.end(probe.body);
  });
}

/** Probes until the answer is right; throws with the last problem (and the process's output) on timeout or exit. */
export async function waitUntilServing(port: number, probe: Probe, tls: boolean, target: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let problem = await probeOnce(port, probe, tls);
  while (problem !== undefined) {
    const exit = target.exitStatus();
    if (exit !== undefined) throw new Error(`${target.label} exited (${exit}): ${target.output().trim()}`);
    if (Date.now() > deadline) throw new Error(`${target.label} did not answer ${probe.method} ${probe.path} correctly within ${timeoutMs} ms: ${problem}`);
    await sleep(200);
    problem = await probeOnce(port, probe, tls);
  }
}
