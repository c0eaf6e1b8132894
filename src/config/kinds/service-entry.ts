import { z } from 'zod';
import { exportTo, oneOf, portNumber, Protocol, serviceHost, stringList, labelMap } from './common.js';
import { WorkloadEntrySpec } from './workload-entry.js';

// ServiceEntry (istio/api networking/v1alpha3/service_entry.proto): services outside the
// Kubernetes registry: their hosts, ports, how endpoints are found and where they live.

export const ServicePort = z.strictObject({
  number: portNumber,
  protocol: Protocol.optional(),
  name: z.string(),
  targetPort: portNumber.optional(),
});
export type ServicePort = z.output<typeof ServicePort>;

export const ServiceEntrySpec = z
  .strictObject({
    hosts: z.array(serviceHost).min(1),
    addresses: stringList.optional(),
    ports: z.array(ServicePort).optional(),
    location: z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL']).optional(),
    resolution: z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']).optional(),
    endpoints: z.array(WorkloadEntrySpec).optional(),
    workloadSelector: z.strictObject({ labels: labelMap.optional() }).optional(),
    exportTo: exportTo.optional(),
    subjectAltNames: stringList.optional(),
  })
  // Istio: "only one of WorkloadSelector or Endpoints is allowed in Service Entry".
  .check(oneOf(['endpoints', 'workloadSelector']));
export type ServiceEntrySpec = z.output<typeof ServiceEntrySpec>;
