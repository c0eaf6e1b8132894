import { BlockList } from 'node:net';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from '../../log.js';
import type { Resource } from '../../config/validate.js';
import type { RateLimitClientSelector, RateLimitPolicySpec, RateLimitRule } from '../../config/kinds/rate-limit-policy.js';
import { parseCidr } from '../../config/cidr.js';
import { rateLimitUnits } from '../../config/rate-limit-units.js';
import { compileFullMatchRegex } from '../../routing/regex.js';
import { sendLocalReply, type ForwardOutcome } from '../../upstream/local-reply.js';
import type { LimitSpec } from './limit-spec.js';
import { displayAddress } from '../../upstream/request-headers.js';
import type { RateLimitBackends } from './rate-limit-backends.js';

// The rate-limit filter of one route: the rules of the RateLimitPolicies that apply to it, each
// a set of client selectors and a limit. It runs after the route is chosen and before fault
// injection. A request counts against every rule whose selectors all hold (a bucket per
// distinct value where a selector says Distinct); the first rule over its limit answers 429 RL
// with Retry-After and the RateLimit headers (draft-ietf-httpapi-ratelimit-headers-09), unless
// the rule is in shadow mode, which only counts and logs.

/** Per policy, what its rules decided (in this worker; a reload that keeps the policy starts at 0). */
export interface RateLimitCounts {
  allowed: number;
  limited: number;
  /** Over the limit in shadow mode: let through. */
  shadowLimited: number;
  /** The backend (Redis, or the primary) did not answer: decided locally, or rejected with RLSE. */
  error: number;
}

export interface CompiledRateLimitRule {
  /** "namespace/name" of the policy. */
  readonly policy: string;
  readonly global: boolean;
  readonly shadow: boolean;
  readonly limit: LimitSpec;
  /** The RateLimit-Policy field value, and the name it gives the policy. */
  readonly quotaHeader: string;
  readonly headerName: string;
  readonly counts: RateLimitCounts;
  /** The request's bucket under this rule; undefined when a selector does not hold. */
  bucket(req: IncomingMessage, client: string): string | undefined;
}

export interface RateLimitFilter {
  readonly rules: readonly CompiledRateLimitRule[];
}

/** The counts of every policy a snapshot compiled, for metrics. */
export type RateLimitCounters = ReadonlyMap<string, RateLimitCounts>;

/** One line of `readRateLimitCounts`: the shape a labelled counter takes. */
export interface RateLimitCount {
  readonly policy: string;
  readonly decision: keyof RateLimitCounts;
  readonly count: number;
}

export function readRateLimitCounts(counters: RateLimitCounters): RateLimitCount[] {
  return [...counters].flatMap(([policy, counts]) => (Object.keys(counts) as (keyof RateLimitCounts)[]).map((decision) => ({ policy, decision, count: counts[decision] })));
}

/**
 * The rules of `policy` for one route. `route` names the route's buckets: as in Envoy Gateway,
 * a policy attached to a Gateway or a VirtualService gives each of its routes a bucket of its own.
 */
export function compileRateLimitRules(policy: Resource<RateLimitPolicySpec>, route: string, counts: RateLimitCounts): CompiledRateLimitRule[] {
  const name = `${policy.metadata.namespace}/${policy.metadata.name}`;
  return policy.spec.rules.map((rule, index) => {
    const windowSeconds = rateLimitUnits[rule.limit.unit];
    const headerName = `${policy.metadata.name}-${index}`;
    return Object.freeze({
      policy: name,
      global: policy.spec.type === 'Global',
      shadow: rule.shadowMode,
      limit: Object.freeze({
        id: `${name}/${index}@${route}/${rule.limit.requests}per${windowSeconds}s+${rule.limit.burst}`,
        requests: rule.limit.requests,
        windowSeconds,
        burst: rule.limit.burst,
        burstWindowSeconds: Math.max(1, Math.ceil((rule.limit.burst / rule.limit.requests) * windowSeconds)),
      }),
      quotaHeader: `"${headerName}";q=${rule.limit.requests + rule.limit.burst};w=${windowSeconds}`,
      headerName,
      counts,
      bucket: compileSelectors(rule),
    });
  });
}

type Selector = (req: IncomingMessage, client: string) => string | undefined;

/** Every selector must hold; the key joins what the Distinct ones saw. */
function compileSelectors(rule: RateLimitRule): CompiledRateLimitRule['bucket'] {
  const selectors = (rule.clientSelectors ?? []).flatMap(compileSelector);
  if (selectors.length === 0) return () => '-';
  return (req, client) => {
    let key = '-';
    for (const selector of selectors) {
      const part = selector(req, client);
      if (part === undefined) return undefined;
      if (part !== '') key += `|${part}`;
    }
    return key;
  };
}

function compileSelector(selector: RateLimitClientSelector): Selector[] {
  const out: Selector[] = [];
  if (selector.methods !== undefined) {
    const methods = new Set<string>(selector.methods);
    out.push((req) => (methods.has(req.method ?? '') ? '' : undefined));
  }
  if (selector.path !== undefined) {
    const prefix = selector.path.value;
    out.push((req) => ((req.url ?? '/').startsWith(prefix) ? '' : undefined));
  }
  if (selector.sourceCIDR !== undefined) {
    const cidr = parseCidr(selector.sourceCIDR.value)!;
    const block = new BlockList();
    block.addSubnet(cidr.address, cidr.bits, cidr.family === 4 ? 'ipv4' : 'ipv6');
    const distinct = selector.sourceCIDR.type === 'Distinct';
    out.push((_req, client) => {
      const ip = displayAddress(client) ?? '';
      if (ip === '' || !block.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4')) return undefined;
      return distinct ? `ip=${ip}` : '';
    });
  }
  for (const header of selector.headers ?? []) {
    const { name } = header;
    if (header.type === 'Distinct') {
      out.push((req) => {
        const value = headerValue(req, name);
        return value === undefined ? undefined : `${name}=${value}`;
      });
      continue;
    }
    const expected = header.value!;
    const regex = header.type === 'RegularExpression' ? compileFullMatchRegex(expected) : undefined;
    const invert = header.invert;
    out.push((req) => {
      const value = headerValue(req, name);
      const matches = value !== undefined && (regex === undefined ? value === expected : regex.test(value));
      return matches !== invert ? '' : undefined;
    });
  }
  return out;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export interface RateLimitRun {
  readonly backends: RateLimitBackends;
  readonly logger: Logger;
}

/** Shadow mode logs at most once a second per rule: the counts carry the rest. */
const shadowLogIntervalMs = 1000;
const lastShadowLog = new WeakMap<CompiledRateLimitRule, number>();

/** The gateway's own answer to a request the filter stops. */
export interface RateLimitRejection {
  readonly status: 429 | 500;
  readonly flag: 'RL' | 'RLSE';
  readonly body: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly detail: string;
}

const backendFailure: RateLimitRejection = Object.freeze({ status: 500, flag: 'RLSE', body: 'rate limit service error', detail: 'rate_limiter_error' });

/** Runs the filter: undefined to go on, or why the request stops (429 RL, or 500 RLSE with failClosed). */
export async function checkRateLimit(filter: RateLimitFilter, req: IncomingMessage, client: string, run: RateLimitRun): Promise<RateLimitRejection | undefined> {
  for (const rule of filter.rules) {
    const key = rule.bucket(req, client);
    if (key === undefined) continue;
    const consumed = await run.backends.consume(rule.limit, rule.global, key);
    const { counts } = rule;
    if (consumed.degraded === true || consumed.decision === 'error') counts.error++;
    if (consumed.decision === 'error') {
      if (rule.shadow) continue;
      return backendFailure;
    }
    if (consumed.decision === 'allowed') {
      counts.allowed++;
      continue;
    }
    if (rule.shadow) {
      counts.shadowLimited++;
      const now = Date.now();
      if (now - (lastShadowLog.get(rule) ?? 0) >= shadowLogIntervalMs) {
        lastShadowLog.set(rule, now);
        run.logger.info('rate limit exceeded in shadow mode; request let through', { policy: rule.policy, limit: rule.limit.id, bucket: key, shadowLimited: counts.shadowLimited });
      }
      continue;
    }
    counts.limited++;
    const resetSeconds = Math.max(1, Math.ceil(consumed.resetMs / 1000));
    return {
      status: 429,
      flag: 'RL',
      body: rule.global ? '' : 'local_rate_limited',
      headers: {
        'retry-after': String(resetSeconds),
        'ratelimit-policy': rule.quotaHeader,
        ratelimit: `"${rule.headerName}";r=${consumed.remaining};t=${resetSeconds}`,
      },
      detail: rule.global ? 'request_rate_limited' : 'local_rate_limited',
    };
  }
  return undefined;
}

/** The filter on a plain request: undefined to go on, or the reply it sent. */
export async function runRateLimit(filter: RateLimitFilter, req: IncomingMessage, res: ServerResponse, client: string, run: RateLimitRun): Promise<ForwardOutcome | undefined> {
  const rejection = await checkRateLimit(filter, req, client, run);
  if (rejection === undefined) return undefined;
  return { ...sendLocalReply(res, rejection.status, rejection.body, rejection.flag, rejection.headers), detail: rejection.detail };
}
