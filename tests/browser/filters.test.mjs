// The page's filters (web/filters.js): read from and written to the URL query string, and turned
// into the API's parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { apiParams, emptyFilters, idOf, matchesEvent, readFilters, withChange, writeFilters } from '../../web/filters.js';

const NOW = Date.parse('2026-11-28T12:00:00Z');

test('a query string reads into filters and writes back in a stable order', () => {
  const query = '?q=timeout&agentId=b,a&type=agent:error&agentId=a&window=24h&groupBy=type&other=x';
  const filters = readFilters(query);
  assert.deepEqual([...filters.types], ['agent:error']);
  assert.deepEqual(filters.ids.agentId, ['b', 'a']);
  assert.equal(filters.window, '24h');
  assert.equal(filters.q, 'timeout');
  assert.equal(filters.groupBy, 'type');
  assert.equal(writeFilters(filters), '?type=agent%3Aerror&window=24h&agentId=b%2Ca&q=timeout&groupBy=type');
  assert.deepEqual(readFilters(writeFilters(filters)), filters);
  assert.equal(writeFilters(emptyFilters()), '');
});

test('unknown windows and group keys fall back; a window wins over since and until', () => {
  const filters = readFilters('window=3y&groupBy=nope&since=2026-11-01T00:00:00Z');
  assert.equal(filters.window, '');
  assert.equal(filters.since, '2026-11-01T00:00:00Z');
  assert.equal(filters.groupBy, 'agentId');
  const windowed = readFilters('window=1h&since=2026-11-01T00:00:00Z&until=2026-11-02T00:00:00Z');
  assert.deepEqual([windowed.since, windowed.until], ['', '']);
});

test('API parameters: the window counted back from now, q only where asked for', () => {
  const filters = readFilters('window=1h&swarmId=s1&q=word&type=b,a');
  assert.deepEqual(apiParams(filters, { now: NOW }), {
    type: 'a,b', since: '2026-11-28T11:00:00Z', until: '', agentId: '', swarmId: 's1',
    workflowId: '', instanceId: '', webhookId: '',
  });
  assert.equal(apiParams(filters, { search: true, now: NOW }).q, 'word');
});

test('withChange copies, so the filters shown before a change stay as they were', () => {
  const before = readFilters('agentId=a');
  const after = withChange(before, (f) => { f.ids.agentId = ['b']; f.types.add('t'); });
  assert.deepEqual(before.ids.agentId, ['a']);
  assert.equal(before.types.size, 0);
  assert.deepEqual(after.ids.agentId, ['b']);
});

test('live events are matched on type, window and ids as the stream filters them', () => {
  const event = { type: 'agent:complete', timestamp: '2026-11-28T11:30:00Z', instanceId: 'i1', data: { agentId: 'a1' } };
  assert.ok(matchesEvent(readFilters('agentId=a1,a2&instanceId=i1&window=1h'), event, NOW));
  assert.ok(!matchesEvent(readFilters('agentId=a2'), event, NOW));
  assert.ok(!matchesEvent(readFilters('swarmId=s1'), event, NOW));
  assert.ok(!matchesEvent(readFilters('until=2026-11-28T11:30:00Z'), event, NOW));
  assert.equal(idOf({ data: { agentId: 42 } }, 'agentId'), null);
  assert.equal(idOf({ webhookId: '' }, 'webhookId'), null);
});
