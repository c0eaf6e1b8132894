// Percent-driven decisions (fault injection, mirroring): one Math.random() per decision, and
// none at all when the outcome is certain, so 0% and 100% cost nothing per request.

/** True with probability `chance` (a fraction of 1: Istio's percentage / 100). */
export function drawn(chance: number): boolean {
  return chance >= 1 || (chance > 0 && Math.random() < chance);
}
