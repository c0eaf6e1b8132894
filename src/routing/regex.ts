import RE2 from 're2';

// Istio hands regexes to Envoy's safe_regex: Google RE2 syntax, matched against the whole
// value, in linear time. The re2 addon is the same engine, so no request can make a route
// regex backtrack, and a pattern RE2 refuses (look-ahead, back-references) fails validation.
//
// A call into the addon copies the value into UTF-8 first, which costs more than most matches.
// A route table tries many regexes per request and most of them fail, so each compiled regex
// first checks the literal text every match must start with (as RE2 itself does) in JS.

export interface CompiledRegex {
  /** True when the pattern matches the whole value. */
  test(value: string): boolean;
}

/** Compiles a full-match RE2 regex; throws an Error whose message says why RE2 refused it. */
export function compileFullMatchRegex(pattern: string, ignoreCase = false): CompiledRegex {
  // Only a `)` can close the anchoring group early, as in `a)|(b`: such a pattern is compiled
  // bare first, which refuses it when it is unbalanced. Without one, the anchored compile alone
  // refuses what the bare one would, and each RE2 object holds kilobytes of native memory.
  if (pattern.includes(')')) new RE2(pattern, 'u');
  return compileAnchored(pattern, ignoreCase);
}

/** Returns RE2's complaint about a pattern, or undefined when it compiles. */
export function regexProblem(pattern: string): string | undefined {
  try {
    // Bare first, always, so that the complaint quotes the pattern as it was written.
    new RE2(pattern, 'u');
    compileAnchored(pattern, false);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function compileAnchored(pattern: string, ignoreCase: boolean): CompiledRegex {
  const engine = new RE2(`^(?:${pattern})$`, ignoreCase ? 'iu' : 'u');
  const prefix = ignoreCase ? '' : requiredLiteralPrefix(pattern);
  if (prefix === '') return { test: (value) => engine.test(value) };
  return { test: (value) => value.startsWith(prefix) && engine.test(value) };
}

const metacharacters = new Set(['\\', '.', '[', ']', '(', ')', '{', '}', '*', '+', '?', '^', '$', '|']);
const makesPreviousOptional = new Set(['*', '?', '{']);

/**
 * The plain characters every whole-value match of `pattern` starts with: its leading literal
 * run, less the last character when a `*`, `?` or `{m,n}` makes that one optional. '' when
 * the pattern has an alternation anywhere (a branch may start differently) or starts with a
 * metacharacter. Conservative by construction: it may say less than RE2 knows, never more.
 */
export function requiredLiteralPrefix(pattern: string): string {
  if (pattern.includes('|')) return '';
  let end = 0;
  while (end < pattern.length && !metacharacters.has(pattern[end]!)) end++;
  if (end < pattern.length && makesPreviousOptional.has(pattern[end]!)) end--;
  // A surrogate pair cut in half is no prefix of anything.
  const last = pattern.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--;
  return pattern.slice(0, Math.max(end, 0));
}
