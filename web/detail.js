// The event detail dialog (the event's fields, its ids as links that filter the view, its JSON
// and the exact signed body), and the download link the CSV download follows when the API needs
// a token. Text is set with textContent only.

import { Unauthorized, getBytes, postJson } from './api.js';
import { idOf } from './filters.js';
import { formatCost, formatDuration } from './table.js';

const $ = (id) => document.getElementById(id);

const ID_LABELS = { agentId: 'Agent', swarmId: 'Swarm', workflowId: 'Workflow', instanceId: 'Instance', webhookId: 'Webhook' };

/**
 * Shows `event` in the dialog, then loads its signed body.
 * @param {object} hooks  { idLink(key, value) -> element, onUnauthorized() }
 */
export async function showDetail(event, { idLink, onUnauthorized }) {
  const dialog = $('detail');
  $('detail-title').textContent = `${event.type} · ${event.id}`;
  const ids = Object.entries(ID_LABELS).map(([key, label]) => {
    const value = idOf(event, key);
    return [label, value === null ? '—' : idLink(key, value)];
  });
  const fields = [['Id', event.id], ['Type', event.type], ['Timestamp', event.timestamp],
    ['Received', event.receivedAt], ...ids,
    ['Cost', formatCost(event.data?.cost) || '—'], ['Duration', formatDuration(event.data?.durationMs) || '—']];
  $('detail-meta').replaceChildren(...fields.flatMap(([name, value]) => {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    if (value instanceof Node) dd.append(value); else dd.textContent = String(value);
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
    if (err instanceof Unauthorized) { dialog.close(); onUnauthorized(); }
  }
}

/**
 * Downloads the export at `href` (`/events/export?…`) when the API needs the bearer token. The
 * browser streams a followed link to disk, but a followed link cannot carry the token; so this
 * asks the API for a download link (valid 60 s, for exactly this export) and follows that.
 */
export async function followDownloadLink(href) {
  const link = await postJson(href.replace('/events/export', '/events/export/links'));
  const a = document.createElement('a');
  a.href = link.url;
  a.download = '';
  document.body.append(a);
  a.click();
  a.remove();
}
