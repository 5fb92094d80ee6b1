// The events table: rows in the API's order (newest timestamp first, ties by id descending),
// each event once, whether it came from a page or from the live stream. The agent, swarm,
// workflow and instance ids are links that filter the view. Cells are filled with textContent
// only: event content is never parsed as markup.

import { typeColor } from './charts.js';
import { idOf } from './filters.js';

/** The ids shown as links in their own column, in this order. */
export const LINKED_IDS = ['agentId', 'swarmId', 'workflowId', 'instanceId'];

const number = new Intl.NumberFormat('en', { maximumFractionDigits: 4 });

export function formatCost(value) {
  return typeof value === 'number' && Number.isFinite(value) ? number.format(value) : '';
}

export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

/** "2026-11-28 10:00:00.123" from the API's UTC RFC 3339 text. */
export function formatTime(timestamp) {
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(timestamp ?? '');
  if (!match) return String(timestamp ?? '');
  return `${match[1]} ${match[2]}${match[3] ? match[3].slice(0, 4) : ''}`;
}

/** A key that sorts like the instant: seconds, then the fraction padded to microseconds. */
function timeKey(timestamp) {
  const match = /^(.{19})(?:\.(\d+))?Z$/.exec(timestamp ?? '');
  return match ? `${match[1]}.${(match[2] ?? '').padEnd(6, '0')}` : String(timestamp);
}

/** Whether event a comes before event b in the table (newer, or same time and larger id). */
function before(a, b) {
  const ka = timeKey(a.timestamp);
  const kb = timeKey(b.timestamp);
  if (ka !== kb) return ka > kb;
  return a.id > b.id;
}

// The ids have a column of their own.
const SUMMARY_KEYS = ['stepId', 'result', 'status', 'error', 'message', 'reason', 'percentage',
  'progress'];

/** A short line from the fields an operator scans for. */
export function summarize(data) {
  if (!data || typeof data !== 'object') return '';
  const parts = [];
  for (const key of SUMMARY_KEYS) {
    const value = data[key];
    if (value === undefined || value === null || typeof value === 'object') continue;
    parts.push(key === 'percentage' || key === 'progress' ? `${value}%` : String(value));
  }
  const text = parts.join(' · ');
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;
}

export class EventTable {
  /**
   * @param {HTMLTableSectionElement} tbody
   * @param {(event) => void} onOpen  opens an event's detail
   * @param {(key: string, value: string) => HTMLElement} idLink  a link filtering the view on an id
   */
  constructor(tbody, onOpen, idLink) {
    this.tbody = tbody;
    this.onOpen = onOpen;
    this.idLink = idLink;
    this.events = [];
    this.ids = new Set();
  }

  get size() {
    return this.events.length;
  }

  clear() {
    this.events = [];
    this.ids.clear();
    this.tbody.replaceChildren();
  }

  /** Adds a page of older events at the end (skipping any already shown). */
  append(events) {
    const fragment = document.createDocumentFragment();
    for (const event of events) {
      if (this.ids.has(event.id)) continue;
      this.ids.add(event.id);
      this.events.push(event);
      fragment.append(this.row(event, false));
    }
    this.tbody.append(fragment);
  }

  /**
   * Inserts a live event where it belongs. One older than every row shown is left for paging
   * when older pages remain (`complete` false). Answers whether it was inserted.
   */
  insert(event, complete) {
    if (this.ids.has(event.id)) return false;
    const index = this.events.findIndex((shown) => before(event, shown));
    if (index < 0 && !complete) return false;
    const row = this.row(event, true);
    if (index < 0) {
      this.events.push(event);
      this.tbody.append(row);
    } else {
      this.events.splice(index, 0, event);
      this.tbody.insertBefore(row, this.tbody.children[index]);
    }
    this.ids.add(event.id);
    return true;
  }

  row(event, fresh) {
    const tr = document.createElement('tr');
    tr.dataset.id = event.id;
    tr.dataset.type = event.type;
    if (fresh) tr.classList.add('fresh');
    const data = event.data ?? {};
    const cell = (text, className) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (className) td.className = className;
      return td;
    };
    const time = cell(formatTime(event.timestamp), 'time');
    time.title = `received ${event.receivedAt}`;
    const type = cell('', 'type');
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.style.setProperty('--type-color', typeColor(String(event.type)));
    badge.textContent = event.type;
    type.append(badge);
    const id = cell('', 'id');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'link';
    open.textContent = event.id;
    open.setAttribute('aria-label', `Open event ${event.id}`);
    open.addEventListener('click', () => this.onOpen(event));
    id.append(open);
    const ids = cell('', 'ids');
    for (const key of LINKED_IDS) {
      const value = idOf(event, key);
      if (value !== null) ids.append(this.idLink(key, value));
    }
    tr.append(time, type, id, ids, cell(summarize(data), 'summary'),
      cell(formatCost(data.cost), 'num'), cell(formatDuration(data.durationMs), 'num'));
    // The whole row opens the event for a mouse (the id button does for the keyboard), unless
    // the click ended a text selection, e.g. of an id to copy.
    tr.addEventListener('click', (e) => {
      if (!e.target.closest('button, a') && !window.getSelection()?.toString()) this.onOpen(event);
    });
    return tr;
  }
}
