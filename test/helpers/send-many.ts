import { request } from 'undici';

// Many GETs through the gateway at a fixed concurrency, for tests that count what happens to a
// share of requests (fault and mirror percentages) or bound how long each took.

export interface Sent {
  readonly status: number;
  readonly ms: number;
}

/** GETs `urlOf(i)` for i in [0, count) over `concurrency` parallel clients; results by index. */
export async function sendMany(urlOf: (i: number) => string, count: number, concurrency: number): Promise<Sent[]> {
  const results: Sent[] = [];
  let next = 0;
  const client = async () => {
    while (next < count) {
      const i = next++;
      const started = performance.now();
      const response = await request(urlOf(i));
      await response.body.dump();
      results[i] = { status: response.statusCode, ms: performance.now() - started };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return results;
}
