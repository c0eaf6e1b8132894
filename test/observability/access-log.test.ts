import test from 'ava';
import { accessLogSettingsOf, createAccessLog, formatAccessLogJson, formatAccessLogText, type AccessLogEntry } from '../../src/observability/access-log.js';
import { MeshConfigSpec } from '../../src/config/kinds/mesh-config.js';

// The example line of Istio's docs (access log task, default format), as an entry.
const entry: AccessLogEntry = {
  startTime: Date.parse('2020-11-25T21:26:18.409Z'),
  method: 'GET',
  path: '/status/418',
  protocol: 'HTTP/1.1',
  responseCode: 418,
  responseCodeDetails: 'via_upstream',
  bytesReceived: 0,
  bytesSent: 135,
  durationMs: 4,
  upstreamServiceTimeMs: 4,
  userAgent: 'curl/7.73.0-DEV',
  requestId: '84961386-6d84-929d-98bd-c5aee93b5c88',
  authority: 'httpbin:8000',
  upstreamHost: '10.44.1.27:80',
  upstreamCluster: 'outbound|8000||httpbin.foo.svc.cluster.local',
  upstreamLocalAddress: '10.44.1.23:37652',
  downstreamLocalAddress: '10.0.45.184:8000',
  downstreamRemoteAddress: '10.44.1.23:46520',
  routeName: 'default',
};

test('a line has every field of Istio\'s default format in order, with - for what is missing', (t) => {
  const line = formatAccessLogText(entry);
  t.true(line.endsWith('\n'));
  // Split on the quoted groups and the spaces between the unquoted fields.
  const fields = line.trimEnd().match(/\[[^\]]*\]|"[^"]*"|\S+/g);
  t.deepEqual(fields, [
    '[2020-11-25T21:26:18.409Z]', // START_TIME
    '"GET /status/418 HTTP/1.1"', // method, X-ENVOY-ORIGINAL-PATH?:PATH, PROTOCOL
    '418', // RESPONSE_CODE
    '-', // RESPONSE_FLAGS
    'via_upstream', // RESPONSE_CODE_DETAILS
    '-', // CONNECTION_TERMINATION_DETAILS
    '"-"', // UPSTREAM_TRANSPORT_FAILURE_REASON
    '0', // BYTES_RECEIVED
    '135', // BYTES_SENT
    '4', // DURATION
    '4', // RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)
    '"-"', // REQ(X-FORWARDED-FOR)
    '"curl/7.73.0-DEV"', // REQ(USER-AGENT)
    '"84961386-6d84-929d-98bd-c5aee93b5c88"', // REQ(X-REQUEST-ID)
    '"httpbin:8000"', // REQ(:AUTHORITY)
    '"10.44.1.27:80"', // UPSTREAM_HOST
    'outbound|8000||httpbin.foo.svc.cluster.local', // UPSTREAM_CLUSTER_RAW
    '10.44.1.23:37652', // UPSTREAM_LOCAL_ADDRESS
    '10.0.45.184:8000', // DOWNSTREAM_LOCAL_ADDRESS
    '10.44.1.23:46520', // DOWNSTREAM_REMOTE_ADDRESS
    '-', // REQUESTED_SERVER_NAME
    'default', // ROUTE_NAME
  ]);
});

test('the whole line matches Istio\'s documented example byte for byte', (t) => {
  t.is(
    formatAccessLogText(entry),
    '[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" ' +
      '"84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local ' +
      '10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default\n',
  );
});

test('a failed request: flag, details, no upstream time, status 0 when nothing was sent', (t) => {
  const line = formatAccessLogText({
    startTime: 0,
    method: 'POST',
    path: '/upload?x=1',
    protocol: 'HTTP/1.1',
    responseCode: 0,
    responseFlags: ['DC'],
    responseCodeDetails: 'downstream_remote_disconnect',
    bytesReceived: 1024,
    bytesSent: 0,
    durationMs: 12.6,
    forwardedFor: '203.0.113.7',
  });
  t.is(
    line,
    '[1970-01-01T00:00:00.000Z] "POST /upload?x=1 HTTP/1.1" 0 DC downstream_remote_disconnect - "-" 1024 0 13 - ' +
      '"203.0.113.7" "-" "-" "-" "-" - - - - - -\n',
  );
});

test("several flags print comma-separated in Envoy's order, whatever order they come in", (t) => {
  const flagsOf = (responseFlags: AccessLogEntry['responseFlags']) => formatAccessLogText({ ...entry, responseFlags }).split(' ')[5];
  t.is(flagsOf(['FI', 'DI']), 'DI,FI');
  t.is(flagsOf(['DC', 'DI']), 'DI,DC');
  t.is(flagsOf(['DI', 'UF']), 'UF,DI');
  // Why a retry did not happen comes after the failure itself.
  t.is(flagsOf(['URX', 'UF']), 'UF,URX');
  t.is(flagsOf(['UO', 'UC']), 'UC,UO');
  t.is(flagsOf([]), '-');
});

test('createAccessLog writes the lines of one event-loop turn together, one line per entry', async (t) => {
  const writes: string[] = [];
  const log = createAccessLog((text) => writes.push(text));
  log.configure({ encoding: 'TEXT', errorsOnly: false });
  log.log(entry);
  log.log({ ...entry, responseCode: 503, responseFlags: ['UF'] });
  t.deepEqual(writes, [], 'nothing written before the turn ends');
  await new Promise((resolve) => setImmediate(resolve));
  t.is(writes.length, 1);
  const lines = writes[0]!.split('\n').slice(0, -1);
  t.is(lines.length, 2);
  t.is(`${lines[0]}\n`, formatAccessLogText(entry));
  t.true(lines[1]!.includes('" 503 UF via_upstream '));
});

test('createAccessLog writes at once past 64 KiB, and flush() empties the buffer', (t) => {
  const writes: string[] = [];
  const log = createAccessLog((text) => writes.push(text));
  log.configure({ encoding: 'TEXT', errorsOnly: false });
  const lineLength = formatAccessLogText(entry).length;
  const perFlush = Math.ceil((64 * 1024) / lineLength);
  for (let i = 0; i < perFlush + 3; i++) log.log(entry);
  t.is(writes.length, 1);
  t.is(writes[0]!.length, perFlush * lineLength);
  log.flush();
  t.is(writes.length, 2);
  t.is(writes[1]!.length, 3 * lineLength);
  log.flush();
  t.is(writes.length, 2, 'an empty buffer writes nothing');
});

// The keys of istiod's EnvoyJSONLogFormatIstio (pilot/pkg/model/telemetry_logging.go).
const istioJsonKeys = [
  'authority', 'bytes_received', 'bytes_sent', 'connection_termination_details', 'downstream_local_address',
  'downstream_remote_address', 'duration', 'method', 'path', 'protocol', 'request_id', 'requested_server_name',
  'response_code', 'response_code_details', 'response_flags', 'route_name', 'start_time', 'upstream_cluster',
  'upstream_host', 'upstream_local_address', 'upstream_service_time', 'upstream_transport_failure_reason',
  'user_agent', 'x_forwarded_for',
];

test('a JSON line has exactly Istio\'s keys, numbers as numbers, null for what is missing, - for no flags', (t) => {
  const line = formatAccessLogJson(entry);
  t.true(line.endsWith('}\n'));
  const parsed = JSON.parse(line) as Record<string, unknown>;
  t.deepEqual(Object.keys(parsed).sort(), istioJsonKeys);
  t.like(parsed, {
    start_time: '2020-11-25T21:26:18.409Z',
    method: 'GET',
    path: '/status/418',
    response_code: 418,
    response_flags: '-',
    bytes_sent: 135,
    duration: 4,
    upstream_service_time: '4',
    x_forwarded_for: null,
    upstream_cluster: 'outbound|8000||httpbin.foo.svc.cluster.local',
    route_name: 'default',
  });
  t.is(JSON.parse(formatAccessLogJson({ ...entry, responseFlags: ['URX', 'UF'] })).response_flags, 'UF,URX');
});

test('the log is off until configured, and off again for accessLogFile ""', async (t) => {
  const writes: string[] = [];
  const log = createAccessLog((text) => writes.push(text));
  t.false(log.enabled);
  log.log(entry);
  log.configure(accessLogSettingsOf(MeshConfigSpec.parse({ accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON' })));
  t.true(log.enabled);
  log.log(entry);
  log.configure(accessLogSettingsOf(MeshConfigSpec.parse({})));
  t.false(log.enabled);
  log.log(entry);
  log.flush();
  t.is(writes.join(''), formatAccessLogJson(entry));
});

test('errors only: status >= 400 or any response flag is written, the rest is not', (t) => {
  const writes: string[] = [];
  const log = createAccessLog((text) => writes.push(text));
  log.configure(accessLogSettingsOf(MeshConfigSpec.parse({ accessLogFile: '/dev/stdout', accessLogErrorsOnly: true })));
  log.log({ ...entry, responseCode: 200, path: '/ok' });
  log.log({ ...entry, responseCode: 200, path: '/delayed', responseFlags: ['DI'] });
  log.log({ ...entry, responseCode: 404, path: '/missing' });
  log.log({ ...entry, responseCode: 0, path: '', responseFlags: ['UF'] });
  log.flush();
  const paths = writes.join('').trimEnd().split('\n').map((line) => /^\[[^\]]+\] "\S+ (\S+) /.exec(line)?.[1]);
  t.deepEqual(paths, ['/delayed', '/missing', '-']);
});
