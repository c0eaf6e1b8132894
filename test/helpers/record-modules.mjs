import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import process from 'node:process';
import { isMainThread } from 'node:worker_threads';

// Preloaded into the gateway's processes (NODE_OPTIONS=--import) by a test that asks which
// modules a process loads: every module a process resolves through an import is appended to
// $MG_TEST_MODULES_DIR/<pid>.txt, one URL a line. Plain JavaScript: it runs in the built
// binary's processes, which have no TypeScript loader. This one file is both the preload (main
// thread: it registers itself) and the hooks (the loader thread of Node 20).

let file;

export function initialize(data) {
  file = `${data.dir}/${process.pid}.txt`;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(file, `${resolved.url}\n`);
  return resolved;
}

if (isMainThread) register(import.meta.url, { data: { dir: process.env.MG_TEST_MODULES_DIR } });
