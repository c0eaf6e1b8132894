import { isIP } from 'node:net';
import { z } from 'zod';
import type { ConfigErrorCode } from '../../errors.js';
import { regexProblem } from '../../routing/regex.js';
import { parseDuration } from '../duration.js';

// Schema parts more than one Istio kind uses. Refinements report their own error code through
// the zod issue's params, which validate.ts turns into a ConfigIssue.

/** Adds a custom zod issue carrying one of meshgate's config codes. */
export function addCodedIssue(
  ctx: z.RefinementCtx,
  code: ConfigErrorCode,
  message: string,
  path: (string | number)[] = [],
): void {
  ctx.addIssue({ code: 'custom', message, path, params: { code } });
}

/**
 * An integer in [min, max]. Written as a refinement because zod's own .int() aborts the parse,
 * which would hide every other problem in the same resource.
 */
export function integer(min: number, max: number) {
  return z.number().superRefine((value, ctx) => {
    if (!Number.isInteger(value)) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_TYPE', `expected an integer, got ${value}`);
    else if (value < min || value > max) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', `expected an integer from ${min} to ${max}, got ${value}`);
  });
}

export const int32 = integer(-2147483648, 2147483647);
export const uint32 = integer(0, 4294967295);
export const uint64 = integer(0, Number.MAX_SAFE_INTEGER);
export const portNumber = integer(1, 65535);
export const stringList = z.array(z.string());
export const labelMap = z.record(z.string(), z.string());
/** A duration string validated into milliseconds; a bare number is refused for want of a unit. */
export const duration = z.union([z.string(), z.number()]).transform((text, ctx) => {
  const milliseconds = typeof text === 'string' ? parseDuration(text) : undefined;
  if (milliseconds === undefined) {
    addCodedIssue(ctx, 'MG_ERR_CONFIG_DURATION', `expected a duration with a unit such as "1.5s", "250ms" or "1m30s", got ${JSON.stringify(text)}`);
    return z.NEVER;
  }
  return milliseconds;
});

/** Istio's ValidateDuration for the named duration fields of an object: when set, at least 1ms. */
export function atLeastOneMillisecond(fields: readonly string[]) {
  return z.superRefine((value: object, ctx) => {
    for (const field of fields) {
      const ms = (value as Record<string, unknown>)[field];
      if (typeof ms === 'number' && ms < 1) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', `${field} must be at least 1ms`, [field]);
    }
  }, whenObject);
}

/**
 * Lets an object-level check run even when some fields failed (zod skips refinements of an
 * invalid object by default), as long as there is an object to check.
 */
export const whenObject = { when: (payload: { value: unknown }) => typeof payload.value === 'object' && payload.value !== null };

/**
 * Fields of a protobuf oneof: at most one may be set (exactly one when required). The check
 * runs even when other fields of the object failed, so every problem is reported at once.
 */
export function oneOf(fields: readonly string[], options: { required?: boolean } = {}) {
  return z.superRefine(
    (value: object, ctx) => {
      const record = value as Record<string, unknown>;
      const present = fields.filter((field) => record[field] !== undefined);
      if (present.length > 1) {
        addCodedIssue(
          ctx,
          'MG_ERR_CONFIG_ONEOF',
          `only one of ${fields.join(', ')} may be set, found ${present.join(' and ')}`,
          [present[1] as string],
        );
      } else if (present.length === 0 && options.required === true) {
        addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', `one of ${fields.join(', ')} is required`);
      }
    },
    whenObject,
  );
}

/** A string field holding an RE2 regular expression (full match, as Envoy's safe_regex). */
export const regex = z.string().superRefine((pattern, ctx) => {
  const problem = regexProblem(pattern);
  if (problem !== undefined) addCodedIssue(ctx, 'MG_ERR_CONFIG_REGEX', `expected an RE2 regular expression: ${problem}`);
});

// An empty StringMatch is allowed: in a header or query match it means "present with any value".
export const StringMatch = z
  .strictObject({ exact: z.string().optional(), prefix: z.string().optional(), regex: regex.optional() })
  .check(oneOf(['exact', 'prefix', 'regex']));
export type StringMatch = z.output<typeof StringMatch>;

export const Percent = z.strictObject({ value: z.number().min(0).max(100).optional() });
export type Percent = z.output<typeof Percent>;

export const PortSelector = z.strictObject({ number: portNumber.optional() });
export type PortSelector = z.output<typeof PortSelector>;

const dnsLabel = /^[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?$/;
const wildcardLabel = /^(?:\*|\*-?[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?|[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?)$/;

export function isDnsLabel(text: string): boolean {
  return text.length <= 63 && dnsLabel.test(text);
}

/**
 * Istio's ValidateWildcardDomain: DNS-1123 labels, a wildcard only in the first label, at most
 * 255 characters, a top-level domain that is not all digits, an optional trailing dot.
 */
export function wildcardDomainProblem(host: string): string | undefined {
  if (host.length === 0) return 'a host name cannot be empty';
  if (host.length > 255) return `host name ${JSON.stringify(host)} is longer than 255 characters`;
  const labels = host.split('.');
  const last = labels[labels.length - 1] as string;
  if (labels.length > 1 && /^\d+$/.test(last)) return `host name ${JSON.stringify(host)} has an all-numeric top-level domain`;
  for (const [index, label] of labels.entries()) {
    if (index === labels.length - 1 && label === '' && index > 0) break;
    const valid = label.length <= 63 && (index === 0 ? wildcardLabel : dnsLabel).test(label);
    if (!valid) return `host name ${JSON.stringify(host)} has an invalid label ${JSON.stringify(label)} (expected letters, digits and '-', a wildcard only as the first label)`;
  }
  return undefined;
}

type HostRule = 'wildcard-or-ip' | 'no-star' | 'any';

function hostSchema(rule: HostRule) {
  return z.string().superRefine((host, ctx) => {
    if (rule === 'no-star' && host === '*') {
      addCodedIssue(ctx, 'MG_ERR_CONFIG_HOST', 'expected a host name; "*" is not allowed here');
      return;
    }
    if (rule === 'wildcard-or-ip' && isIP(host) !== 0) return;
    const problem = wildcardDomainProblem(host);
    if (problem !== undefined) addCodedIssue(ctx, 'MG_ERR_CONFIG_HOST', problem);
  });
}

/** VirtualService hosts: a (wildcard) DNS name, '*', a short name or an IP address. */
export const routeHost = hostSchema('wildcard-or-ip');
/** Destination and ServiceEntry hosts: a (wildcard) DNS name or short name, never '*' alone. */
export const serviceHost = hostSchema('no-star');
/** DestinationRule host: a (wildcard) DNS name or short name, '*' included. */
export const ruleHost = hostSchema('any');

/** exportTo entries: '.', '*', '~' or a namespace name. */
export const exportTo = z.array(
  z.string().superRefine((entry, ctx) => {
    if (entry === '.' || entry === '*' || entry === '~' || isDnsLabel(entry)) return;
    addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', `expected ".", "*", "~" or a namespace name, got ${JSON.stringify(entry)}`);
  }),
);

/** Subset names are DNS labels (Istio's validateSubsetName). */
export const subsetName = z.string().superRefine((name, ctx) => {
  if (!isDnsLabel(name)) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', `expected a subset name (a DNS label), got ${JSON.stringify(name)}`);
});

/** Upper-case enum accepted in any case, as Istio parses protocol names. */
function caseInsensitiveEnum<const Values extends readonly string[]>(values: Values) {
  return z.string().transform((text, ctx) => {
    const upper = text.toUpperCase();
    if (values.includes(upper)) return upper as Values[number];
    ctx.addIssue({ code: 'invalid_value', values: [...values], input: text, message: `expected one of ${values.join(', ')}, got ${JSON.stringify(text)}` });
    return z.NEVER;
  });
}

/** Port protocols Istio parses (protocol.Parse); anything else is "unsupported". */
const protocolNames = ['HTTP', 'HTTPS', 'HTTP2', 'GRPC', 'GRPC-WEB', 'HTTP_PROXY', 'TCP', 'TLS', 'UDP', 'MONGO', 'REDIS', 'MYSQL'] as const;
export const Protocol = caseInsensitiveEnum(protocolNames);
