// The view's filters and where they live: the page's URL query string, so that a view can be
// bookmarked or shared and the back button returns to the previous one. Pure functions (no DOM):
// reading filters from a query string, writing them back, and the parameters the API takes.

/** The id filters, named as the API and the URL name them. */
export const ID_FILTERS = ['agentId', 'swarmId', 'workflowId', 'instanceId', 'webhookId'];

/** The relative windows of the quick-range buttons, in hours: `window=24h` means the last 24 h. */
export const WINDOWS = { '1h': 1, '24h': 24, '7d': 168 };

/** What the cost-by-group table can group by; the first is the default. */
export const GROUP_BY = ['agentId', 'swarmId', 'workflowId', 'instanceId', 'type', 'day'];

/** No filter at all. */
export function emptyFilters() {
  return {
    types: new Set(), since: '', until: '', window: '', q: '', groupBy: GROUP_BY[0],
    ids: Object.fromEntries(ID_FILTERS.map((key) => [key, []])),
  };
}

/** Every value of a repeatable, comma-separated parameter, in order, without repeats. */
function listOf(params, key) {
  const values = params.getAll(key).flatMap((value) => value.split(',')).filter(Boolean);
  return [...new Set(values)];
}

/** The filters of a query string (`location.search`, or an old `#…` fragment). */
export function readFilters(query) {
  const params = new URLSearchParams(query);
  const filters = emptyFilters();
  filters.types = new Set(listOf(params, 'type'));
  filters.window = params.get('window') in WINDOWS ? params.get('window') : '';
  if (!filters.window) {
    filters.since = params.get('since') ?? '';
    filters.until = params.get('until') ?? '';
  }
  filters.q = (params.get('q') ?? '').trim();
  for (const key of ID_FILTERS) filters.ids[key] = listOf(params, key);
  if (GROUP_BY.includes(params.get('groupBy'))) filters.groupBy = params.get('groupBy');
  return filters;
}

/** The page's query string for `filters` ('' when there is none), in a stable order. */
export function writeFilters(filters) {
  const params = new URLSearchParams();
  if (filters.types.size) params.set('type', [...filters.types].sort().join(','));
  if (filters.window) params.set('window', filters.window);
  else {
    if (filters.since) params.set('since', filters.since);
    if (filters.until) params.set('until', filters.until);
  }
  for (const key of ID_FILTERS) {
    if (filters.ids[key].length) params.set(key, filters.ids[key].join(','));
  }
  if (filters.q) params.set('q', filters.q);
  if (filters.groupBy !== GROUP_BY[0]) params.set('groupBy', filters.groupBy);
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** A copy of `filters` (the sets and lists copied too), changed by `change`. */
export function withChange(filters, change) {
  const copy = {
    ...filters, types: new Set(filters.types),
    ids: Object.fromEntries(ID_FILTERS.map((key) => [key, [...filters.ids[key]]])),
  };
  change(copy);
  return copy;
}

/** The start of the window: `since`, or for a relative window that many hours before `now`. */
export function sinceOf(filters, now = Date.now()) {
  if (!filters.window) return filters.since;
  return new Date(now - WINDOWS[filters.window] * 3600e3).toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * The API's parameters for `filters`: type, since, until, the ids (comma-separated) and, where
 * the endpoint takes it (`/events` and the export, not the stream, the charts or the groups), q.
 */
export function apiParams(filters, { search = false, now = Date.now() } = {}) {
  const params = {
    type: [...filters.types].sort().join(','),
    since: sinceOf(filters, now),
    until: filters.window ? '' : filters.until,
  };
  for (const key of ID_FILTERS) params[key] = filters.ids[key].join(',');
  if (search) params.q = filters.q;
  return params;
}

/** Whether an event passes the filters that the live stream applies (all but `q`). */
export function matchesEvent(filters, event, now = Date.now()) {
  const since = sinceOf(filters, now);
  const until = filters.window ? '' : filters.until;
  if (filters.types.size && !filters.types.has(event.type)) return false;
  if (since && Date.parse(event.timestamp) < Date.parse(since)) return false;
  if (until && Date.parse(event.timestamp) >= Date.parse(until)) return false;
  return ID_FILTERS.every((key) => {
    const wanted = filters.ids[key];
    return !wanted.length || wanted.includes(idOf(event, key));
  });
}

/** An event's value of an id filter: agent, swarm and workflow from `data`, the others top level. */
export function idOf(event, key) {
  const value = key === 'instanceId' || key === 'webhookId' ? event[key] : event.data?.[key];
  return typeof value === 'string' && value !== '' ? value : null;
}
