// The Express receiver from Dash's webhook guide ("Express.js Implementation"), as users copy it,
// ported from TypeScript to plain JavaScript so it runs with `node` alone. It stores nothing.
//
// Kept as the guide has it, on purpose (this is the baseline users would otherwise run):
//   - `express.json()` parses the body, then the HMAC is computed over `JSON.stringify(req.body)`,
//     and compared with `crypto.timingSafeEqual`.
//   - The catch-all error handler answers 500 to every error.
// Changed for the benchmark only:
//   - No per-request logging and no per-type handlers (the guide's `console.log` calls would
//     measure the terminal, not the receiver).
//   - Port from PORT (the guide hard-codes 3000), bound to 127.0.0.1 (the guide binds every
//     interface).
//
// Bugs of the guide's approach (not fixed here, because users have them):
//   1. The signature is checked over re-serialized JSON, not the bytes Dash signed. Any body that is
//      not exactly what `JSON.stringify` would print (whitespace, key order kept but `1.0` vs `1`,
//      `\u00e9` escapes, integers beyond 2^53, duplicate keys, a trailing newline) fails with 401,
//      and two different bodies can verify with one signature. The benchmark's events are compact
//      JSON in JavaScript's canonical form so that this receiver accepts them.
//   2. `timingSafeEqual` throws on buffers of different lengths, so a malformed or truncated
//      X-Dash-Signature header becomes a 500 (which a sender retries) instead of a 401.
//   3. A body that is not JSON, or not sent as `application/json`, leaves `req.body` undefined (or
//      fails in the parser): `JSON.stringify(undefined)` is undefined, `hmac.update` throws, and the
//      catch-all handler answers 500 to what should be a 400 or 401. The same for an unset
//      WEBHOOK_SECRET: every request gets a 500.
//   4. `express.json()` refuses bodies over 100 kB (413 turned into 500 by the error handler).
//   5. No idempotency: a redelivered event is processed again (the guide's in-memory Set is lost on
//      restart); nothing is stored before the 200, so an acknowledged event can be lost.
'use strict';

const express = require('express');
const crypto = require('crypto');

const app = express();
app.use(express.json());

const WEBHOOK_SECRET = process.env.WEBHOOK_SECRET;
const PORT = Number(process.env.PORT || 3000);

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

  // Respond quickly (acknowledge receipt)
  res.status(200).json({ received: true });
});

// Error handler
app.use((err, req, res, next) => {
  res.status(500).json({ error: 'Internal server error' });
});

app.listen(PORT, '127.0.0.1', () => {
  console.log(`Webhook server listening on 127.0.0.1:${PORT}`);
});
