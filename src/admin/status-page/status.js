'use strict';
// The admin port's status page: what is configured (/config_dump) and how traffic goes
// (/stats/prometheus, polled; rates and percentiles are computed here from counter deltas).

const pollMs = 2000;
const keepPoints = 90;
const history = []; // { at, rate, p50, p99 }
let previous; // { at, requests, buckets: Map(le -> cumulative count) }

function parsePrometheus(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels = {};
    for (const [, name, value] of (match[2] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name] = value;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
}

function fillTable(id, rows) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren();
  for (const values of rows) {
    const row = document.createElement('tr');
    for (const value of values) cell(row, typeof value === 'object' ? value.text : value, typeof value === 'object' ? value.className : typeof value === 'number' ? 'num' : undefined);
    body.appendChild(row);
  }
}

function describeMatch(match) {
  if (!match || match.length === 0) return 'any';
  return match
    .map((m) => {
      const parts = [];
      if (m.uri) parts.push(`uri ${Object.keys(m.uri)[0]} ${Object.values(m.uri)[0]}`);
      if (m.method) parts.push(`method ${Object.values(m.method)[0]}`);
      if (m.headers) parts.push(`headers ${Object.keys(m.headers).join(', ')}`);
      if (m.port) parts.push(`port ${m.port}`);
      if (m.sniHosts) parts.push(`sni ${m.sniHosts.join(', ')}`);
      return parts.join(' and ') || 'any';
    })
    .join(' or ');
}

function describeDestinations(route) {
  return (route || [])
    .map((r) => `${r.destination.host}${r.destination.subset ? ` (${r.destination.subset})` : ''}${r.destination.port ? `:${r.destination.port.number}` : ''}${r.weight !== undefined ? ` ${r.weight}%` : ''}`)
    .join(', ');
}

function routeRows(dump) {
  const rows = [];
  for (const resource of dump.resources.filter((r) => r.kind === 'VirtualService')) {
    const { namespace, name } = resource.metadata;
    const spec = resource.spec;
    const common = [`${namespace}/${name}`, (spec.hosts || []).join(', '), (spec.gateways || []).join(', ')];
    for (const http of spec.http || []) {
      const action = http.redirect ? `redirect ${http.redirect.uri || ''}` : http.directResponse ? `direct response ${http.directResponse.status}` : `→ ${describeDestinations(http.route)}`;
      rows.push([...common, describeMatch(http.match), action]);
    }
    for (const kind of ['tls', 'tcp']) {
      for (const stream of spec[kind] || []) rows.push([...common, `${kind}: ${describeMatch(stream.match)}`, `→ ${describeDestinations(stream.route)}`]);
    }
  }
  return rows;
}

async function loadConfig() {
  const [dump, workers] = await Promise.all([fetch('/config_dump').then((r) => r.json()), fetch('/workers').then((r) => r.json())]);
  document.getElementById('summary').textContent = `generation ${dump.generation} since ${dump.createdAt} · ${workers.workers} worker(s), ${workers.restarts} restart(s)`;
  fillTable(
    'listeners',
    dump.listeners.map((l) => [l.name, `${l.bind}:${l.port}`, l.protocol, (l.servers || []).map((s) => `${s.hosts.join(', ')}${s.tls ? ` (${s.tls})` : ''}`).join('; ')]),
  );
  fillTable('routes', routeRows(dump));
}

/** The value at quantile `q` from cumulative buckets (Prometheus's histogram_quantile). */
function quantile(q, buckets) {
  const total = buckets.length === 0 ? 0 : buckets[buckets.length - 1][1];
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lowerBound;
      return lowerBound + ((le - lowerBound) * (rank - lowerCount)) / Math.max(count - lowerCount, 1e-9);
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}

function drawChart(id, series, format) {
  const svg = document.getElementById(id);
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.filter((v) => v !== undefined)));
  const width = 600;
  const height = 160;
  const step = width / (keepPoints - 1);
  const offset = keepPoints - history.length;
  const parts = [];
  for (const { values, className } of series) {
    const points = values
      .map((v, i) => (v === undefined ? undefined : `${((offset + i) * step).toFixed(1)},${(height - 4 - (v / max) * (height - 16)).toFixed(1)}`))
      .filter((p) => p !== undefined);
    parts.push(`<polyline class="${className}" points="${points.join(' ')}"></polyline>`);
  }
  parts.push(`<text x="4" y="12" font-size="11" fill="#667">${format(max)}</text>`);
  svg.innerHTML = parts.join('');
}

function sumBy(samples, name, key) {
  const out = new Map();
  for (const s of samples) if (s.name === name) out.set(s.labels[key], (out.get(s.labels[key]) || 0) + s.value);
  return out;
}

async function poll() {
  const text = await fetch('/stats/prometheus').then((r) => r.text());
  const samples = parsePrometheus(text);
  const at = performance.now();
  const requests = samples.filter((s) => s.name === 'istio_requests_total').reduce((sum, s) => sum + s.value, 0);
  const byLe = new Map();
  for (const s of samples) {
    if (s.name !== 'istio_request_duration_milliseconds_bucket') continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) || 0) + s.value);
  }
  if (previous !== undefined) {
    const seconds = (at - previous.at) / 1000;
    const delta = [...byLe].sort((a, b) => a[0] - b[0]).map(([le, count]) => [le, count - (previous.buckets.get(le) || 0)]);
    history.push({ rate: Math.max(0, requests - previous.requests) / seconds, p50: quantile(0.5, delta), p99: quantile(0.99, delta) });
    if (history.length > keepPoints) history.shift();
    const last = history[history.length - 1];
    document.getElementById('rate-now').textContent = `now ${last.rate.toFixed(1)}`;
    document.getElementById('latency-now').textContent = last.p50 === undefined ? '' : `now ${last.p50.toFixed(1)} / ${last.p99.toFixed(1)}`;
    drawChart('rate-chart', [{ values: history.map((h) => h.rate), className: 'rate' }], (max) => `${max.toFixed(1)} req/s`);
    drawChart('latency-chart', [{ values: history.map((h) => h.p50), className: 'p50' }, { values: history.map((h) => h.p99), className: 'p99' }], (max) => `${max.toFixed(1)} ms`);
  }
  previous = { at, requests, buckets: byLe };

  const health = new Map();
  for (const s of samples) {
    if (s.name !== 'meshgate_cluster_endpoints') continue;
    const entry = health.get(s.labels.cluster) || { healthy: 0, ejected: 0, unhealthy: 0 };
    entry[s.labels.health] = s.value;
    health.set(s.labels.cluster, entry);
  }
  // Request totals per cluster name's host|subset, matched through destination_service and version.
  const perService = sumBy(samples, 'istio_requests_total', 'destination_service');
  fillTable(
    'health',
    [...health].map(([cluster, e]) => {
      const host = cluster.split('|')[3];
      return [cluster, { text: String(e.healthy), className: e.healthy === 0 ? 'num bad' : 'num' }, { text: String(e.ejected), className: e.ejected > 0 ? 'num bad' : 'num' }, { text: String(e.unhealthy), className: e.unhealthy > 0 ? 'num bad' : 'num' }, perService.get(host) || 0];
    }),
  );
}

function report(err) {
  document.getElementById('error').textContent = err ? `could not read the admin port: ${err.message || err}` : '';
}

loadConfig().then(() => report(), report);
const tick = () => poll().then(() => report(), report);
tick();
setInterval(tick, pollMs);
setInterval(() => loadConfig().catch(report), 15000);
