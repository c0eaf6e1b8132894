import type { Destination, HTTPRoute } from './kinds/virtual-service.js';
import type { FieldPath } from './issue.js';
import type { MirrorPolicy } from '../upstream/mirror.js';

// Istio's `mirror` with `mirrorPercentage` (or the deprecated integer `mirrorPercent`), and
// `mirrors[]` each with its own `percentage`, as the copies a route sends. As istiod does: an
// absent percentage is 100, an explicit 0 (or a percentage without a value) mirrors nothing, and
// a mirror that never sends needs no cluster.

/** `clusterOf` resolves a mirror destination to its cluster (reporting port problems at `path`). */
export function compileMirrorPolicies(
  http: HTTPRoute,
  clusterOf: (destination: Destination, path: FieldPath) => string,
): readonly MirrorPolicy[] {
  const policies: MirrorPolicy[] = [];
  const add = (destination: Destination, percent: number, path: FieldPath) => {
    if (percent > 0) policies.push(Object.freeze({ cluster: clusterOf(destination, path), chance: percent / 100 }));
  };
  if (http.mirror !== undefined) {
    const percent = http.mirrorPercentage !== undefined ? (http.mirrorPercentage.value ?? 0) : (http.mirrorPercent ?? 100);
    add(http.mirror, percent, ['mirror']);
  }
  http.mirrors?.forEach((mirror, index) => {
    add(mirror.destination, mirror.percentage === undefined ? 100 : (mirror.percentage.value ?? 0), ['mirrors', index, 'destination']);
  });
  return Object.freeze(policies);
}
