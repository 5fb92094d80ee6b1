// The audit log viewer: filters (kept in the URL query string, never the token; each change
// is a history entry, so back returns to the previous view), the events table paged through
// nextCursor, the charts of /stats/timeline, the cost by group of /stats/groups, the detail
// dialog, live events from /events/stream and the CSV download. Ids, types and days are links
// that filter the view. A 401 anywhere shows the token form.

import { ApiError, Unauthorized, authHeaders, forgetToken, getJson, setToken, token, withQuery } from './api.js';
import { drawCost, drawCounts, typeColor } from './charts.js';
import { followDownloadLink, showDetail } from './detail.js';
import { ID_FILTERS, apiParams, emptyFilters, matchesEvent, readFilters, sinceOf, withChange, writeFilters } from './filters.js';
import { GroupTable } from './groups.js';
import { follow } from './sse.js';
import { EventTable, formatCost } from './table.js';

const DOCUMENTED_TYPES = ['agent:start', 'agent:complete', 'agent:error', 'swarm:start',
  'swarm:complete', 'swarm:progress', 'workflow:start', 'workflow:complete',
  'workflow:step:complete', 'budget:warning', 'budget:exceeded', 'safety:block'];
const PAGE_SIZE = 50;
const MAX_HOURLY_BUCKETS = 1990;

const $ = (id) => document.getElementById(id);
const table = new EventTable($('events-body'), openDetail, idLink);
const groups = new GroupTable(
  { body: $('groups-body'), keyHeader: $('groups-key'), message: $('groups-message'), more: $('groups-more') },
  groupKeyLink, (err) => handleFailure(err, 'Loading groups'));
const knownTypes = new Set(DOCUMENTED_TYPES);
const state = { filters: initialFilters(), cursor: null, complete: false, generation: 0, stream: null, chartTimer: null };

// ---- filters and the URL ------------------------------------------------------------------------

/** The filters of the page's URL; a bookmark of the old `#type=…` form still opens its view. */
function initialFilters() {
  if (!location.search && location.hash.length > 1) {
    const filters = readFilters(location.hash.slice(1));
    history.replaceState(null, '', `${location.pathname}${writeFilters(filters)}`);
    return filters;
  }
  return readFilters(location.search);
}

/** The API parameters of the current view, with or without q (see `apiParams`). */
function filterParams(search = false) {
  return apiParams(state.filters, { search, now: state.loadedAt });
}

/** Shows `filters` as a new history entry: the back button returns to the view before. */
function navigate(filters) {
  const query = writeFilters(filters);
  if (query !== location.search) history.pushState(null, '', `${location.pathname}${query}`);
  state.filters = filters;
  syncInputs();
  reload();
}

const change = (edit) => navigate(withChange(state.filters, edit));

/** The page's URL for the current filters changed by `edit`: the href of a filtering link. */
function hrefWith(edit) {
  return `${location.pathname}${writeFilters(withChange(state.filters, edit))}`;
}

/** A link to this view filtered by `edit`; a plain click stays in the page, others open a tab. */
function filterLink(text, edit, title) {
  const a = document.createElement('a');
  a.className = 'filter-link';
  a.textContent = text;
  a.title = title;
  a.href = hrefWith(edit);
  a.addEventListener('click', (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    $('detail').close();
    change(edit);
  });
  return a;
}

/** A link filtering the view on one id (replacing any other value of that filter). */
function idLink(key, value) {
  const a = filterLink(value, (f) => { f.ids[key] = [value]; }, `Show only ${key} ${value}`);
  a.dataset.filter = key;
  a.dataset.value = value;
  return a;
}

/** A cost-by-group key as a link: an id or a type filters on it, a day sets the window to it. */
function groupKeyLink(by, key) {
  if (ID_FILTERS.includes(by)) return idLink(by, key);
  if (by === 'type') return filterLink(key, (f) => { f.types = new Set([key]); }, `Show only ${key}`);
  const start = `${key}T00:00:00Z`;
  const end = new Date(Date.parse(start) + 86400e3).toISOString().replace('.000Z', 'Z');
  return filterLink(key, (f) => Object.assign(f, { window: '', since: start, until: end }), `Show ${key} (UTC)`);
}

/** Puts the filters into the form's inputs, the type chips, the presets and the id chips. */
function syncInputs() {
  const f = state.filters;
  $('since').value = toLocal(f.window ? sinceOf(f) : f.since);
  $('until').value = toLocal(f.window ? '' : f.until);
  $('search').value = f.q;
  $('group-by').value = f.groupBy;
  f.types.forEach((type) => knownTypes.add(type));
  renderTypeOptions();
  document.querySelectorAll('#type-options input').forEach((input) => { input.checked = f.types.has(input.value); });
  document.querySelectorAll('.presets button').forEach((button) => {
    const active = button.dataset.window === f.window && (f.window || (!f.since && !f.until));
    button.setAttribute('aria-pressed', String(Boolean(active)));
  });
  renderActiveFilters();
}

/** One removable chip per id filter value. */
function renderActiveFilters() {
  const chips = ID_FILTERS.flatMap((key) => state.filters.ids[key].map((value) => {
    const item = document.createElement('li');
    item.className = 'chip';
    item.dataset.filter = key;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'quiet remove';
    remove.textContent = '✕';
    remove.setAttribute('aria-label', `Remove the filter ${key} ${value}`);
    remove.addEventListener('click', () => change((f) => { f.ids[key] = f.ids[key].filter((v) => v !== value); }));
    item.append(document.createTextNode(`${key}: ${value}`), remove);
    return item;
  }));
  $('active-filters').replaceChildren(...chips);
  $('active-filters').hidden = chips.length === 0;
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
    input.addEventListener('change', () => change((f) => {
      if (input.checked) f.types.add(type); else f.types.delete(type);
    }));
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

/** Applies the form: the range (a relative window stays one unless its inputs were edited) and q. */
function applyForm() {
  const since = toUtc($('since').value);
  const until = toUtc($('until').value);
  if (since && until && since >= until) {
    showError('filter-error', 'Since must be before until.');
    return;
  }
  const f = state.filters;
  const windowKept = f.window && since === toUtc(toLocal(sinceOf(f, state.loadedAt))) && !until;
  change((next) => {
    if (!windowKept) Object.assign(next, { window: '', since, until });
    next.q = $('search').value.trim();
  });
}

function preset(window) {
  change((f) => Object.assign(f, { window, since: '', until: '' }));
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

/**
 * Starts over with the current filters: the first page, the charts, the groups, the download
 * link and the live stream (which cannot search: with q there is none).
 */
function reload() {
  const generation = ++state.generation;
  state.loadedAt = Date.now();
  showError('filter-error', '');
  state.stream?.abort();
  table.clear();
  state.cursor = null;
  state.complete = false;
  // A relative window ("last 24 h") starts from now at each reload; the input shows where.
  if (state.filters.window) $('since').value = toLocal(sinceOf(state.filters, state.loadedAt));
  $('download-csv').href = withQuery('/events/export', { format: 'csv', ...filterParams(true) });
  if (state.filters.q) setLive('searching'); else startStream(generation);
  loadPage(generation);
  loadCharts(generation);
  groups.load(state.filters.groupBy, filterParams());
}

async function loadPage(generation) {
  const button = $('load-older');
  button.disabled = true;
  try {
    const page = await getJson(withQuery('/events', { ...filterParams(true), limit: PAGE_SIZE, cursor: state.cursor }));
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
  const { since, until } = filterParams();
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
  unauthorized: 'Live: needs token', unavailable: 'Live: unavailable', off: 'Live: off',
  searching: 'Live: off while searching' };

function setLive(status) {
  $('live-status').dataset.state = status;
  $('live-status').textContent = LIVE_TEXT[status] ?? status;
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
      if (generation !== state.generation || !matchesEvent(state.filters, event, state.loadedAt)) return;
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

function openDetail(event) {
  showDetail(event, { idLink, onUnauthorized: () => askForToken('The token was refused.') });
}

function downloadWithToken(e) {
  if (!token()) return; // no token: the browser follows the plain link
  e.preventDefault();
  followDownloadLink($('download-csv').getAttribute('href'))
    .catch((err) => handleFailure(err, 'Download'));
}

// ---- wiring ---------------------------------------------------------------------------------

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  setToken($('token-input').value.trim());
  $('token-input').value = '';
  reload();
});
$('sign-out').addEventListener('click', () => { forgetToken(); askForToken(''); });
$('filters').addEventListener('submit', (e) => { e.preventDefault(); applyForm(); });
$('reset-filters').addEventListener('click', () => {
  navigate(Object.assign(emptyFilters(), { groupBy: state.filters.groupBy }));
});
document.querySelectorAll('.presets button').forEach((button) => {
  button.addEventListener('click', () => preset(button.dataset.window));
});
$('group-by').addEventListener('change', () => change((f) => { f.groupBy = $('group-by').value; }));
$('download-csv').addEventListener('click', downloadWithToken);
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
window.addEventListener('popstate', () => {
  state.filters = readFilters(location.search);
  syncInputs();
  reload();
});

syncInputs();
reload();
