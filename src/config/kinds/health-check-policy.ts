import { z } from 'zod';
import { addCodedIssue, duration, integer, portNumber, serviceHost, subsetName, whenObject } from './common.js';

// HealthCheckPolicy (meshgate.dev/v1alpha1, meshgate's own kind: Istio has no active health
// checks at a gateway): probes the endpoints of one service host (a port, a subset) and takes
// the failing ones out of load balancing. Named and shaped like the Istio kinds; the defaults
// are Envoy's where Envoy has one.

/** One expected status ("200") or an inclusive range ("200-399"). */
const statusRange = z.union([integer(100, 599), z.string()]).transform((value, ctx): [number, number] => {
  if (typeof value === 'number') return [value, value];
  const match = /^(\d{3})(?:-(\d{3}))?$/.exec(value.trim());
  const from = Number(match?.[1]);
  const to = match?.[2] === undefined ? from : Number(match[2]);
  if (match === null || from < 100 || to > 599 || to < from) {
    addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', `expected a status code like 200 or a range like "200-399", got ${JSON.stringify(value)}`);
    return z.NEVER;
  }
  return [from, to];
});

export const HealthCheckPolicySpec = z
  .strictObject({
    /** The service host whose endpoints are checked, as a route destination names it. */
    host: serviceHost,
    /** Only the cluster of this service port; all of the host's ports when absent. */
    port: z.strictObject({ number: portNumber }).optional(),
    /** Only the cluster of this subset; every subset (and none) when absent. */
    subset: subsetName.optional(),
    path: z.string().default('/'),
    interval: duration.default(10_000),
    timeout: duration.default(1_000),
    healthyThreshold: integer(1, 1000).default(1),
    unhealthyThreshold: integer(1, 1000).default(3),
    /** Envoy's default: 200 only. */
    expectedStatuses: z.array(statusRange).min(1).default([[200, 200]]),
  })
  .check(
    z.superRefine((spec, ctx) => {
      if (typeof spec.path === 'string' && !spec.path.startsWith('/')) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', `path must start with "/", got ${JSON.stringify(spec.path)}`, ['path']);
      if (typeof spec.interval === 'number' && spec.interval <= 0) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', 'interval must be more than 0', ['interval']);
      if (typeof spec.timeout === 'number' && spec.timeout <= 0) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', 'timeout must be more than 0', ['timeout']);
    }, whenObject),
  );
export type HealthCheckPolicySpec = z.output<typeof HealthCheckPolicySpec>;
