// Dash's documented Express receiver (see express-receiver.js for its origin and its bugs, which are
// kept) plus what a user would add to keep the events: a durable better-sqlite3 insert keyed by the
// event id, committed before the 200, so a redelivery is detected by the database.
//
//   - WAL journal, `synchronous = FULL`: an acknowledged event survives power loss, like dash-events.
//   - One transaction per request; `INSERT ... ON CONFLICT(id) DO NOTHING` decides duplicates.
//   - Answers 200 {"received":true,"duplicate":<bool>}; GET /stats answers {"totalEvents":<count>}.
//
// better-sqlite3 is synchronous: each request blocks the event loop for its commit (an fsync), which
// is how the library is meant to be used and what users get. DB file from DB_PATH.
'use strict';

const express = require('express');
const crypto = require('crypto');
const Database = require('better-sqlite3');

const app = express();
app.use(express.json());

const WEBHOOK_SECRET = process.env.WEBHOOK_SECRET;
const PORT = Number(process.env.PORT || 3000);
const DB_PATH = process.env.DB_PATH || 'events.db';

const db = new Database(DB_PATH);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(`CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  timestamp TEXT NOT NULL,
  body TEXT NOT NULL
)`);

const insertEvent = db.prepare(
  'INSERT INTO events (id, type, timestamp, body) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO NOTHING'
);
const countEvents = db.prepare('SELECT count(*) AS n FROM events');
// One transaction per request: BEGIN, INSERT, COMMIT (the commit syncs the WAL).
const storeEvent = db.transaction((event, body) =>
  insertEvent.run(String(event.id), String(event.type), String(event.timestamp), body).changes
);

// Verify webhook signature (verbatim from the guide)
function verifySignature(payload, signature) {
  const expected = crypto
    .createHmac('sha256', WEBHOOK_SECRET)
    .update(payload)
    .digest('hex');

  return crypto.timingSafeEqual(
    Buffer.from(signature),
    Buffer.from(`sha256=${expected}`)
  );
}

// Webhook endpoint
app.post('/webhooks/dash', (req, res) => {
  const signature = req.headers['x-dash-signature'];

  if (!signature) {
    return res.status(401).json({ error: 'Missing signature' });
  }

  const payload = JSON.stringify(req.body);

  if (!verifySignature(payload, signature)) {
    return res.status(401).json({ error: 'Invalid signature' });
  }

  const event = req.body;
  // The re-serialized JSON is what gets stored: the raw bytes are gone after express.json().
  const inserted = storeEvent(event, payload);

  res.status(200).json({ received: true, duplicate: inserted === 0 });
});

app.get('/stats', (req, res) => {
  res.json({ totalEvents: countEvents.get().n });
});

// Error handler
app.use((err, req, res, next) => {
  res.status(500).json({ error: 'Internal server error' });
});

app.listen(PORT, '127.0.0.1', () => {
  console.log(`Webhook server listening on 127.0.0.1:${PORT}, storing in ${DB_PATH}`);
});

function shutdown() {
  db.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
