import { z } from 'zod';
import { addCodedIssue, integer, isDnsLabel, labelMap, Protocol, stringList, uint32, wildcardDomainProblem } from './common.js';

// Gateway (istio/api networking/v1alpha3/gateway.proto): the ports, protocols, hosts and TLS
// settings of the listeners meshgate opens.

export const Port = z.strictObject({
  // 0 is allowed for a server bound to a Unix domain socket.
  number: integer(0, 65535),
  protocol: Protocol,
  name: z.string(),
  /** Deprecated in Istio and ignored by it. */
  targetPort: uint32.optional(),
});
export type Port = z.output<typeof Port>;

const tlsProtocolVersion = z.enum(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']);

export const TLSCertificate = z.strictObject({
  serverCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
});
export type TLSCertificate = z.output<typeof TLSCertificate>;

const terminatingModes = new Set(['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL']);

export const ServerTLSSettings = z
  .strictObject({
    httpsRedirect: z.boolean().optional(),
    mode: z.enum(['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL']).optional(),
    serverCertificate: z.string().optional(),
    privateKey: z.string().optional(),
    caCertificates: z.string().optional(),
    caCrl: z.string().optional(),
    credentialName: z.string().optional(),
    credentialNames: stringList.optional(),
    caCertCredentialName: z.string().optional(),
    tlsCertificates: z.array(TLSCertificate).optional(),
    subjectAltNames: stringList.optional(),
    verifyCertificateSpki: stringList.optional(),
    verifyCertificateHash: stringList.optional(),
    minProtocolVersion: tlsProtocolVersion.optional(),
    maxProtocolVersion: tlsProtocolVersion.optional(),
    cipherSuites: stringList.optional(),
  })
  .check(
    z.superRefine(
      (tls, ctx) => {
        // Istio's validateTLSOptions: a terminating mode needs a certificate from exactly one source.
        const sources = ['credentialName', 'credentialNames', 'tlsCertificates', 'serverCertificate'].filter(
          (field) => tls[field as keyof typeof tls] !== undefined,
        );
        // Istio: at most two certificates side by side, one RSA and one ECDSA.
        for (const field of ['credentialNames', 'tlsCertificates'] as const) {
          if ((tls[field]?.length ?? 0) > 2) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', `${field} takes at most 2 entries (an RSA and an ECDSA certificate), got ${tls[field]!.length}`, [field]);
        }
        if (sources.length > 1) {
          addCodedIssue(ctx, 'MG_ERR_CONFIG_ONEOF', `only one of credentialName, credentialNames, tlsCertificates, serverCertificate may be set, found ${sources.join(' and ')}`, [sources[1] as string]);
        }
        if (tls.mode === undefined || !terminatingModes.has(tls.mode)) return;
        if (sources.length === 0) {
          addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', `TLS mode ${tls.mode} needs credentialName, credentialNames, tlsCertificates or serverCertificate and privateKey`);
        } else if (tls.serverCertificate !== undefined && tls.privateKey === undefined) {
          addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', `TLS mode ${tls.mode} with serverCertificate needs privateKey`, ['privateKey']);
        }
        if (tls.mode === 'MUTUAL' && tls.serverCertificate !== undefined && tls.caCertificates === undefined) {
          addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', 'TLS mode MUTUAL with serverCertificate needs caCertificates to verify clients', ['caCertificates']);
        }
      },
      { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
    ),
  );
export type ServerTLSSettings = z.output<typeof ServerTLSSettings>;

/** Server hosts are "[namespace/]dnsName"; the namespace may be '*', '.' or '~' too. */
const serverHost = z.string().superRefine((host, ctx) => {
  const slash = host.indexOf('/');
  const namespace = slash === -1 ? undefined : host.slice(0, slash);
  const dnsName = slash === -1 ? host : host.slice(slash + 1);
  if (namespace !== undefined && namespace !== '*' && namespace !== '.' && namespace !== '~' && !isDnsLabel(namespace)) {
    addCodedIssue(ctx, 'MG_ERR_CONFIG_HOST', `expected "namespace/host" with a namespace name, "*", "." or "~", got namespace ${JSON.stringify(namespace)}`);
  }
  const problem = dnsName === '*' ? undefined : wildcardDomainProblem(dnsName);
  if (problem !== undefined) addCodedIssue(ctx, 'MG_ERR_CONFIG_HOST', problem);
});

export const Server = z
  .strictObject({
    port: Port,
    bind: z.string().optional(),
    hosts: z.array(serverHost).min(1),
    tls: ServerTLSSettings.optional(),
    /** Hidden in Istio's docs and not implemented by it. */
    defaultEndpoint: z.string().optional(),
    name: z.string().optional(),
  })
  .check(
    z.superRefine(
      (server, ctx) => {
        const protocol = typeof server.port?.protocol === 'string' ? server.port.protocol.toUpperCase() : undefined;
        if ((protocol === 'HTTPS' || protocol === 'TLS') && server.tls === undefined) {
          addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', `a server with protocol ${protocol} needs tls settings`);
        }
      },
      { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
    ),
  );
export type Server = z.output<typeof Server>;

export const GatewaySpec = z
  .strictObject({
    servers: z.array(Server).min(1),
    selector: labelMap.optional(),
  })
  .check(
    z.superRefine(
      (gateway, ctx) => {
        // Istio: "server names must be unique" within a Gateway.
        const seen = new Set<string>();
        gateway.servers?.forEach((server, index) => {
          if (server?.name === undefined) return;
          if (seen.has(server.name)) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', `server name ${JSON.stringify(server.name)} is used twice in this Gateway`, ['servers', index, 'name']);
          seen.add(server.name);
        });
      },
      { when: (payload) => typeof payload.value === 'object' && payload.value !== null && Array.isArray((payload.value as { servers?: unknown }).servers) },
    ),
  );
export type GatewaySpec = z.output<typeof GatewaySpec>;
