// The "cost by group" table: GET /stats/groups for the view's window and filters, grouped by
// the chosen key, most costly first, a page at a time. Keys that are ids (or a type, or a day)
// link to the view filtered on them. Cells are filled with textContent only.

import { ApiError, getJson, withQuery } from './api.js';
import { formatCost, formatDuration } from './table.js';

const PAGE = 20;
const KEY_TITLE = { agentId: 'Agent', swarmId: 'Swarm', workflowId: 'Workflow', instanceId: 'Instance', type: 'Type', day: 'Day (UTC)' };

export class GroupTable {
  /**
   * @param {object} parts  { body, keyHeader, message, more }: the table's elements
   * @param {(by: string, key: string) => HTMLElement} keyLink  a link filtering the view on a key
   * @param {(err: Error) => void} onFailure  for failures the table cannot show itself (401)
   */
  constructor(parts, keyLink, onFailure) {
    Object.assign(this, parts);
    this.keyLink = keyLink;
    this.onFailure = onFailure;
    this.generation = 0;
    this.more.addEventListener('click', () => this.loadPage(this.generation));
  }

  /** Starts over for `by` and the API parameters `params` (which must not hold q). */
  load(by, params) {
    this.generation += 1;
    this.by = by;
    this.params = params;
    this.cursor = null;
    this.keyHeader.textContent = KEY_TITLE[by] ?? by;
    this.body.replaceChildren();
    this.show('Loading…');
    this.loadPage(this.generation);
  }

  async loadPage(generation) {
    this.more.disabled = true;
    try {
      const query = { ...this.params, by: this.by, limit: PAGE, cursor: this.cursor };
      const answer = await getJson(withQuery('/stats/groups', query));
      if (generation !== this.generation) return;
      this.body.append(...answer.groups.map((group) => this.row(group)));
      this.cursor = answer.nextCursor;
      this.more.hidden = !answer.nextCursor;
      this.show(this.body.children.length ? '' : 'No events in this window.');
    } catch (err) {
      if (generation !== this.generation) return;
      if (err instanceof ApiError) {
        this.more.hidden = true;
        this.show(err.status === 404 ? 'Groups are not available from this server.' : `Groups: ${err.message}`);
      } else this.onFailure(err);
    } finally {
      this.more.disabled = false;
    }
  }

  show(message) {
    this.message.textContent = message;
    this.message.hidden = !message;
  }

  row(group) {
    const tr = document.createElement('tr');
    tr.dataset.key = group.key ?? '';
    const key = document.createElement('td');
    if (group.key === null) {
      key.textContent = '(none)';
      key.className = 'hint';
    } else key.append(this.keyLink(this.by, group.key));
    const cell = (text) => {
      const td = document.createElement('td');
      td.className = 'num';
      td.textContent = text;
      return td;
    };
    tr.append(key, cell(String(group.events)), cell(formatCost(group.cost)),
      cell(formatCost(group.totalCost)), cell(formatDuration(group.durationMeanMs) || '—'),
      cell(formatDuration(group.durationMaxMs) || '—'));
    tr.cells[2].dataset.cost = String(group.cost);
    return tr;
  }
}
