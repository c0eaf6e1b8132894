import { z } from 'zod';
import { addCodedIssue, integer, whenObject } from './common.js';
import { regexProblem } from '../../routing/regex.js';
import { parseCidr } from '../cidr.js';
import { rateLimitUnitNames } from '../rate-limit-units.js';

// RateLimitPolicy (meshgate.dev/v1alpha1, meshgate's own kind: Istio has no rate-limit API and
// leaves it to EnvoyFilters). Shaped like Envoy Gateway's BackendTrafficPolicy `rateLimit`
// (rules of client selectors and a limit, Local or Global) and attached the way Istio's newer
// policies are, by `targetRefs`: a Gateway, a VirtualService, or one named http route of it.

const TargetRef = z.strictObject({
  group: z.literal('networking.istio.io').default('networking.istio.io'),
  kind: z.enum(['Gateway', 'VirtualService']),
  /** The resource's name, in the policy's namespace. */
  name: z.string().min(1),
  /** VirtualService only: the `name` of one of its http routes. */
  sectionName: z.string().min(1).optional(),
});
export type RateLimitTargetRef = z.output<typeof TargetRef>;

/** Envoy Gateway's header selector: Exact, RegularExpression (RE2, whole value) or Distinct (a bucket per value). */
const HeaderMatch = z
  .strictObject({
    name: z.string().min(1).transform((name) => name.toLowerCase()),
    type: z.enum(['Exact', 'RegularExpression', 'Distinct']).default('Exact'),
    value: z.string().optional(),
    /** Selects requests that do NOT match (Exact and RegularExpression only). */
    invert: z.boolean().default(false),
  })
  .check(
    z.superRefine((header, ctx) => {
      if (header.type === 'Distinct') {
        if (header.value !== undefined) addCodedIssue(ctx, 'MG_ERR_CONFIG_ONEOF', 'a Distinct header takes no value: every value gets its own bucket', ['value']);
        if (header.invert) addCodedIssue(ctx, 'MG_ERR_CONFIG_ONEOF', 'a Distinct header cannot be inverted', ['invert']);
      } else if (header.value === undefined) {
        addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', `a ${String(header.type)} header needs a value`, ['value']);
      } else if (header.type === 'RegularExpression') {
        const problem = regexProblem(header.value);
        if (problem !== undefined) addCodedIssue(ctx, 'MG_ERR_CONFIG_REGEX', `expected an RE2 regular expression: ${problem}`, ['value']);
      }
    }, whenObject),
  );
export type RateLimitHeaderMatch = z.output<typeof HeaderMatch>;

/** A CIDR ("10.0.0.0/8") or a single address; Distinct gives each client address in it a bucket. */
const SourceMatch = z
  .strictObject({
    type: z.enum(['Exact', 'Distinct']).default('Exact'),
    value: z.string(),
  })
  .check(
    z.superRefine((source, ctx) => {
      if (typeof source.value === 'string' && parseCidr(source.value) === undefined) {
        addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', `expected an IP address or CIDR like "10.0.0.0/8", got ${JSON.stringify(source.value)}`, ['value']);
      }
    }, whenObject),
  );
export type RateLimitSourceMatch = z.output<typeof SourceMatch>;

const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;

const ClientSelector = z.strictObject({
  headers: z.array(HeaderMatch).optional(),
  sourceCIDR: SourceMatch.optional(),
  methods: z.array(z.enum(methods)).min(1).optional(),
  path: z
    .strictObject({ type: z.literal('PathPrefix').default('PathPrefix'), value: z.string() })
    .check(
      z.superRefine((path, ctx) => {
        if (typeof path.value === 'string' && !path.value.startsWith('/')) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', `a path prefix starts with "/", got ${JSON.stringify(path.value)}`, ['value']);
      }, whenObject),
    )
    .optional(),
});
export type RateLimitClientSelector = z.output<typeof ClientSelector>;

const Rule = z.strictObject({
  /** Every selector must hold for the rule to count a request; none: every request of the target. */
  clientSelectors: z.array(ClientSelector).optional(),
  limit: z.strictObject({
    requests: integer(1, 1_000_000_000),
    unit: z.enum(rateLimitUnitNames),
    /** Requests a client may take above `requests` after a quiet period (meshgate's; see README). */
    burst: integer(0, 1_000_000_000).default(0),
  }),
  /** Count and log what would be limited, but let it through. */
  shadowMode: z.boolean().default(false),
});
export type RateLimitRule = z.output<typeof Rule>;

export const RateLimitPolicySpec = z.strictObject({
  targetRefs: z.array(TargetRef).min(1),
  /** Local: this gateway instance (all its workers together). Global: every instance sharing the Redis of MeshConfig. */
  type: z.enum(['Local', 'Global']).default('Local'),
  rules: z.array(Rule).min(1),
});
export type RateLimitPolicySpec = z.output<typeof RateLimitPolicySpec>;
