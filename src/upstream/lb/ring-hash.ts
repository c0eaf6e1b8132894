// Consistent hashing on a ring, as Envoy's RING_HASH: every endpoint owns points on a 32-bit
// ring in proportion to its weight (at least minimumRingSize points in all), and a request
// goes to the owner of the first point at or after the hash of its key. Adding or removing one
// of n endpoints moves only ~1/n of the keys. An excluded owner passes the request on to the
// next point clockwise; a request without a key lands on a random point.
//
// The hash is MurmurHash3 (x86, 32-bit, seed 0) over UTF-8, written below: fast, not
// cryptographic, and a pure function of the bytes, so every replica builds the same ring and
// sends a key to the same endpoint. It is not Envoy's xxHash64, so a key may land elsewhere than
// an Envoy gateway would send it.

import type { Endpoint } from '../endpoint.js';
import type { LoadBalancer } from './index.js';

/** Envoy's and Istio's default minimum ring size. */
export const DEFAULT_MINIMUM_RING_SIZE = 1024;
/** Envoy's default maximum ring size: bounds memory whatever the weights ask for. */
const MAXIMUM_RING_SIZE = 8 * 1024 * 1024;

export function createRingHash(
  endpoints: readonly Endpoint[],
  keys: readonly string[],
  minimumRingSize: number,
): LoadBalancer {
  const { points, owners } = buildRing(endpoints, keys, minimumRingSize);
  return {
    pick({ hashKey, exclude }) {
      const position = hashKey === undefined ? Math.floor(Math.random() * 0x1_0000_0000) : murmurHash3(hashKey);
      let at = firstPointAtOrAfter(points, position);
      for (let walked = 0; walked < points.length; walked++) {
        const owner = owners[at] as number;
        if (exclude === undefined || !exclude.has(keys[owner] as string)) return endpoints[owner];
        at = at + 1 === points.length ? 0 : at + 1;
      }
      return undefined;
    },
  };
}

function buildRing(
  endpoints: readonly Endpoint[],
  keys: readonly string[],
  minimumRingSize: number,
): { points: Uint32Array; owners: Uint32Array } {
  // Envoy's sizing gives the lightest endpoint its share of minimumRingSize points; rounding
  // that up to a power of two keeps each endpoint's points unchanged while endpoints come and
  // go (until their count crosses a power of two), so that adding one moves only the keys it
  // takes over. The ring stays at least minimumRingSize points, at most Envoy's maximum.
  const totalWeight = endpoints.reduce((sum, endpoint) => sum + endpoint.weight, 0);
  const lightest = endpoints.reduce((min, endpoint) => Math.min(min, endpoint.weight), Infinity);
  const lightestPoints = 2 ** Math.ceil(Math.log2(Math.ceil((lightest / totalWeight) * minimumRingSize)));
  const pointsPerWeight = Math.min(lightestPoints / lightest, MAXIMUM_RING_SIZE / totalWeight);
  const counts = endpoints.map((endpoint) => Math.max(1, Math.round(pointsPerWeight * endpoint.weight)));
  const size = counts.reduce((sum, count) => sum + count, 0);
  const unsortedPoints = new Uint32Array(size);
  const unsortedOwners = new Uint32Array(size);
  let filled = 0;
  counts.forEach((count, owner) => {
    for (let replica = 0; replica < count; replica++, filled++) {
      unsortedPoints[filled] = murmurHash3(`${keys[owner] as string}_${replica}`);
      unsortedOwners[filled] = owner;
    }
  });
  // Ties between points broken by key, so that the ring does not depend on endpoint order.
  const order = Uint32Array.from(unsortedPoints.keys()).sort((x, y) => {
    const byPoint = (unsortedPoints[x] as number) - (unsortedPoints[y] as number);
    if (byPoint !== 0) return byPoint;
    return (keys[unsortedOwners[x] as number] as string) < (keys[unsortedOwners[y] as number] as string) ? -1 : 1;
  });
  return {
    points: order.map((index) => unsortedPoints[index] as number),
    owners: order.map((index) => unsortedOwners[index] as number),
  };
}

/** Index of the first point >= position, wrapping to 0 past the end. */
function firstPointAtOrAfter(points: Uint32Array, position: number): number {
  let low = 0;
  let high = points.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((points[middle] as number) < position) low = middle + 1;
    else high = middle;
  }
  return low === points.length ? 0 : low;
}

/** MurmurHash3 x86_32 of the UTF-8 bytes of text, seed 0, as an unsigned 32-bit number. */
export function murmurHash3(text: string): number {
  // One byte per char: ASCII as it is, anything else through its UTF-8 bytes.
  const bytes = Buffer.byteLength(text, 'utf8') === text.length ? text : Buffer.from(text, 'utf8').toString('latin1');
  const length = bytes.length;
  const blocksEnd = length & ~3;
  let hash = 0;
  for (let i = 0; i < blocksEnd; i += 4) {
    let k =
      bytes.charCodeAt(i) |
      (bytes.charCodeAt(i + 1) << 8) |
      (bytes.charCodeAt(i + 2) << 16) |
      (bytes.charCodeAt(i + 3) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    hash ^= k;
    hash = (hash << 13) | (hash >>> 19);
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = bytes.charCodeAt(blocksEnd);
    if (tail > 1) k |= bytes.charCodeAt(blocksEnd + 1) << 8;
    if (tail > 2) k |= bytes.charCodeAt(blocksEnd + 2) << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    hash ^= k;
  }
  hash ^= length;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
