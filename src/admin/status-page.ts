import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

// The status page on the admin port: plain HTML and JavaScript from src/admin/status-page/ (no CDN, no
// framework), which read /config_dump and /stats/prometheus from the same port in the browser.

// Served from the source tree (tsc copies no assets): dist/admin/ -> src/admin/status-page/.
const folder = new URL('../../src/admin/status-page/', import.meta.url);

const files: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/status.js': { file: 'status.js', type: 'text/javascript; charset=utf-8' },
  '/status.css': { file: 'status.css', type: 'text/css; charset=utf-8' },
};

/** Answers `path` when it is one of the page's files; false otherwise. */
export function serveStatusPage(path: string, res: ServerResponse): boolean {
  const entry = files[path];
  if (entry === undefined) return false;
  readFile(new URL(entry.file, folder)).then(
    (body) => {
      res.writeHead(200, { 'content-type': entry.type, 'cache-control': 'no-cache' });
      res.end(body);
    },
    () => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('status page files missing\n');
    },
  );
  return true;
}
