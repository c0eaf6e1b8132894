import type { Snapshot } from '../config/snapshot.js';
import type { WireConfig } from '../process/messages.js';
import type { MeshConfigSpec } from '../config/kinds/mesh-config.js';

// What /config_dump shows: the validated resources as the user wrote them (after defaults) and
// what they compiled to, as plain data. The primary keeps this instead of the snapshot: the
// compiled routes are closures only the workers use, and a validated resource's `locate` keeps
// its whole YAML syntax tree alive (about 110 MB for 1,000 VirtualServices).

export interface ConfigDump {
  readonly generation: number;
  readonly createdAt: string;
  readonly listeners: readonly {
    readonly name: string;
    readonly bind: string;
    readonly port: number;
    readonly protocol: string;
    /** HTTP listeners' Gateway servers; stream listeners have none here. */
    readonly servers?: readonly { readonly name: string; readonly hosts: readonly string[]; readonly tls?: string }[];
  }[];
  readonly clusters: readonly unknown[];
  readonly resources: readonly { readonly kind: string; readonly apiVersion: string; readonly metadata: unknown; readonly spec: unknown; readonly source: string }[];
  readonly warnings: Snapshot['warnings'];
}

export function createConfigDump(snapshot: Snapshot, config: WireConfig): ConfigDump {
  // Never the credentials (private keys) or the Redis secrets. A spec names its files, which is enough.
  const { credentials: _secret, rateLimitSecrets: _redisSecret, ...resources } = config;
  const lists: readonly (readonly { kind: string; apiVersion: string; metadata: unknown; spec: unknown; file: string }[])[] = Object.values(resources);
  return Object.freeze({
    generation: snapshot.generation,
    createdAt: snapshot.createdAt,
    listeners: [
      ...snapshot.listeners.map(({ name, bind, port, protocol, servers }) => ({
        name,
        bind,
        port,
        protocol,
        servers: servers.servers.map((server) => ({ name: server.name, hosts: server.hosts, ...(server.tls === undefined ? {} : { tls: server.tls.mode }) })),
      })),
      ...snapshot.streamListeners.map(({ name, bind, port, protocol }) => ({ name, bind, port, protocol })),
    ],
    clusters: [...snapshot.clusters.values()],
    resources: lists.flatMap((list) => list.map(({ kind, apiVersion, metadata, spec, file }) => ({ kind, apiVersion, metadata, spec: kind === 'MeshConfig' ? withoutRedisUserinfo(spec as MeshConfigSpec) : spec, source: file }))),
    warnings: snapshot.warnings,
  });
}

/** A Redis URL may carry a password (redis://:secret@host): the dump shows it as "redacted". */
function withoutRedisUserinfo(spec: MeshConfigSpec): MeshConfigSpec {
  const redis = spec.rateLimit.backend?.redis;
  if (redis?.url === undefined || !redis.url.includes('@')) return spec;
  const url = new URL(redis.url);
  if (url.password === '') return spec;
  url.password = 'redacted';
  return { ...spec, rateLimit: { ...spec.rateLimit, backend: { ...spec.rateLimit.backend!, redis: { ...redis, url: url.toString() } } } };
}
