// The audit log viewer: filters (kept in the URL fragment, never the token), the events table
// paged through nextCursor, the charts of /stats/timeline, the detail dialog, and live events
// from /events/stream. A 401 anywhere shows the token form.

import { ApiError, Unauthorized, authHeaders, forgetToken, getBytes, getJson, setToken, token, withQuery } from './api.js';
import { drawCost, drawCounts, typeColor } from './charts.js';
import { follow } from './sse.js';
import { EventTable, formatCost, formatDuration } from './table.js';

const DOCUMENTED_TYPES = ['agent:start', 'agent:complete', 'agent:error', 'swarm:start',
  'swarm:complete', 'swarm:progress', 'workflow:start', 'workflow:complete',
  'workflow:step:complete', 'budget:warning', 'budget:exceeded', 'safety:block'];
const PAGE_SIZE = 50;
const MAX_HOURLY_BUCKETS = 1990;

const $ = (id) => document.getElementById(id);
const table = new EventTable($('events-body'), openDetail);
const knownTypes = new Set(DOCUMENTED_TYPES);
const state = { filters: readHash(), cursor: null, complete: false, generation: 0, stream: null, chartTimer: null };

// ---- filters -------------------------------------------------------------------------------

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const types = (params.get('type') ?? '').split(',').filter(Boolean);
  return { types: new Set(types), since: params.get('since') ?? '', until: params.get('until') ?? '' };
}

function filterParams() {
  const f = state.filters;
  return { type: [...f.types].sort().join(','), since: f.since, until: f.until };
}

function writeHash() {
  const query = withQuery('', filterParams()).replace(/^\?/, '');
  history.replaceState(null, '', query ? `#${query}` : location.pathname);
}

/** datetime-local text (taken as UTC) to RFC 3339, and back. */
const toUtc = (local) => (local ? `${local.length === 16 ? `${local}:00` : local}Z` : '');
const toLocal = (utc) => (utc ? utc.replace(/Z$/, '').slice(0, 19) : '');

function renderTypeOptions() {
  const box = $('type-options');
  const types = [...knownTypes].sort();
  const shown = [...box.querySelectorAll('input')].map((input) => input.value);
  if (shown.join('\n') === types.join('\n')) return;
  box.replaceChildren(...types.map((type) => {
    const label = document.createElement('label');
    label.className = 'chip';
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.name = 'type';
    input.value = type;
    input.checked = state.filters.types.has(type);
    input.addEventListener('change', () => {
      if (input.checked) state.filters.types.add(type); else state.filters.types.delete(type);
      reload();
    });
    const dot = document.createElement('span');
    dot.className = 'dot';
    dot.style.setProperty('--type-color', typeColor(type));
    label.append(input, dot, document.createTextNode(type));
    return label;
  }));
}

function learnType(type) {
  if (typeof type === 'string' && !knownTypes.has(type)) {
    knownTypes.add(type);
    renderTypeOptions();
  }
}

function applyRangeInputs() {
  const since = toUtc($('since').value);
  const until = toUtc($('until').value);
  if (since && until && since >= until) {
    showError('filter-error', 'Since must be before until.');
    return;
  }
  Object.assign(state.filters, { since, until });
  reload();
}

function preset(hours) {
  const since = hours ? new Date(Date.now() - hours * 3600e3).toISOString().slice(0, 19) : '';
  $('since').value = since;
  $('until').value = '';
  applyRangeInputs();
}

// ---- loading ------------------------------------------------------------------------------

function showError(id, message) {
  $(id).textContent = message;
  $(id).hidden = !message;
}

function handleFailure(err, where) {
  if (err instanceof Unauthorized) return askForToken(token() ? 'That token was refused.' : '');
  if (err.name === 'AbortError') return;
  showError('filter-error', `${where}: ${err.message}`);
}

/** Starts over with the current filters: the first page, the charts and the live stream. */
function reload() {
  const generation = ++state.generation;
  showError('filter-error', '');
  writeHash();
  state.stream?.abort();
  table.clear();
  state.cursor = null;
  state.complete = false;
  startStream(generation);
  loadPage(generation);
  loadCharts(generation);
}

async function loadPage(generation) {
  const button = $('load-older');
  button.disabled = true;
  try {
    const page = await getJson(withQuery('/events', { ...filterParams(), limit: PAGE_SIZE, cursor: state.cursor }));
    if (generation !== state.generation) return;
    unlock();
    table.append(page.events);
    page.events.forEach((event) => learnType(event.type));
    state.cursor = page.nextCursor;
    state.complete = page.nextCursor === null;
    renderCount();
  } catch (err) {
    handleFailure(err, 'Loading events');
  } finally {
    button.disabled = false;
  }
}

function renderCount() {
  $('events-count').textContent = `${table.size} event${table.size === 1 ? '' : 's'} shown`;
  $('events-empty').hidden = table.size > 0 || !state.complete;
  $('load-older').hidden = state.complete;
  $('end-of-log').hidden = !state.complete || table.size === 0;
}

function chooseBucket() {
  const { since, until } = state.filters;
  if (!since || !until) return 'hour';
  return (Date.parse(until) - Date.parse(since)) / 3600e3 > MAX_HOURLY_BUCKETS ? 'day' : 'hour';
}

async function loadCharts(generation) {
  const params = filterParams();
  let timeline;
  try {
    try {
      timeline = await getJson(withQuery('/stats/timeline', { ...params, bucket: chooseBucket() }));
    } catch (err) {
      // The log spans too many hours for hourly buckets: count per day instead.
      if (!(err instanceof ApiError && err.status === 400 && err.message.startsWith('bucket'))) throw err;
      timeline = await getJson(withQuery('/stats/timeline', { ...params, bucket: 'day' }));
    }
  } catch (err) {
    return handleFailure(err, 'Loading charts');
  }
  if (generation !== state.generation) return;
  renderCharts(timeline);
}

function renderCharts(timeline) {
  const per = timeline.bucket;
  $('count-caption').textContent = `Events per ${per} by type`;
  $('cost-caption').textContent = `Cost per ${per}`;
  const types = drawCounts($('count-chart'), timeline);
  drawCost($('cost-chart'), timeline, formatCost);
  types.forEach(learnType);
  $('legend').replaceChildren(...types.map((type) => {
    const item = document.createElement('li');
    const dot = document.createElement('span');
    dot.className = 'dot';
    dot.style.setProperty('--type-color', typeColor(type));
    item.append(dot, document.createTextNode(type));
    return item;
  }));
  const events = timeline.buckets.reduce((n, b) => n + Object.values(b.counts).reduce((a, c) => a + c, 0), 0);
  const cost = timeline.buckets.reduce((n, b) => n + b.cost, 0);
  const span = timeline.since ? ` · ${timeline.since.slice(0, 16).replace('T', ' ')} – ${timeline.until.slice(0, 16).replace('T', ' ')} UTC` : '';
  $('chart-summary').textContent = `${events} events · cost ${formatCost(cost)}${span}`;
}

/** Charts are refreshed at most every 2 s while live events arrive. */
function scheduleCharts() {
  if (state.chartTimer) return;
  const generation = state.generation;
  state.chartTimer = setTimeout(() => {
    state.chartTimer = null;
    if (generation === state.generation) loadCharts(generation);
  }, 2000);
}

// ---- live -----------------------------------------------------------------------------------

const LIVE_TEXT = { connecting: 'Live: connecting…', live: 'Live', retrying: 'Live: reconnecting…',
  unauthorized: 'Live: needs token', unavailable: 'Live: unavailable', off: 'Live: off' };

function setLive(status) {
  $('live-status').dataset.state = status;
  $('live-status').textContent = LIVE_TEXT[status] ?? status;
}

function matches(event) {
  const { types, since, until } = state.filters;
  if (types.size && !types.has(event.type)) return false;
  if (since && Date.parse(event.timestamp) < Date.parse(since)) return false;
  return !(until && Date.parse(event.timestamp) >= Date.parse(until));
}

function startStream(generation) {
  const controller = new AbortController();
  state.stream = controller;
  follow({
    url: withQuery('/events/stream', filterParams()),
    headers: authHeaders,
    signal: controller.signal,
    onStatus: (status) => {
      if (generation === state.generation) setLive(status);
    },
    onEvent: (event) => {
      if (generation !== state.generation || !matches(event)) return;
      learnType(event.type);
      if (table.insert(event, state.complete)) renderCount();
      scheduleCharts();
    },
  });
}

// ---- token and detail -------------------------------------------------------------------------

function askForToken(message) {
  state.stream?.abort();
  setLive('off');
  $('viewer').hidden = true;
  $('token-panel').hidden = false;
  $('sign-out').hidden = true;
  showError('token-error', message);
  $('token-input').focus();
}

function unlock() {
  $('token-panel').hidden = true;
  $('viewer').hidden = false;
  $('sign-out').hidden = !token();
}

async function openDetail(event) {
  const dialog = $('detail');
  $('detail-title').textContent = `${event.type} · ${event.id}`;
  const fields = [['Id', event.id], ['Type', event.type], ['Timestamp', event.timestamp],
    ['Received', event.receivedAt], ['Webhook', event.webhookId ?? '—'], ['Instance', event.instanceId ?? '—'],
    ['Cost', formatCost(event.data?.cost) || '—'], ['Duration', formatDuration(event.data?.durationMs) || '—']];
  $('detail-meta').replaceChildren(...fields.flatMap(([name, value]) => {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.textContent = String(value);
    return [dt, dd];
  }));
  $('detail-json').textContent = JSON.stringify(event, null, 2);
  $('detail-body').textContent = 'Loading…';
  $('body-size').textContent = '';
  if (!dialog.open) dialog.showModal();
  try {
    const bytes = await getBytes(`/events/${encodeURIComponent(event.id)}/body`);
    $('detail-body').textContent = new TextDecoder().decode(bytes);
    $('body-size').textContent = `(${bytes.length} bytes)`;
  } catch (err) {
    $('detail-body').textContent = `Could not load the body: ${err.message}`;
    if (err instanceof Unauthorized) { dialog.close(); askForToken('The token was refused.'); }
  }
}

// ---- wiring ---------------------------------------------------------------------------------

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  setToken($('token-input').value.trim());
  $('token-input').value = '';
  reload();
});
$('sign-out').addEventListener('click', () => { forgetToken(); askForToken(''); });
$('filters').addEventListener('submit', (e) => { e.preventDefault(); applyRangeInputs(); });
$('reset-filters').addEventListener('click', () => {
  state.filters = { types: new Set(), since: '', until: '' };
  $('since').value = '';
  $('until').value = '';
  document.querySelectorAll('#type-options input').forEach((input) => { input.checked = false; });
  reload();
});
document.querySelectorAll('.presets button').forEach((button) => {
  button.addEventListener('click', () => preset(Number(button.dataset.hours)));
});
$('load-older').addEventListener('click', () => loadPage(state.generation));
document.querySelectorAll('button.copy').forEach((button) => {
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($(button.dataset.copy).textContent);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Copy failed';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  });
});
window.addEventListener('hashchange', () => {
  state.filters = readHash();
  $('since').value = toLocal(state.filters.since);
  $('until').value = toLocal(state.filters.until);
  renderTypeOptions();
  document.querySelectorAll('#type-options input').forEach((input) => { input.checked = state.filters.types.has(input.value); });
  reload();
});

$('since').value = toLocal(state.filters.since);
$('until').value = toLocal(state.filters.until);
state.filters.types.forEach((type) => knownTypes.add(type));
renderTypeOptions();
reload();
