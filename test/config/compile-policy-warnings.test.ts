import test from 'ava';
import { compileYaml, lineOf } from '../helpers/compile-config.js';

// DestinationRule settings meshgate does not act on yet are named in a warning at their line;
// the ones it does act on (and the defaults the schema fills in) are not.

const rule = (trafficPolicy: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews.internal
  trafficPolicy:
${trafficPolicy}
  subsets:
    - name: v1
      labels: { version: v1 }
      trafficPolicy:
        outlierDetection: { consecutive5xxErrors: 3, splitExternalLocalOriginErrors: true }
`;

test('ignored settings are warned about at their line, with their path', async (t) => {
  const yaml = rule(`    loadBalancer: { simple: ROUND_ROBIN, localityLbSetting: { enabled: true } }
    connectionPool:
      tcp: { maxConnections: 10, maxConnectionDuration: 1h }
      http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 5 }
    tls: { mode: SIMPLE }`);
  const { issues, file } = await compileYaml(t, yaml);
  const warnings = issues.filter((i) => i.code === 'MG_ERR_CONFIG_UNSUPPORTED').map((i) => ({ path: i.path, line: i.line, file: i.file }));
  t.deepEqual(
    warnings.map((w) => w.path).sort(),
    [
      'spec.subsets[0].trafficPolicy.outlierDetection.splitExternalLocalOriginErrors',
      'spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration',
      'spec.trafficPolicy.loadBalancer.localityLbSetting',
      'spec.trafficPolicy.tls',
    ],
  );
  t.true(warnings.every((w) => w.file === file));
  t.is(warnings.find((w) => w.path.endsWith('.tls'))?.line, lineOf(yaml, 'tls: { mode: SIMPLE }'));
});

test('what meshgate acts on, and schema defaults, raise no warning', async (t) => {
  const yaml = rule(`    loadBalancer: { consistentHash: { httpHeaderName: x-user } }
    connectionPool:
      tcp: { maxConnections: 10, connectTimeout: 2s }
      http: { maxRequestsPerConnection: 5, http1MaxPendingRequests: 1, http2MaxRequests: 10, maxRetries: 1 }
    outlierDetection: { consecutive5xxErrors: 3, consecutiveGatewayErrors: 2, interval: 1s, baseEjectionTime: 5s, maxEjectionPercent: 50, minHealthPercent: 20 }`).replace(/\n {2}subsets:[\s\S]*$/, '\n');
  const { issues } = await compileYaml(t, yaml);
  t.deepEqual(issues.filter((i) => i.code === 'MG_ERR_CONFIG_UNSUPPORTED'), []);
});
