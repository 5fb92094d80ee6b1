// The audit log viewer in a real browser: headless Chromium (the system's, driven by
// playwright-core) against a running `dash-events serve`. Sends signed events, then does what an
// operator does: enters the token, sees the events, filters by type, sees a live event arrive,
// opens one (pretty JSON and the exact signed body), pages to the end of the log. Every step
// asserts with a bounded wait; screenshots go to ARTIFACT_DIR.
//
// Environment: DASH_EVENTS_URL (http://127.0.0.1:PORT), API_TOKEN, WEBHOOK_SECRET,
// ARTIFACT_DIR (default target/ci-artifacts), CHROMIUM (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { chromium } from 'playwright-core';

const base = required('DASH_EVENTS_URL');
const apiToken = required('API_TOKEN');
const secret = required('WEBHOOK_SECRET');
const artifacts = resolve(process.env.ARTIFACT_DIR ?? 'target/ci-artifacts');
const WAIT = 15_000;
const PAGE_SIZE = 50;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}

/** POSTs `body` (a string, sent byte for byte) signed as Dash does; asserts a new event. */
async function deliver(body) {
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const response = await fetch(`${base}/webhooks/dash`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-dash-signature': signature },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const answer = await response.json();
  assert.equal(response.status, 200, JSON.stringify(answer));
  assert.equal(answer.duplicate, false, JSON.stringify(answer));
}

function event(type, timestamp, data) {
  return { id: randomUUID(), type, timestamp, data, webhookId: 'wh_ci', instanceId: 'inst_ci' };
}

const TYPES = ['agent:complete', 'agent:complete', 'agent:complete', 'agent:start', 'agent:error',
  'workflow:step:complete', 'workflow:complete', 'swarm:progress', 'budget:warning'];

/** 72 events over the last 20 hours, in Dash's type mix, with costs and durations. */
function sample() {
  const now = Date.now();
  return Array.from({ length: 72 }, (_, n) => {
    const type = TYPES[n % TYPES.length];
    const timestamp = new Date(now - (n * 1000 + 7) * 1000).toISOString();
    const data = { agentId: `agent-${n % 7}`, result: n % 5 ? 'done' : 'partial', durationMs: 800 + (n * 137) % 9000 };
    if (type.startsWith('agent:') || type.startsWith('workflow')) data.cost = Math.round(((n * 37) % 23) + 1) / 100;
    if (type === 'budget:warning') Object.assign(data, { percentage: 80, budget: 50 });
    return event(type, timestamp, data);
  });
}

async function step(name, action) {
  const started = Date.now();
  try {
    await action();
  } catch (err) {
    console.error(`FAIL ${name}: ${err.message}`);
    throw err;
  }
  console.log(`ok   ${name} (${Date.now() - started} ms)`);
}

const rowIds = (page) => page.$$eval('#events-body tr', (rows) => rows.map((r) => r.dataset.id));
const rowTypes = (page) => page.$$eval('#events-body tr', (rows) => rows.map((r) => r.dataset.type));

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const events = sample();
  // One body with the spacing and key order of its own, to see that the page shows exact bytes.
  const exact = event('budget:exceeded', new Date(Date.now() - 3 * 3600e3).toISOString(), { budget: 50, spent: 51.25 });
  const exactBody = `{ "type":"budget:exceeded",  "id":"${exact.id}", "timestamp":"${exact.timestamp}",\n  "data":{"spent":51.25,"budget":50}, "webhookId":"wh_ci", "instanceId":"inst_ci" }`;
  for (const e of events) await deliver(JSON.stringify(e));
  await deliver(exactBody);
  const all = [...events, exact];
  const newestFirst = [...all].sort((a, b) => b.timestamp.localeCompare(a.timestamp) || (b.id > a.id ? 1 : -1));

  const profile = mkdtempSync(join(tmpdir(), 'dash-events-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1360, height: 1000 },
    timeout: 60_000,
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(WAIT);
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // The browser logs every 401 answer; the token steps provoke them on purpose.
    if (msg.type() === 'error' && !msg.text().includes('status of 401')) problems.push(`console: ${msg.text()}`);
  });
  page.on('request', (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith('data:')) problems.push(`external request: ${request.url()}`);
  });
  try {
    await step('the page asks for the token', async () => {
      await page.goto(`${base}/`);
      await page.locator('#token-panel').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#viewer').isVisible(), false);
    });

    await step('a wrong token is refused', async () => {
      await page.fill('#token-input', 'not-the-token');
      await page.press('#token-input', 'Enter');
      await page.locator('#token-error').filter({ hasText: 'refused' }).waitFor();
    });

    await step('the right token shows the newest events and the charts', async () => {
      await page.fill('#token-input', apiToken);
      await page.click('#token-form button[type=submit]');
      await page.waitForFunction((n) => document.querySelectorAll('#events-body tr').length === n, PAGE_SIZE);
      assert.deepEqual(await rowIds(page), newestFirst.slice(0, PAGE_SIZE).map((e) => e.id));
      await page.waitForFunction(() => document.querySelectorAll('#count-chart rect').length > 0);
      await page.locator('#chart-summary').filter({ hasText: `${all.length} events` }).waitFor();
      await page.locator('#live-status[data-state=live]').waitFor();
      const stored = await page.evaluate(() => [sessionStorage.length, localStorage.length, location.href]);
      assert.equal(stored[0], 1, 'the token is in sessionStorage');
      assert.equal(stored[1], 0, 'nothing in localStorage');
      assert.ok(!stored[2].includes(apiToken), 'the token is not in the URL');
      await page.screenshot({ path: join(artifacts, 'viewer.png') });
      await page.screenshot({ path: join(artifacts, 'viewer-full.png'), fullPage: true });
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.screenshot({ path: join(artifacts, 'viewer-dark.png') });
      await page.emulateMedia({ colorScheme: 'light' });
    });

    const warnings = newestFirst.filter((e) => e.type === 'budget:warning');
    await step('filtering by type shows only that type', async () => {
      await page.locator('#type-options label', { hasText: /^budget:warning$/ }).click();
      await page.waitForFunction((n) => {
        const rows = [...document.querySelectorAll('#events-body tr')];
        return rows.length === n && rows.every((r) => r.dataset.type === 'budget:warning');
      }, warnings.length);
      assert.deepEqual(await rowIds(page), warnings.map((e) => e.id));
      await page.locator('#end-of-log').waitFor();
      await page.locator('#chart-summary').filter({ hasText: `${warnings.length} events` }).waitFor();
    });

    const liveWarning = event('budget:warning', new Date().toISOString(), { percentage: 95, budget: 50 });
    const liveOther = event('agent:error', new Date().toISOString(), { agentId: 'agent-live', error: 'boom' });
    await step('a new event of the filtered type arrives live, others do not', async () => {
      // A mark on the window: gone if the page were reloaded instead of updated.
      await page.evaluate(() => { window.stillTheSamePage = true; });
      await deliver(JSON.stringify(liveOther));
      await deliver(JSON.stringify(liveWarning));
      await page.locator(`#events-body tr.fresh[data-id="${liveWarning.id}"]`).waitFor();
      assert.equal(await page.evaluate(() => window.stillTheSamePage), true, 'the page was reloaded');
      assert.equal((await rowIds(page))[0], liveWarning.id);
      assert.ok(!(await rowIds(page)).includes(liveOther.id), 'an event of another type was shown');
      assert.ok((await rowTypes(page)).every((t) => t === 'budget:warning'));
    });

    await step('without filters the live events are there, newest first', async () => {
      await page.click('#reset-filters');
      await page.waitForFunction((n) => document.querySelectorAll('#events-body tr').length === n, PAGE_SIZE);
      const ids = await rowIds(page);
      assert.deepEqual(new Set(ids.slice(0, 2)), new Set([liveWarning.id, liveOther.id]));
    });

    await step('an event opens with pretty JSON and its exact signed body', async () => {
      await page.locator('#type-options label', { hasText: /^budget:exceeded$/ }).click();
      await page.locator(`#events-body tr[data-id="${exact.id}"] button`).click();
      await page.locator('#detail[open]').waitFor();
      await page.locator('#body-size').filter({ hasText: 'bytes' }).waitFor();
      const pretty = await page.locator('#detail-json').textContent();
      assert.ok(pretty.includes('\n  "data": {\n'), `not pretty-printed: ${pretty}`);
      const shown = JSON.parse(pretty);
      assert.equal(shown.id, exact.id);
      assert.deepEqual(shown.data, exact.data);
      assert.equal(await page.locator('#detail-body').textContent(), exactBody);
      assert.equal(await page.locator('#body-size').textContent(), `(${Buffer.byteLength(exactBody)} bytes)`);
      await page.screenshot({ path: join(artifacts, 'viewer-detail.png') });
      await page.keyboard.press('Escape');
      await page.locator('#detail').waitFor({ state: 'hidden' });
    });

    await step('paging older reaches every event once, then the end of the log', async () => {
      await page.click('#reset-filters');
      await page.waitForFunction((n) => document.querySelectorAll('#events-body tr').length === n, PAGE_SIZE);
      await page.click('#load-older');
      const total = all.length + 2;
      await page.waitForFunction((n) => document.querySelectorAll('#events-body tr').length === n, total);
      await page.locator('#end-of-log').waitFor();
      assert.equal(await page.locator('#load-older').isVisible(), false);
      const ids = await rowIds(page);
      assert.equal(new Set(ids).size, total);
      assert.deepEqual(ids.slice(2), newestFirst.map((e) => e.id));
    });

    assert.deepEqual(problems, [], 'the page had errors or reached outside');
  } catch (err) {
    await page.screenshot({ path: join(artifacts, 'viewer-failure.png'), fullPage: true }).catch(() => {});
    console.error(`screenshot of the failure: ${join(artifacts, 'viewer-failure.png')}`);
    if (problems.length) console.error(problems.join('\n'));
    throw err;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  for (const name of ['viewer.png', 'viewer-full.png', 'viewer-dark.png', 'viewer-detail.png']) console.log(`screenshot: ${join(artifacts, name)}`);
}

await main();
