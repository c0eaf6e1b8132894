import type { ResponseFlag } from '../errors.js';

// %RESPONSE_FLAGS% as a metric label: "-" for none, one flag as it is, several comma-separated
// in Envoy's order (ResponseFlagUtils), as Istio's response_flags label shows them. The common
// cases return a constant, so the request path builds no string.

const envoyOrder: readonly ResponseFlag[] = ['UH', 'UT', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'DC', 'URX', 'UPE'];

export function responseFlagsLabel(flag: ResponseFlag | undefined, extra?: ResponseFlag, delayed = false): string {
  if (extra === undefined && !delayed) return flag ?? '-';
  const flags = [flag, extra, delayed ? ('DI' as const) : undefined].filter((f): f is ResponseFlag => f !== undefined);
  if (flags.length === 1) return flags[0]!;
  return flags.sort((a, b) => envoyOrder.indexOf(a) - envoyOrder.indexOf(b)).join(',');
}
