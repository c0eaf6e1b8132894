import test from 'ava';
import { createLogger } from '../../src/log.js';
import { createOutlierDetector, outlierThresholds, type OutlierDetectionSettings } from '../../src/upstream/outlier-detection.js';
import { eventually } from '../helpers/eventually.js';

// Envoy's consecutive-error detectors as Istio configures them, with a clock the test moves.

const logger = createLogger({ level: 'error', write: () => {} });

function detector(t: import('ava').ExecutionContext, settings: OutlierDetectionSettings, endpoints = 3) {
  let clock = 1_000_000;
  let changes = 0;
  const detect = createOutlierDetector(settings, {
    endpointCount: () => endpoints,
    onChange: () => changes++,
    logger,
    cluster: 'outbound|80||web',
    now: () => clock,
  });
  t.teardown(() => detect.close());
  return { detect, advance: (ms: number) => (clock += ms), changes: () => changes };
}

test('thresholds: 5 consecutive 5xx by default, gateway errors off; consecutiveErrors (deprecated) counts gateway errors only; 0 is off', (t) => {
  t.deepEqual(outlierThresholds({}), { fiveXx: 5, gateway: 0 });
  t.deepEqual(outlierThresholds({ consecutiveErrors: 4 }), { fiveXx: 0, gateway: 4 });
  t.deepEqual(outlierThresholds({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 }), { fiveXx: 0, gateway: 2 });
});

test('consecutive 5xx eject; a success in between resets the count; local-origin failures count, a client leaving does not', (t) => {
  const { detect, changes } = detector(t, { consecutive5xxErrors: 3, maxEjectionPercent: 100 });
  detect.report('a', { status: 500 });
  detect.report('a', { status: 503 });
  detect.report('a', { status: 200 });
  detect.report('a', { status: 500 });
  detect.report('a', { flag: 'DC' });
  detect.report('a', { status: 502 });
  t.false(detect.ejected().has('a'));
  detect.report('a', { flag: 'UF' });
  t.true(detect.ejected().has('a'));
  t.is(changes(), 1);
  t.is(detect.ejections(), 1, 'counted for meshgate_outlier_ejections_total');
  // A 4xx is the client's problem, not the endpoint's.
  for (let i = 0; i < 5; i++) detect.report('b', { status: 404 });
  t.false(detect.ejected().has('b'));
});

test('gateway errors: only 502, 503, 504 (and timeouts, resets) count; a 500 breaks the run', (t) => {
  const { detect } = detector(t, { consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, maxEjectionPercent: 100 });
  detect.report('a', { status: 502 });
  detect.report('a', { status: 500 });
  detect.report('a', { flag: 'UT' });
  t.false(detect.ejected().has('a'));
  detect.report('a', { status: 504 });
  t.true(detect.ejected().has('a'));
});

test('maxEjectionPercent: an ejection that would take the share ejected past it does not happen', (t) => {
  const { detect } = detector(t, { consecutive5xxErrors: 1, maxEjectionPercent: 50 }, 4);
  detect.report('a', { status: 500 });
  detect.report('b', { status: 500 });
  detect.report('c', { status: 500 });
  t.deepEqual([...detect.ejected()].sort(), ['a', 'b']);
  // Istio's default 10% ejects nothing from a cluster of fewer than ten endpoints, as Envoy does.
  const small = detector(t, { consecutive5xxErrors: 1 }, 3);
  small.detect.report('a', { status: 500 });
  t.is(small.detect.ejected().size, 0);
});

test('ejected endpoints return at the first sweep after baseEjectionTime x ejections', async (t) => {
  const { detect, advance } = detector(t, { consecutive5xxErrors: 1, maxEjectionPercent: 100, interval: 20, baseEjectionTime: 1000 });
  detect.report('a', { status: 500 });
  t.true(detect.ejected().has('a'));
  advance(999);
  // No event marks a sweep that changes nothing: let three pass.
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.true(detect.ejected().has('a'), 'not before its time');
  advance(1);
  await eventually(() => (detect.ejected().has('a') ? undefined : true));
  // Ejected a second time at once: twice the base now.
  detect.report('a', { status: 500 });
  advance(1999);
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.true(detect.ejected().has('a'), 'a second ejection lasts 2 x baseEjectionTime');
  advance(1);
  t.true(await eventually(() => (detect.ejected().has('a') ? undefined : true)));
});
