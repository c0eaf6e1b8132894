import type { ResponseFlag } from '../errors.js';

// %RESPONSE_FLAGS%, for the access log and Istio's response_flags label alike: "-" for none, one
// flag as it is, several comma-separated in Envoy's order (ResponseFlagUtils). The common cases
// return a constant, so the request path builds no string.

const envoyOrder: readonly ResponseFlag[] = ['UH', 'UT', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'RLSE', 'DC', 'URX', 'UPE'];

const rank = (flag: ResponseFlag) => {
  const index = envoyOrder.indexOf(flag);
  return index === -1 ? envoyOrder.length : index;
};

/** Flags given in any order, as Envoy prints them. */
export function flagsText(flags: readonly ResponseFlag[] | undefined): string {
  if (flags === undefined || flags.length === 0) return '-';
  if (flags.length === 1) return flags[0]!;
  return [...flags].sort((a, b) => rank(a) - rank(b)).join(',');
}

/** A request's flags: its outcome's, a retry's second flag, and DI when fault injection delayed it. */
export function responseFlagsLabel(flag: ResponseFlag | undefined, extra?: ResponseFlag, delayed = false): string {
  if (extra === undefined && !delayed) return flag ?? '-';
  return flagsText([flag, extra, delayed ? ('DI' as const) : undefined].filter((f): f is ResponseFlag => f !== undefined));
}
