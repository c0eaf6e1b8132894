// Go's duration strings, parsed without zod so the CLI and workers can read them cheaply.

const millisecondsPerUnit: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration grammar ("1.5s", "250ms", "1m30s", "1h", "500us"), in milliseconds; negative is refused. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let position = 0;
  if (text.length === 0) return undefined;
  while (position < text.length) {
    part.lastIndex = position;
    const match = part.exec(text);
    if (match === null) return undefined;
    total += Number(match[1]) * (millisecondsPerUnit[match[2] as string] as number);
    position = part.lastIndex;
  }
  // Sub-millisecond units leave binary fractions; a nanosecond is the finest Go step.
  return Math.round(total * 1e6) / 1e6;
}
