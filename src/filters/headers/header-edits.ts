import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

// Istio's `headers.request` / `headers.response` as Envoy applies them (Istio route.go
// TranslateHeadersOperations, Envoy HeaderParser::evaluateHeaders):
// - every `remove` first, then `set` (replace) and `add` (append) in that order, each sorted
//   by name, as Istio emits them;
// - route level and then destination level form one list (Istio appends the destination's
//   operations to the route's for a single destination), so a destination `set` wins;
// - names are case-insensitive; pseudo-headers and `host` are never edited here: Istio makes a
//   `host`/`:authority` in `set`/`add` the upstream authority (see requestAuthority);
// - an empty value is skipped, as Envoy skips empty custom header values.

export interface HeaderOperationsSpec {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface HeadersSpec {
  request?: HeaderOperationsSpec;
  response?: HeaderOperationsSpec;
}

type HeaderBag = OutgoingHttpHeaders | IncomingHttpHeaders;

interface HeaderWrite {
  readonly name: string;
  readonly value: string;
  readonly append: boolean;
}

const noEdits = (): void => {};

/**
 * Compiles one or more levels of operations (route first, then destination) into one edit.
 * Header objects are keyed by lower-case name, as node and undici keep them.
 */
export function compileHeaderOperations(
  ...levels: (HeaderOperationsSpec | undefined)[]
): (headers: HeaderBag) => void {
  const removals: string[] = [];
  const writes: HeaderWrite[] = [];
  for (const level of levels) {
    if (level === undefined) continue;
    for (const name of level.remove ?? []) {
      const lower = name.toLowerCase();
      if (!isInternal(lower)) removals.push(lower);
    }
    writes.push(...headerWrites(level.set, false), ...headerWrites(level.add, true));
  }
  if (removals.length === 0 && writes.length === 0) return noEdits;
  Object.freeze(removals);
  Object.freeze(writes);

  return (headers) => {
    for (const name of removals) delete headers[name];
    for (const { name, value, append } of writes) {
      const current = headers[name];
      if (!append || current === undefined) {
        headers[name] = value;
      } else {
        headers[name] = Array.isArray(current) ? [...current, value] : [String(current), value];
      }
    }
  };
}

/**
 * The authority Istio rewrites to from a `host` or `:authority` entry of `request.set` (or,
 * failing that, `request.add`); undefined when there is none.
 */
export function requestAuthority(spec: HeaderOperationsSpec | undefined): string | undefined {
  return authorityIn(spec?.set) ?? authorityIn(spec?.add);
}

function authorityIn(entries: Record<string, string> | undefined): string | undefined {
  let authority: string | undefined;
  for (const [name, value] of Object.entries(entries ?? {})) {
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === ':authority') authority = value;
  }
  return authority;
}

function headerWrites(entries: Record<string, string> | undefined, append: boolean): HeaderWrite[] {
  const writes: HeaderWrite[] = [];
  for (const [name, value] of Object.entries(entries ?? {})) {
    const lower = name.toLowerCase();
    if (isInternal(lower) || value === '') continue;
    writes.push(Object.freeze({ name: lower, value, append }));
  }
  return writes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function isInternal(lowerName: string): boolean {
  return lowerName.startsWith(':') || lowerName === 'host';
}
