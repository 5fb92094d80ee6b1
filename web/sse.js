// Server-Sent Events read with fetch(), because EventSource cannot send an Authorization
// header. SseParser is pure (and tested by tests/browser/sse.test.mjs); follow() keeps a stream
// open, reconnecting after errors with Last-Event-ID so that no event is missed.

/** Parses the text/event-stream format, fed in chunks that may split lines anywhere. */
export class SseParser {
  /** @param {(message: {id: string|null, event: string, data: string}) => void} onMessage */
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.pending = '';
    this.data = [];
    this.event = '';
    this.lastEventId = null;
  }

  /** Feeds decoded text; complete messages are dispatched, the rest is kept. */
  push(text) {
    this.pending += text;
    const newline = /\r\n|\r|\n/g;
    let start = 0;
    for (let match = newline.exec(this.pending); match; match = newline.exec(this.pending)) {
      // A chunk ending in CR may continue with LF: wait for the next chunk to know.
      if (match[0] === '\r' && match.index + 1 === this.pending.length) break;
      this.line(this.pending.slice(start, match.index));
      start = match.index + match[0].length;
    }
    this.pending = this.pending.slice(start);
  }

  line(line) {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return; // a comment: keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
  }

  dispatch() {
    const data = this.data;
    const event = this.event || 'message';
    this.data = [];
    this.event = '';
    if (data.length === 0) return;
    this.onMessage({ id: this.lastEventId, event, data: data.join('\n') });
  }
}

/**
 * Follows `url` until `signal` aborts. Each event's JSON goes to onEvent; onStatus hears
 * 'connecting' | 'live' | 'retrying' | 'unauthorized' | 'unavailable'. Resumes after errors from
 * the last id seen. Answers only when aborted, unauthorized or unavailable.
 */
export async function follow({ url, headers, onEvent, onStatus, signal }) {
  let lastId = null;
  let failures = 0;
  while (!signal.aborted) {
    onStatus(failures ? 'retrying' : 'connecting');
    try {
      const request = { headers: { ...headers(), Accept: 'text/event-stream' }, signal, cache: 'no-store' };
      if (lastId !== null) request.headers['Last-Event-ID'] = lastId;
      const response = await fetch(url, request);
      if (response.status === 401) return onStatus('unauthorized');
      if (response.status === 404 || response.status === 405) return onStatus('unavailable');
      // A position this log cannot place (another database behind the same address): start
      // again at the current end rather than retrying it forever.
      if (response.status === 400 && lastId !== null) {
        lastId = null;
        continue;
      }
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      onStatus('live');
      failures = 0;
      const parser = new SseParser((message) => {
        if (message.id !== null) lastId = message.id;
        if (message.event !== 'message') return;
        try {
          onEvent(JSON.parse(message.data));
        } catch (err) {
          console.warn('unreadable stream message', err);
        }
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(value);
      }
    } catch (err) {
      if (signal.aborted) return;
      console.warn('live stream interrupted', err);
    }
    failures += 1;
    // Back off 1, 2, 4 … up to 15 s between attempts.
    await sleep(Math.min(15000, 1000 * 2 ** Math.min(failures - 1, 4)), signal);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
