// Equal config compiles to equal pieces (a retry policy, a header edit, a match condition), and
// many routes repeat them. One compile builds each such piece once, under a key that names
// everything it depends on, and every route that repeats it shares it. Compiled pieces are
// immutable, so sharing them changes nothing but memory. One interner lives for one compile: a
// reload starts empty, and nothing outlives the snapshot that uses it.

export interface Interner {
  /** The piece built for `key` earlier in this compile, or `build()` kept under it. */
  intern<T>(key: string, build: () => T): T;
}

export function createInterner(): Interner {
  const pieces = new Map<string, unknown>();
  return {
    intern<T>(key: string, build: () => T): T {
      if (pieces.has(key)) return pieces.get(key) as T;
      const piece = build();
      pieces.set(key, piece);
      return piece;
    },
  };
}

/** For callers outside a compile (tests, one-off matchers): builds every time, shares nothing. */
export const noInterning: Interner = { intern: (_key, build) => build() };
