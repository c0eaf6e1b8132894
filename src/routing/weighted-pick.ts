// Weighted choice between a route's destinations, as Istio defines HTTPRouteDestination.weight:
// a destination receives weight / (sum of weights) of the traffic; a lone destination receives
// all of it whatever its weight (it may be omitted); weight 0 receives none.

export interface WeightedChoice<T> {
  /** Omitted counts as 0, except for a lone choice. */
  readonly weight?: number;
  readonly value: T;
}

/**
 * Returns a picker that draws one value per call. Cumulative weights are computed here; a pick is
 * one call to `random` (a number in [0, 1)) and a binary search, with no allocation.
 * Throws when there is no choice, a weight is negative or not finite, or several choices weigh 0 in all.
 */
export function createWeightedPicker<T>(choices: readonly WeightedChoice<T>[], random: () => number = Math.random): () => T {
  if (choices.length === 0) throw new RangeError('a weighted pick needs at least one choice');
  if (choices.length === 1) return always((choices[0] as WeightedChoice<T>).value);

  const values: T[] = [];
  const cumulative: number[] = [];
  let total = 0;
  for (const [index, choice] of choices.entries()) {
    const weight = choice.weight ?? 0;
    if (!Number.isFinite(weight) || weight < 0) throw new RangeError(`choice ${index} has weight ${weight}; weights are finite and >= 0`);
    // istiod leaves weight-0 destinations out of Envoy's weighted clusters.
    if (weight === 0) continue;
    total += weight;
    values.push(choice.value);
    cumulative.push(total);
  }
  if (values.length === 0) throw new RangeError(`all ${choices.length} choices have weight 0; at least one must carry traffic`);
  if (values.length === 1) return always(values[0] as T);

  const last = cumulative.length - 1;
  // Copies are exactly as long as their contents; the arrays pushed to keep spare room.
  const kept = values.slice();
  const bounds = cumulative.slice();
  return () => {
    const point = random() * total;
    // The first choice whose cumulative weight exceeds the point.
    let low = 0;
    let high = last;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((bounds[mid] as number) > point) high = mid;
      else low = mid + 1;
    }
    return kept[low] as T;
  };
}

function always<T>(value: T): () => T {
  return () => value;
}
