import { compileFullMatchRegex } from './regex.js';

// Istio's StringMatch, as istiod hands it to Envoy's StringMatcher: exact, prefix, or an RE2
// regex that must match the whole value. Compiled once; the returned closure allocates nothing.

/** Istio's StringMatch (networking/v1alpha3): exactly one of the three is set. */
export interface StringMatchSpec {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export type StringMatcher = (value: string) => boolean;

export interface StringMatchOptions {
  /**
   * ASCII case-insensitive exact and prefix comparison, as Envoy's StringMatcher.ignore_case and
   * RouteMatch.case_sensitive=false do. Neither applies to regexes, so this does not either.
   */
  ignoreCase?: boolean;
}

/**
 * True when istiod turns this StringMatch into a presence check: `{}` (no match type) or the
 * regex `*`. Istio does so for headers, withoutHeaders and queryParams (and method, authority,
 * scheme, which are pseudo-headers) - not for uri, where `{}` means "any path". Callers decide.
 */
export function isPresenceMatch(spec: StringMatchSpec): boolean {
  return spec.exact === undefined && spec.prefix === undefined && (spec.regex === undefined || spec.regex === '*');
}

/**
 * Compiles a StringMatch that names exactly one match type; throws otherwise, since what an empty
 * StringMatch means depends on the field (see isPresenceMatch). Throws RE2's error for a bad regex.
 */
export function compileStringMatch(spec: StringMatchSpec, options: StringMatchOptions = {}): StringMatcher {
  const kinds = (spec.exact === undefined ? 0 : 1) + (spec.prefix === undefined ? 0 : 1) + (spec.regex === undefined ? 0 : 1);
  if (kinds !== 1) {
    throw new TypeError(
      `a StringMatch needs exactly one of exact, prefix, regex (got ${kinds}); whether an empty one means "present" is the caller's call`,
    );
  }
  const ignoreCase = options.ignoreCase === true;
  if (spec.exact !== undefined) {
    const expected = ignoreCase ? lowerAsciiOnly(spec.exact) : spec.exact;
    return ignoreCase ? (value) => equalsIgnoreAsciiCase(value, expected) : (value) => value === expected;
  }
  if (spec.prefix !== undefined) {
    const prefix = ignoreCase ? lowerAsciiOnly(spec.prefix) : spec.prefix;
    return ignoreCase ? (value) => startsWithIgnoreAsciiCase(value, prefix) : (value) => value.startsWith(prefix);
  }
  const regex = compileFullMatchRegex(spec.regex as string);
  return (value) => regex.test(value);
}

// Envoy folds ASCII only (absl::EqualsIgnoreCase); folding Unicode too would match more than it does.
function lowerAsciiOnly(value: string): string {
  return value.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function equalsIgnoreAsciiCase(value: string, lowerExpected: string): boolean {
  return value.length === lowerExpected.length && startsWithIgnoreAsciiCase(value, lowerExpected);
}

function startsWithIgnoreAsciiCase(value: string, lowerPrefix: string): boolean {
  if (value.length < lowerPrefix.length) return false;
  for (let i = 0; i < lowerPrefix.length; i++) {
    let c = value.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lowerPrefix.charCodeAt(i)) return false;
  }
  return true;
}
