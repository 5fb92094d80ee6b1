// The audit log viewer in a real browser: headless Chromium (the system's, driven by
// playwright-core) against a running `dash-events serve`. Sends signed events, then does what an
// operator does: enters the token, sees the events, filters by type, sees a live event arrive,
// opens one (pretty JSON and the exact signed body), pages to the end of the log, downloads the
// view as CSV, follows an agent link (the URL changes, back restores the view), searches, and
// reads the cost by group. Every step asserts with a bounded wait; screenshots go to ARTIFACT_DIR.
//
// Environment: DASH_EVENTS_URL (http://127.0.0.1:PORT), API_TOKEN, WEBHOOK_SECRET,
// ARTIFACT_DIR (default target/ci-artifacts), CHROMIUM (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

/** The word the search step looks for; only some events hold it. */
const SEARCH_WORD = 'pelican';

/**
 * 72 events over the last 20 hours, in Dash's type mix, with costs and durations, agents, swarms
 * and workflows; every tenth one's task names SEARCH_WORD, and one result needs CSV quoting.
 */
function sample() {
  const now = Date.now();
  return Array.from({ length: 72 }, (_, n) => {
    const type = TYPES[n % TYPES.length];
    const timestamp = new Date(now - (n * 1000 + 7) * 1000).toISOString();
    const data = { agentId: `agent-${n % 7}`, result: n % 5 ? 'done' : 'partial', durationMs: 800 + (n * 137) % 9000 };
    if (n % 3 === 0) data.swarmId = `swarm-${n % 2 ? 'b' : 'a'}`;
    if (type.startsWith('workflow')) data.workflowId = 'wf-nightly';
    if (n % 10 === 0) data.task = `Archive the ${SEARCH_WORD} photos, then "report", line one\nline two`;
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

/** The rows of an RFC 4180 text (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 1; }
    else field += c;
  }
  assert.equal(field + row.join(''), '', 'the last CSV row ends in CRLF');
  return rows;
}

const CSV_HEADER = ['id', 'type', 'timestamp', 'receivedAt', 'agentId', 'swarmId', 'workflowId',
  'instanceId', 'webhookId', 'cost', 'durationMs', 'data'];

/** Sums of events and cost per value of `key(event)` (null when absent), as /stats/groups counts. */
function groupSums(events, key) {
  const sums = new Map();
  for (const e of events) {
    const k = key(e) ?? null;
    const sum = sums.get(k) ?? { events: 0, cost: 0 };
    sum.events += 1;
    if (typeof e.data.cost === 'number') sum.cost += e.data.cost;
    sums.set(k, sum);
  }
  return sums;
}

/** The cost-by-group table as a Map of key ('' for none) to { events, cost }. */
const shownGroups = (page) => page.$$eval('#groups-body tr', (rows) => rows.map((r) => [r.dataset.key,
  { events: Number(r.cells[1].textContent), cost: Number(r.cells[2].dataset.cost) }]));

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

    const everything = [liveWarning, liveOther, ...all];
    await step('the CSV link downloads the rows of the view, streamed', async () => {
      await page.click('#reset-filters');
      await page.locator('#type-options label', { hasText: /^agent:complete$/ }).click();
      const shown = newestFirst.filter((e) => e.type === 'agent:complete');
      await page.waitForFunction((n) => document.querySelectorAll('#events-body tr').length === n
        && !document.querySelector('#end-of-log').hidden, shown.length);
      const ids = await rowIds(page);
      assert.deepEqual(ids, shown.map((e) => e.id));
      const href = await page.getAttribute('#download-csv', 'href');
      assert.equal(href, '/events/export?format=csv&type=agent%3Acomplete');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
      assert.match(download.suggestedFilename(), /^dash-events-\d{8}T\d{6}Z\.csv$/);
      const rows = parseCsv(readFileSync(await download.path(), 'utf8'));
      assert.deepEqual(rows[0], CSV_HEADER);
      assert.deepEqual(rows.slice(1).map((r) => r[0]), ids, 'the CSV holds the rows of the view, in order');
      const quoted = rows.slice(1).find((r) => r[11].includes(SEARCH_WORD));
      assert.ok(quoted, 'an event with a task');
      assert.match(JSON.parse(quoted[11]).task, /"report", line one\nline two$/);
      // The page followed a download link (the token cannot ride on a followed link): it opens
      // the same export without the token, streamed (chunked, no length known in advance).
      assert.match(download.url(), /\/events\/export\?format=csv&type=agent%3Acomplete&expires=\d+&signature=[0-9a-f]{64}$/);
      const again = await fetch(download.url(), { signal: AbortSignal.timeout(10_000) });
      assert.equal(again.status, 200);
      assert.equal(again.headers.get('content-type'), 'text/csv; charset=utf-8; header=present');
      assert.equal(again.headers.get('content-length'), null);
      assert.equal(again.headers.get('transfer-encoding'), 'chunked');
      assert.deepEqual(parseCsv(await again.text()), rows);
      const tampered = await fetch(download.url().replace('agent%3Acomplete', 'agent%3Aerror'));
      assert.equal(tampered.status, 401, 'a changed link is refused');
    });

    const agent = 'agent-3';
    const ofAgent = [liveWarning, liveOther, ...newestFirst].filter((e) => e.data.agentId === agent);
    let unfilteredIds;
    await step('an agent link filters the view and puts the filter in the URL', async () => {
      await page.click('#reset-filters');
      await page.waitForFunction((n) => document.querySelectorAll('#events-body tr').length === n, PAGE_SIZE);
      unfilteredIds = await rowIds(page);
      await page.locator(`#events-body a[data-filter=agentId][data-value="${agent}"]`).first().click();
      await page.waitForURL((url) => url.searchParams.get('agentId') === agent);
      await page.waitForFunction((ids) => {
        const rows = [...document.querySelectorAll('#events-body tr')].map((r) => r.dataset.id);
        return rows.join() === ids.join();
      }, ofAgent.map((e) => e.id));
      await page.locator('#active-filters li[data-filter=agentId]', { hasText: agent }).waitFor();
      await page.locator('#download-csv[href*="agentId=agent-3"]').waitFor();
      // The URL is the view: loaded afresh (a bookmark), it shows the same rows.
      await page.reload();
      await page.waitForFunction((n) => document.querySelectorAll('#events-body tr').length === n, ofAgent.length);
      assert.deepEqual(await rowIds(page), ofAgent.map((e) => e.id));
    });

    await step('back restores the view before the link', async () => {
      await page.goBack();
      await page.waitForURL((url) => !url.searchParams.has('agentId'));
      await page.waitForFunction((ids) => {
        const rows = [...document.querySelectorAll('#events-body tr')].map((r) => r.dataset.id);
        return rows.join() === ids.join();
      }, unfilteredIds);
      assert.equal(await page.locator('#active-filters').isVisible(), false);
    });

    await step('the search box shows the events holding its words', async () => {
      const found = newestFirst.filter((e) => (e.data.task ?? '').includes(SEARCH_WORD));
      await page.fill('#search', `  ${SEARCH_WORD.toUpperCase()} `);
      await page.press('#search', 'Enter');
      await page.waitForURL((url) => url.searchParams.get('q') === SEARCH_WORD.toUpperCase());
      await page.waitForFunction((ids) => {
        const rows = [...document.querySelectorAll('#events-body tr')].map((r) => r.dataset.id);
        return rows.join() === ids.join();
      }, found.map((e) => e.id));
      await page.locator('#live-status[data-state=searching]').waitFor();
      await page.locator(`#download-csv[href*="q=${SEARCH_WORD.toUpperCase()}"]`).waitFor();
      await page.goBack();
      await page.waitForURL((url) => !url.searchParams.has('q'));
      assert.equal(await page.inputValue('#search'), '');
    });

    await step('the cost by group table sums the events of the window', async () => {
      await page.locator('#live-status[data-state=live]').waitFor();
      const byAgent = groupSums(everything, (e) => e.data.agentId);
      await page.waitForFunction((n) => document.querySelectorAll('#groups-body tr').length === n, byAgent.size);
      const shown = await shownGroups(page);
      const costs = shown.map(([, sum]) => sum.cost);
      assert.deepEqual(costs, [...costs].sort((a, b) => b - a), 'most costly first');
      for (const [key, sum] of shown) {
        const expected = byAgent.get(key === '' ? null : key);
        assert.ok(expected, `an agent ${key} that was not sent`);
        assert.equal(sum.events, expected.events, `events of ${key}`);
        assert.ok(Math.abs(sum.cost - expected.cost) < 1e-9, `cost of ${key}: ${sum.cost} != ${expected.cost}`);
      }
      await page.selectOption('#group-by', 'type');
      await page.waitForURL((url) => url.searchParams.get('groupBy') === 'type');
      const byType = groupSums(everything, (e) => e.type);
      await page.waitForFunction((n) => document.querySelectorAll('#groups-body tr').length === n
        && document.querySelector('#groups-key').textContent === 'Type', byType.size);
      for (const [key, sum] of await shownGroups(page)) {
        assert.equal(sum.events, byType.get(key).events, `events of ${key}`);
      }
      await page.screenshot({ path: join(artifacts, 'viewer-groups.png'), fullPage: true });
      await page.locator('#groups-body a', { hasText: /^budget:warning$/ }).click();
      await page.waitForURL((url) => url.searchParams.get('type') === 'budget:warning');
      await page.waitForFunction(() => [...document.querySelectorAll('#events-body tr')].every((r) => r.dataset.type === 'budget:warning'));
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
  for (const name of ['viewer.png', 'viewer-full.png', 'viewer-dark.png', 'viewer-detail.png', 'viewer-groups.png']) console.log(`screenshot: ${join(artifacts, name)}`);
}

await main();
