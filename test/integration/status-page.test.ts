import test from 'ava';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { chromium } from 'playwright-core';
import { requireTool } from '../helpers/require-tool.js';
import { freePort } from '../helpers/free-port.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';
import { startUpstream } from '../helpers/upstream.js';

// The admin port's status page in a real headless Chromium: with traffic flowing, it lists the
// configured routes and the upstream's health, and draws a request-rate line from the
// /stats/prometheus numbers it polls. A screenshot is left in test-output/ for a person to look at.

const chromiumTest = requireTool('chromium') ? test : test.skip;
const outputDir = fileURLToPath(new URL('../../test-output/', import.meta.url));

chromiumTest('the status page shows routes, upstream health and a live request-rate chart', async (t) => {
  const upstream = await startUpstream('app');
  t.teardown(() => upstream.close());
  const port = await freePort();
  const dir = await configDir('status-page');
  await writeConfig(dir, 'config.yaml', singleRouteConfig({ port, upstreamPort: upstream.port, host: 'shop.example.com' }));
  const gateway = await startGatewayProcess(['--config', dir]);
  t.teardown(() => gateway.stop());

  // Steady traffic while the page polls, so two scrapes differ.
  let sending = true;
  const sent = (async () => {
    let count = 0;
    while (sending) {
      const response = await request(`http://127.0.0.1:${port}/item`, { headers: { host: 'shop.example.com' } });
      await response.body.dump();
      count++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return count;
  })();

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`http://127.0.0.1:${gateway.adminPort}/`);

  const route = page.locator('#routes tbody tr', { hasText: 'app.internal' });
  await route.waitFor({ timeout: 15_000 });
  t.regex(await route.innerText(), /default\/app\s+shop\.example\.com\s+edge/);
  const listener = page.locator('#listeners tbody tr', { hasText: String(port) });
  await listener.waitFor({ timeout: 15_000 });

  const health = page.locator('#health tbody tr', { hasText: 'app.internal' });
  await health.waitFor({ timeout: 15_000 });
  const healthCells = await health.locator('td').allInnerTexts();
  t.deepEqual(healthCells.slice(1, 4), ['1', '0', '0'], 'one healthy endpoint, none ejected or unhealthy');

  // A rate line with at least two points, and a rate above zero.
  // Evaluated in the page (a string: the test's TypeScript has no DOM types).
  await page.waitForFunction(
    `(document.querySelector('#rate-chart polyline.rate')?.getAttribute('points') ?? '').trim().split(' ').length >= 2 &&
     Number((/now ([\\d.]+)/.exec(document.getElementById('rate-now')?.textContent ?? '') ?? [])[1] ?? 0) > 0`,
    undefined,
    { timeout: 20_000 },
  );
  const latencyPoints = await page.locator('#latency-chart polyline.p50').getAttribute('points');
  t.true((latencyPoints ?? '').trim().length > 0, 'the latency chart has a p50 line');

  await mkdir(outputDir, { recursive: true });
  await page.screenshot({ path: `${outputDir}status-page.png`, fullPage: true });
  sending = false;
  t.true((await sent) > 0);
  t.deepEqual(errors, [], 'no script errors on the page');
  t.is(await page.locator('#error').innerText(), '');
});
