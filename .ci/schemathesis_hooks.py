"""Schemathesis hooks for dash-events: sign most generated deliveries.

`POST /webhooks/dash` verifies an HMAC-SHA256 of the raw body before it parses anything, so
unsigned cases only ever reach the signature check (401). This hook serialises the generated
body itself, signs those exact bytes with WEBHOOK_SECRET and sends them, so that validation, the
store and the duplicate / conflict rules are fuzzed too. One case in four keeps the signature
schemathesis generated (almost always wrong), so the 401 path stays covered.
"""

import hashlib
import hmac
import json
import os

import schemathesis

SECRET = os.environ["WEBHOOK_SECRET"].encode()


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path != "/webhooks/dash" or case.method.upper() != "POST":
        return
    if isinstance(case.body, (bytes, bytearray)):
        raw = bytes(case.body)
    else:
        try:
            raw = json.dumps(case.body, ensure_ascii=False).encode()
        except (TypeError, ValueError):
            return
    # A stable choice per body, so that a failure reproduces with the same seed.
    if hashlib.sha256(raw).digest()[0] % 4 == 0:
        return
    case.body = raw
    signature = hmac.new(SECRET, raw, hashlib.sha256).hexdigest()
    if case.headers is None:
        case.headers = {}
    case.headers["X-Dash-Signature"] = f"sha256={signature}"
