import { z } from 'zod';
import { integer } from './common.js';

// MeshConfig (meshgate.dev/v1alpha1): the gateway-wide settings Istio keeps in its mesh config
// (the `mesh` key of the `istio` ConfigMap) rather than in a resource. The spec takes Istio's
// MeshConfig field names, so a user pastes the part of their mesh config that applies to a
// gateway; fields Istio has no counterpart for are meshgate's and say so. At most one per
// configuration; without one every field has Istio's default.

const GatewayTopology = z.strictObject({
  /** Proxies in front of the gateway whose X-Forwarded-For entries are trusted (Istio's default: 0). */
  numTrustedProxies: integer(0, 64).default(0),
});

const ProxyConfig = z.strictObject({
  gatewayTopology: GatewayTopology.prefault({}),
});

export const MeshConfigSpec = z.strictObject({
  /** Istio's `defaultConfig` (ProxyConfig): the settings of each proxy, here of the gateway. */
  defaultConfig: ProxyConfig.prefault({}),
});
export type MeshConfigSpec = z.output<typeof MeshConfigSpec>;

/** The settings when no MeshConfig is given. */
export const defaultMeshConfig: MeshConfigSpec = MeshConfigSpec.parse({});
