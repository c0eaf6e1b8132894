import RE2 from 're2';

// Istio hands regexes to Envoy's safe_regex: Google RE2 syntax, matched against the whole
// value, in linear time. The re2 addon is the same engine, so no request can make a route
// regex backtrack, and a pattern RE2 refuses (look-ahead, back-references) fails validation.

export interface CompiledRegex {
  /** True when the pattern matches the whole value. */
  test(value: string): boolean;
  /** The engine object, for rewrites that substitute capture groups. */
  readonly engine: RE2;
}

/** Compiles a full-match RE2 regex; throws an Error whose message says why RE2 refused it. */
export function compileFullMatchRegex(pattern: string, ignoreCase = false): CompiledRegex {
  // Compiled bare first so that a pattern such as `a)|(b` cannot escape the anchoring group.
  new RE2(pattern, 'u');
  const engine = new RE2(`^(?:${pattern})$`, ignoreCase ? 'iu' : 'u');
  return { test: (value) => engine.test(value), engine };
}

/** Returns RE2's complaint about a pattern, or undefined when it compiles. */
export function regexProblem(pattern: string): string | undefined {
  try {
    compileFullMatchRegex(pattern);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
