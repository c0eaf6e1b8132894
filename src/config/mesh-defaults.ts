// The MeshConfig in force when none is given. The schema takes each field's default from here,
// so the values live once, and a worker compiles without loading zod. Not typed as
// MeshConfigSpec (that type is inferred from the schema, which reads this); compile.ts's use
// checks that it is one, and a test that it equals the schema's parse of {}.

export const defaultMeshConfig = {
  defaultConfig: { gatewayTopology: { numTrustedProxies: 0 }, tracing: { sampling: 1 } },
  accessLogFile: '',
  accessLogEncoding: 'TEXT' as const,
  accessLogErrorsOnly: false,
  enableTracing: true,
  extensionProviders: [] as never[],
  defaultProviders: { tracing: [] as string[] },
  rateLimit: { failClosed: false, timeout: 200 },
};
