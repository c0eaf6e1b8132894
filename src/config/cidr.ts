import { isIP } from 'node:net';

// Kept apart from the RateLimitPolicy schema so the rate-limit filter reads it without loading zod.

/** An address or CIDR as [address, prefix length]; undefined when it is neither. */
export function parseCidr(text: string): { address: string; bits: number; family: 4 | 6 } | undefined {
  const [address = '', prefix, extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : Number(prefix);
  if (!/^\d+$/.test(prefix ?? String(max)) || bits > max) return undefined;
  return { address, bits, family: family as 4 | 6 };
}
