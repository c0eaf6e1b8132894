// Kept apart from the schemas so the data plane reads it without loading zod.

/** Istio writes "unlimited" connection-pool limits as 2^32-1. */
export const unlimited = 4294967295;
