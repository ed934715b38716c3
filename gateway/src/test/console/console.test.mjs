// The operator console in headless Chromium (Debian's, driven by playwright-core) against a real
// gateway: scripts/console-check.sh starts the gateway and passes BASE, OUT and the tokens. Data is
// made through the API first, then every check reads what the page shows and every action taken
// in the page is verified through the API. Exit 1 with the failed check's message, and a
// screenshot of the page at that moment in OUT/failure.png.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';

const BASE = need('BASE');
const OUT = need('OUT');
const ADMIN = need('GATEWAY_ADMIN_TOKEN');
const INGEST = need('GATEWAY_INGEST_TOKEN');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run scripts/console-check.sh)`);
  return value;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` (which throws or returns false while not yet) until it holds or time runs out. */
async function eventually(what, check, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  let last = 'never checked';
  for (;;) {
    try {
      const result = await check();
      if (result !== false) return result;
      last = 'not yet';
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > end) throw new Error(`${what}: still not so after ${timeoutMs} ms: ${last}`);
    await sleep(250);
  }
}

async function call(method, path, token, body, expected = 200) {
  const res = await fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, expected, `${method} ${path}: ${text}`);
  return text ? JSON.parse(text) : null;
}

const admin = (method, path, body, expected) => call(method, path, ADMIN, body, expected);

function ingest(merchantId, orders, prefix) {
  const events = orders.map((orderId, i) => ({
    eventId: `${prefix}-${i}`,
    merchantId,
    orderId,
    type: 'order.paid',
    occurredAt: new Date().toISOString(),
    data: { amount: '12.50' },
  }));
  return call('POST', '/v1/events', INGEST, events);
}

/** A loopback port nothing listens on: the callback app's endpoint, failing with every attempt. */
function closedPort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- data, through the API

const run = Date.now().toString(36);
const merchantA = `m-console-a-${run}`;
const merchantB = `m-console-b-${run}`;
const merchantC = `m-console-c-${run}`;
const names = {
  erp: `acme-erp ${run}`,
  wms: `acme-wms ${run}`,
  // Must show as this very text: no element made from it, nothing run.
  xss: `<img src=x onerror="window.__xss=1"> ${run}`,
};

async function makeData() {
  // merchant A: 7 events of 3 orders; merchant B: 4 events of 2 orders.
  await ingest(merchantA, ['o-1', 'o-1', 'o-1', 'o-2', 'o-2', 'o-3', 'o-3'], 'a');
  await ingest(merchantB, ['o-7', 'o-7', 'o-8', 'o-8'], 'b');
  const erp = await admin('POST', '/v1/apps', { name: names.erp, delivery: { mode: 'websocket' } }, 201);
  const url = `http://127.0.0.1:${await closedPort()}/hooks`;
  const wms = await admin('POST', '/v1/apps', { name: names.wms, delivery: { mode: 'callback', url } }, 201);
  const xss = await admin('POST', '/v1/apps', { name: names.xss, delivery: { mode: 'websocket' } }, 201);
  const earliest = { start: 'earliest' };
  // erp is connected nowhere: its whole history of A and B is pending (7 + 4 events, 3 + 2 orders).
  await admin('PUT', `/v1/merchants/${merchantA}/grants/${erp.appId}`, earliest);
  await admin('PUT', `/v1/merchants/${merchantB}/grants/${erp.appId}`, earliest);
  // wms's endpoint never answers: B's 4 events stay pending.
  await admin('PUT', `/v1/merchants/${merchantB}/grants/${wms.appId}`, earliest);
  // xss starts at the head: caught up, in no lag row.
  await admin('PUT', `/v1/merchants/${merchantB}/grants/${xss.appId}`, {});
  // The API agrees before the page is asked (a failure below is then the page's).
  await eventually('GET /v1/lag shows the three channels behind', async () => {
    const { items } = await admin('GET', '/v1/lag?minLag=1&limit=100');
    const mine = items.filter((i) => [erp.appId, wms.appId].includes(i.appId));
    assert.deepEqual(
      mine.map((i) => i.lag),
      [7, 4, 4],
      JSON.stringify(mine),
    );
  });
  return { erp: erp.appId, wms: wms.appId, xss: xss.appId };
}

// ---------------------------------------------------------------- the page

async function text(locator) {
  return ((await locator.textContent({ timeout: 2_000 })) ?? '').trim();
}

async function checkConsole(page, ids, errors, dialogs) {
  // Served with its security headers; /console goes to /console/.
  const res = await page.goto(`${BASE}/console`);
  assert.equal(res.status(), 200);
  assert.equal(new URL(page.url()).pathname, '/console/');
  const csp = res.headers()['content-security-policy'] ?? '';
  for (const directive of ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"]) {
    assert.ok(csp.includes(directive), `Content-Security-Policy "${csp}" lacks ${directive}`);
  }
  assert.equal(res.headers()['x-content-type-options'], 'nosniff');
  assert.equal(res.headers()['x-frame-options'], 'DENY');

  // A wrong token is refused and shown so; the board stays hidden.
  await page.locator('#token').fill(`wrong-${run}-0123456789abcdef`);
  await page.locator('#connect').click();
  await eventually('a wrong token is refused', async () =>
    assert.match(await text(page.locator('#login-error')), /refused the token \(401/),
  );
  assert.equal(await page.locator('#board').isVisible(), false);

  // The real one: typed in, kept for the tab only.
  await page.locator('#token').fill(ADMIN);
  await page.locator('#token').press('Enter');
  await page.locator('#board').waitFor({ state: 'visible', timeout: 10_000 });
  const storage = await page.evaluate(() => ({
    session: Object.values(sessionStorage),
    local: localStorage.length,
    input: document.getElementById('token').value,
  }));
  assert.deepEqual(storage.session, [ADMIN], 'the token is in sessionStorage, once');
  assert.equal(storage.local, 0, 'nothing in localStorage');
  assert.equal(storage.input, '', 'the token field is emptied');
  assert.ok(!page.url().includes(ADMIN), `the token is in the URL ${page.url()}`);

  // Apps with their state and endpoint health.
  const appRow = (id) => page.locator(`#app-rows tr[data-app="${id}"]`);
  await eventually('the apps table lists the apps', async () => {
    assert.equal(await text(appRow(ids.erp).locator('td.name')), names.erp);
    assert.equal(await text(appRow(ids.wms).locator('td.name')), names.wms);
    assert.equal(await text(appRow(ids.xss).locator('td.name')), names.xss);
  });
  assert.equal(await text(appRow(ids.erp).locator('td.state')), 'active');
  assert.equal(await text(appRow(ids.erp).locator('td.mode')), 'websocket');
  assert.equal(await text(appRow(ids.wms).locator('td.mode')), 'callback');
  assert.match(await text(appRow(ids.wms).locator('td.endpoint')), /^(active|failing)$/);
  assert.equal(await page.locator('#app-rows img').count(), 0, 'an app name became an element');
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'an app name ran script');

  // The lag table: largest first, each row as the API has it.
  const lagRow = (id, merchant) => page.locator(`#lag-rows tr[data-app="${id}"][data-merchant="${merchant}"]`);
  await eventually('the lag table shows erp/A first with lag 7', async () => {
    const first = page.locator('#lag-rows tr').first();
    assert.equal(await text(first.locator('td.app')), names.erp);
    assert.equal(await text(first.locator('td.merchant')), merchantA);
    assert.equal(await text(first.locator('td.lag')), '7');
    assert.equal(await text(first.locator('td.head')), '7');
    assert.equal(await text(first.locator('td.cursor')), '0');
    assert.match(await text(first.locator('td.oldest')), /ago$/);
  });
  assert.equal(await text(lagRow(ids.erp, merchantB).locator('td.lag')), '4');
  assert.equal(await text(lagRow(ids.wms, merchantB).locator('td.lag')), '4');
  assert.equal(await text(lagRow(ids.wms, merchantB).locator('td.app')), names.wms);
  const lags = await page.locator('#lag-rows td.lag').allTextContents();
  const numbers = lags.map((l) => Number(l.replace(/,/g, '')));
  assert.deepEqual(numbers, [...numbers].sort((a, b) => b - a), `lag not largest first: ${lags}`);
  assert.equal(await lagRow(ids.xss, merchantB).count(), 0, 'a caught-up app is in the lag table');

  // Impact of a selected app.
  const figure = (key) => page.locator(`#impact-figures dd[data-figure="${key}"]`);
  await appRow(ids.erp).locator('button.impact').click();
  await eventually('the impact of erp', async () => {
    assert.equal(await text(page.locator('#impact-app')), names.erp);
    assert.equal(await text(figure('merchantsBehind')), '2');
    assert.equal(await text(figure('pendingEvents')), '11');
    assert.equal(await text(figure('pendingOrders')), '5');
    assert.equal(await text(figure('endpointState')), 'WebSocket app');
  });
  await lagRow(ids.wms, merchantB).click();
  await eventually('the impact of wms, with its endpoint', async () => {
    assert.equal(await text(page.locator('#impact-app')), names.wms);
    assert.equal(await text(figure('merchantsBehind')), '1');
    assert.equal(await text(figure('pendingEvents')), '4');
    assert.equal(await text(figure('pendingOrders')), '2');
    assert.ok(await page.locator('#endpoint-title').isVisible());
    assert.match(await text(page.locator('#endpoint-figures dd[data-figure="state"]')), /^(active|failing)$/);
  });

  // Live rates: events ingested while the page watches show as a rate above zero.
  await ingest(merchantC, Array.from({ length: 50 }, (_, i) => `o-${i}`), 'c');
  await eventually(
    'the ingest rate shows the 50 new events',
    async () => assert.ok(Number(await text(page.locator('#rate-ingest'))) > 0, 'rate still 0 or –'),
    15_000,
  );

  // Freeze and unfreeze through the page; the API says it happened.
  await appRow(ids.erp).locator('button.freeze').click();
  await eventually('erp is frozen (API)', async () =>
    assert.equal((await admin('GET', `/v1/apps/${ids.erp}`)).state, 'frozen'),
  );
  assert.ok(dialogs.some((d) => d.includes(names.erp)), `no confirmation named the app: ${dialogs}`);
  await eventually('erp shows frozen', async () => {
    assert.equal(await text(appRow(ids.erp).locator('td.state')), 'frozen');
    assert.equal(await text(lagRow(ids.erp, merchantA).locator('td.state')), 'frozen');
  });
  await appRow(ids.erp).locator('button.unfreeze').click();
  await eventually('erp is active again (API)', async () =>
    assert.equal((await admin('GET', `/v1/apps/${ids.erp}`)).state, 'active'),
  );
  await eventually('erp shows active', async () =>
    assert.equal(await text(appRow(ids.erp).locator('td.state')), 'active'),
  );

  // Retry now: the page asks the gateway to send the endpoint's waiting batches at once.
  const retried = page.waitForResponse(
    (r) => r.url().endsWith(`/v1/apps/${ids.wms}/endpoint/retry`) && r.request().method() === 'POST',
  );
  await appRow(ids.wms).locator('button.retry').click();
  assert.equal((await retried).status(), 200, 'retry now answered 200');

  // Suspend and resume the callback endpoint through the page.
  await appRow(ids.wms).locator('button.suspend').click();
  await eventually('wms endpoint suspended (API)', async () =>
    assert.equal((await admin('GET', `/v1/apps/${ids.wms}/endpoint`)).state, 'suspended'),
  );
  await eventually('wms shows suspended', async () =>
    assert.equal(await text(appRow(ids.wms).locator('td.endpoint')), 'suspended'),
  );
  // A refresh that brings nothing new leaves the rows in place: replaced under the pointer, a
  // button swallows the click (pressed on it, released on its replacement).
  const resume = await appRow(ids.wms).locator('button.resume').elementHandle();
  const refreshed = page.waitForRequest((r) => r.url().includes('/impact'));
  await page.locator('#refresh').click();
  await refreshed; // the apps table is rendered before the impact is asked for
  assert.ok(await resume.evaluate((n) => n.isConnected), 'a refresh with nothing new replaced the rows');
  await appRow(ids.wms).locator('button.resume').click();
  await eventually('wms endpoint resumed (API)', async () =>
    assert.notEqual((await admin('GET', `/v1/apps/${ids.wms}/endpoint`)).state, 'suspended'),
  );
  await eventually('wms shows resumed', async () =>
    assert.match(await text(appRow(ids.wms).locator('td.endpoint')), /^(active|failing)$/),
  );

  // The picture of the board, with erp's impact selected.
  await appRow(ids.erp).locator('button.impact').click();
  await eventually('erp selected', async () =>
    assert.equal(await text(figure('pendingEvents')), '11'),
  );
  await page.screenshot({ path: `${OUT}/console.png`, fullPage: true });

  // Forgetting the token leaves nothing behind.
  await page.locator('#forget').click();
  await page.locator('#login').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);

  // The wrong token's two 401s (the browser logs each as well) are the only errors expected.
  const unexpected = errors.filter((e) => !/status of 401|^401 for /.test(e));
  assert.deepEqual(unexpected, [], 'errors in the page (script errors, CSP violations)');
}

async function main() {
  await mkdir(OUT, { recursive: true });
  const ids = await makeData();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root in a container, on a machine whose network stops at loopback.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.setDefaultTimeout(10_000);
  const errors = [];
  const dialogs = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} for ${r.url()}`));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.accept();
  });
  try {
    await checkConsole(page, ids, errors, dialogs);
    console.log(`console check: passed (apps, lag, impact, rates, freeze/unfreeze, suspend/resume); ${OUT}/console.png`);
  } catch (e) {
    await page.screenshot({ path: `${OUT}/failure.png`, fullPage: true }).catch(() => {});
    if (errors.length) console.error(`errors in the page: ${errors.join('\n  ')}`);
    throw e;
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`console check FAILED: ${e.message}`);
  process.exit(1);
});
