import { z } from 'zod';
import { addCodedIssue, labelMap, portNumber, uint32 } from './common.js';

// WorkloadEntry (istio/api networking/v1alpha3/workload_entry.proto): one non-Kubernetes
// endpoint; ServiceEntry endpoints use the same message.

export const WorkloadEntrySpec = z
  .strictObject({
    address: z.string().optional(),
    ports: z.record(z.string(), portNumber).optional(),
    labels: labelMap.optional(),
    network: z.string().optional(),
    locality: z.string().optional(),
    weight: uint32.optional(),
    serviceAccount: z.string().optional(),
  })
  .check(
    z.superRefine(
      (entry, ctx) => {
        // Istio's validateWorkloadEntry: only an endpoint reached through a network gateway may omit its address.
        if ((entry.address === undefined || entry.address === '') && entry.network === undefined) {
          addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', 'address is required (an IP, a DNS name or unix:///path)');
        }
      },
      { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
    ),
  );
export type WorkloadEntrySpec = z.output<typeof WorkloadEntrySpec>;
