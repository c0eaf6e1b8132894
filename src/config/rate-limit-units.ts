// The window units of a RateLimitPolicy limit; the schema's enum is built from these names, and
// the filter reads the seconds without loading zod.

export const rateLimitUnits = { Second: 1, Minute: 60, Hour: 3600, Day: 86400 } as const;
export type RateLimitUnit = keyof typeof rateLimitUnits;
export const rateLimitUnitNames = Object.keys(rateLimitUnits) as [RateLimitUnit, ...RateLimitUnit[]];
