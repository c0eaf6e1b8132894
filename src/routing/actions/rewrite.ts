import RE2 from 're2';

// Istio's HTTPRewrite as Envoy carries it out. Istio turns `uri` into Envoy's prefix_rewrite
// whatever the match (route.go applyHTTPRouteDestination), and Envoy swaps the *matched* part:
// the prefix for a prefix match, the whole path for an exact or regex match, which for a
// VirtualService means the whole path (query kept). `uriRegexRewrite` is Envoy's
// regex_rewrite: every match in the path (query excluded) is substituted, `\1` naming a group.

export interface HttpRewriteSpec {
  uri?: string;
  authority?: string;
  uriRegexRewrite?: { match: string; rewrite: string };
}

export interface Rewritten {
  readonly path: string;
  readonly authority: string;
}

/**
 * @param matchedPrefix the prefix the route matched with (`/` for a match without a `uri`
 *   condition, as Istio translates it); undefined for an exact or regex `uri` match.
 * @returns a function from the request's path (with its query) and authority to the rewritten pair.
 */
export function compileRewrite(
  spec: HttpRewriteSpec,
  matchedPrefix: string | undefined,
): (path: string, authority: string) => Rewritten {
  const rewritePath = compilePathRewrite(spec, matchedPrefix);
  const newAuthority = spec.authority || undefined;
  return (path, authority) => ({ path: rewritePath(path), authority: newAuthority ?? authority });
}

function compilePathRewrite(spec: HttpRewriteSpec, matchedPrefix: string | undefined): (path: string) => string {
  const regexRewrite = spec.uriRegexRewrite;
  if (regexRewrite !== undefined) {
    // Global and unanchored, as RE2::GlobalReplace in Envoy.
    const pattern = new RE2(regexRewrite.match, 'gu');
    const replacement = toReplacementString(regexRewrite.rewrite);
    return (path) => {
      const queryAt = path.indexOf('?');
      if (queryAt === -1) return path.replace(pattern, replacement);
      return path.slice(0, queryAt).replace(pattern, replacement) + path.slice(queryAt);
    };
  }
  const uri = spec.uri;
  if (!uri) return (path) => path;
  if (matchedPrefix !== undefined) {
    const cut = matchedPrefix.length;
    return (path) => uri + path.slice(cut);
  }
  return (path) => {
    const queryAt = path.indexOf('?');
    return queryAt === -1 ? uri : uri + path.slice(queryAt);
  };
}

/**
 * Envoy's substitution syntax (`\0`..`\9` for groups, `\\` for a backslash) as the replacement
 * string String#replace understands (`$&`, `$1`.., `$$`), so the request path never runs code.
 */
function toReplacementString(substitution: string): string {
  let out = '';
  for (let i = 0; i < substitution.length; i++) {
    const char = substitution[i]!;
    const next = substitution[i + 1];
    if (char === '\\' && next !== undefined && next >= '0' && next <= '9') {
      // Two-digit `$01` so that a literal digit after the group stays literal.
      out += next === '0' ? '$&' : `$0${next}`;
      i++;
    } else if (char === '\\' && next === '\\') {
      out += '\\';
      i++;
    } else if (char === '$') {
      out += '$$';
    } else {
      out += char;
    }
  }
  return out;
}
