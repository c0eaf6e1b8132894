import { request } from 'undici';

// Reads a Prometheus text exposition the way Prometheus does: one sample per line, name,
// labels and value, so tests assert on what a scraper would store.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

export async function scrape(url: string): Promise<{ contentType: string; samples: Sample[] }> {
  const response = await request(url);
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`scrape of ${url} answered ${response.statusCode}: ${text}`);
  return { contentType: String(response.headers['content-type']), samples: parsePrometheusText(text) };
}

/** Scrapes until `ready` holds (or 10 s pass): a request is counted when its access log line is written, just after its response. */
export async function scrapeUntil(url: string, ready: (samples: Sample[]) => boolean): Promise<{ contentType: string; samples: Sample[] }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await scrape(url);
    if (ready(result.samples) || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The samples named `name` whose labels include `labels`. */
export function select(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The sum of the selected samples' values (0 when there are none). */
export function total(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  return select(samples, name, labels).reduce((sum, s) => sum + s.value, 0);
}
