import { isIP } from 'node:net';

/**
 * Istio's ResolveShortnameToFQDN: a host without a dot is a Kubernetes short name in the
 * resource's namespace ("reviews" -> "reviews.default.svc.cluster.local"). '*', IP addresses
 * and names with a dot are already complete. Host names compare case-insensitively.
 */
export function resolveShortName(host: string, namespace: string, domain = 'cluster.local'): string {
  if (host === '' || host === '*' || isIP(host) !== 0 || host.includes('.')) return host.toLowerCase();
  return `${host}.${namespace}.svc.${domain}`.toLowerCase();
}
