// The page's Server-Sent Events parser (web/sse.js), fed the way a network delivers text: in
// chunks that split lines, fields and line endings anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { SseParser, follow } from '../../web/sse.js';

function parse(chunks) {
  const messages = [];
  const parser = new SseParser((message) => messages.push(message));
  for (const chunk of chunks) parser.push(chunk);
  return { messages, parser };
}

const STREAM = ': keep-alive\n\nid: 7\ndata: {"id":"a","type":"agent:complete"}\n\n'
  + 'id: 8\ndata: {"id":"b",\ndata: "type":"x"}\n\n: ping\n\n';

test('messages carry their id and data; comments are skipped', () => {
  const { messages, parser } = parse([STREAM]);
  assert.deepEqual(messages, [
    { id: '7', event: 'message', data: '{"id":"a","type":"agent:complete"}' },
    { id: '8', event: 'message', data: '{"id":"b",\n"type":"x"}' },
  ]);
  assert.equal(parser.lastEventId, '8');
});

test('every split of the stream into two chunks gives the same messages', () => {
  const whole = parse([STREAM]).messages;
  for (let at = 0; at <= STREAM.length; at += 1) {
    assert.deepEqual(parse([STREAM.slice(0, at), STREAM.slice(at)]).messages, whole, `split at ${at}`);
  }
});

test('one character at a time, with CRLF and CR line endings', () => {
  for (const ending of ['\r\n', '\r']) {
    const text = STREAM.replaceAll('\n', ending);
    assert.deepEqual(parse([...text]).messages, parse([STREAM]).messages, JSON.stringify(ending));
  }
});

test('a message is dispatched only at its blank line', () => {
  const { messages } = parse(['id: 1\ndata: x\n']);
  assert.equal(messages.length, 0);
});

test('fields without a space, unknown fields and named events', () => {
  const { messages } = parse(['retry: 5\nevent: ping\ndata:x\n\ndata:y\n\n']);
  assert.deepEqual(messages, [
    { id: null, event: 'ping', data: 'x' },
    { id: null, event: 'message', data: 'y' },
  ]);
});

test('an id survives into later messages until replaced', () => {
  const { messages } = parse(['id: 5\n\ndata: a\n\nid: 6\ndata: b\n\n']);
  assert.deepEqual(messages.map((m) => m.id), ['5', '6']);
});

/** A fetch that answers each call from `answers` (a status and the stream's chunks). */
function fakeFetch(answers, requests) {
  return async (url, init) => {
    requests.push({ url, headers: { ...init.headers } });
    const answer = answers.shift() ?? { status: 401, chunks: [] };
    const chunks = [...answer.chunks];
    // Chunk by chunk, as read: an error raised at once would drop what was queued before it.
    const body = new ReadableStream({
      pull(controller) {
        if (chunks.length) controller.enqueue(new TextEncoder().encode(chunks.shift()));
        else if (answer.fail) controller.error(new Error('connection reset'));
        else controller.close();
      },
    });
    return new Response(body, { status: answer.status });
  };
}

test('follow() resumes after a broken stream with the last id, until unauthorized', async () => {
  const requests = [];
  globalThis.fetch = fakeFetch([
    { status: 200, chunks: ['id: p1\ndata: {"id":"a"}\n\nid: p2\nda', 'ta: {"id":"b"}\n\n'], fail: true },
    { status: 200, chunks: ['id: p3\ndata: {"id":"c"}\n\n'] },
  ], requests);
  const events = [];
  const statuses = [];
  await follow({
    url: '/events/stream?type=x',
    headers: () => ({ Authorization: 'Bearer t' }),
    onEvent: (event) => events.push(event.id),
    onStatus: (status) => statuses.push(status),
    signal: new AbortController().signal,
  });
  assert.deepEqual(events, ['a', 'b', 'c']);
  assert.deepEqual(requests.map((r) => r.headers['Last-Event-ID']), [undefined, 'p2', 'p3']);
  assert.ok(requests.every((r) => r.headers.Authorization === 'Bearer t' && r.url === '/events/stream?type=x'));
  assert.equal(statuses.at(-1), 'unauthorized');
  assert.ok(statuses.includes('retrying'));
});
