"""Writes the recorded API Gateway proxy events of tests/lambda/events/.

The events are shaped like AWS's documented samples of the REST API (payload format 1.0) and HTTP
API (payload format 2.0) Lambda proxy integrations, with the requestContext an execute-api
endpoint sends. Signed bodies are signed with the fixed test secret below (the one
tests/lambda/main.rs starts dash-events-lambda with); the tests re-check every signature, so a
fixture edited by hand without re-running this script fails loudly.

    python3 tests/lambda/events/generate.py tests/lambda/events
"""
import base64, hashlib, hmac, json, os, sys
SECRET = b"lambda-test-secret"
OUT = sys.argv[1]

def sign(body: bytes, secret=SECRET):
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()

def event_body(eid, etype="agent:complete", extra=None):
    data = {"agentId": "agent-123", "result": "done", "durationMs": 5000, "cost": 0.05}
    if extra: data.update(extra)
    return json.dumps({"id": eid, "type": etype, "timestamp": "2026-11-28T10:00:00.000Z",
                       "data": data, "webhookId": "wh_1", "instanceId": "inst_1"}, separators=(",", ":"), ensure_ascii=False).encode()

def v1(method, path, headers, body, b64=False, query=None, stage="prod", resource="/webhooks/dash", request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef"):
    mv = {k: [v] for k, v in headers.items()}
    qs = None; mvqs = None
    if query:
        qs = {k: v[-1] for k, v in query.items()}
        mvqs = query
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": mv,
        "queryStringParameters": qs,
        "multiValueQueryStringParameters": mvqs,
        "pathParameters": {"proxy": path.lstrip("/")} if resource == "/{proxy+}" else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "2gxmpl",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": "JJbxmHc4IAMFg1w=",
            "requestTime": "28/Nov/2026:10:00:01 +0000",
            "path": f"/{stage}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "70ixmpl4fl",
            "requestTimeEpoch": 1795860001000,
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None,
                "caller": None, "sourceIp": "203.0.113.10", "principalOrgId": None,
                "accessKey": None, "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None, "userArn": None,
                "userAgent": headers.get("User-Agent", "node"), "user": None,
            },
            "domainName": "70ixmpl4fl.execute-api.us-east-2.amazonaws.com",
            "apiId": "70ixmpl4fl",
        },
        "body": (base64.b64encode(body).decode() if b64 else body.decode()) if body is not None else None,
        "isBase64Encoded": b64,
    }

def v1_headers(extra):
    h = {
        "Content-Type": "application/json",
        "Host": "70ixmpl4fl.execute-api.us-east-2.amazonaws.com",
        "User-Agent": "node",
        "X-Amzn-Trace-Id": "Root=1-5e66d96f-7491f09xmpl79d18acf3d050",
        "X-Forwarded-For": "203.0.113.10",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    h.update(extra)
    return h

def v2(method, raw_path, headers, body, b64=False, raw_query="", stage="$default", route_key=None):
    return {
        "version": "2.0",
        "routeKey": route_key or f"{method} {raw_path if stage == '$default' else raw_path[len(stage)+1:]}",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r3pmxmplak",
            "domainName": "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
            "domainPrefix": "r3pmxmplak",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.10", "userAgent": "node"},
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": route_key or f"{method} /webhooks/dash",
            "stage": stage,
            "time": "28/Nov/2026:10:00:01 +0000",
            "timeEpoch": 1795860001000,
        },
        "body": (base64.b64encode(body).decode() if b64 else body.decode()) if body is not None else None,
        "isBase64Encoded": b64,
    }

def v2_headers(body, extra):
    h = {
        "content-length": str(len(body)) if body is not None else "0",
        "content-type": "application/json",
        "host": "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
        "user-agent": "node",
        "x-amzn-trace-id": "Root=1-5e6722a7-cc56xmpl46db7ae02d4da47e",
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    h.update(extra)
    return h

files = {}
b = event_body("evt-rest-v1-signed")
files["rest_v1_signed.json"] = v1("POST", "/webhooks/dash", v1_headers({"X-Dash-Signature": sign(b)}), b)
b = event_body("evt-rest-v1-base64", extra={"result": "résumé ✓", "note": "nul \\u0000 kept"})
files["rest_v1_base64_signed.json"] = v1("POST", "/webhooks/dash", v1_headers({"X-Dash-Signature": sign(b)}), b, b64=True)
b = event_body("evt-rest-v1-unsigned")
files["rest_v1_unsigned.json"] = v1("POST", "/webhooks/dash", v1_headers({}), b)
b = event_body("evt-rest-v1-wrong-signature")
files["rest_v1_wrong_signature.json"] = v1("POST", "/webhooks/dash", v1_headers({"X-Dash-Signature": sign(b, b"another-secret")}), b)
files["rest_v1_list_events.json"] = v1("GET", "/events", {k: v for k, v in v1_headers({"Authorization": "Bearer lambda-test-token", "Accept": "application/json"}).items() if k != "Content-Type"}, None,
    query={"type": ["agent:complete", "budget:warning"], "limit": ["10"]}, resource="/{proxy+}")
b = event_body("evt-http-v2-signed", etype="budget:warning", extra={"percentage": 80})
files["http_v2_signed.json"] = v2("POST", "/webhooks/dash", v2_headers(b, {"x-dash-signature": sign(b)}), b)
b = event_body("evt-http-v2-base64", extra={"result": "naïve – “quoted”"})
files["http_v2_stage_base64_signed.json"] = v2("POST", "/prod/webhooks/dash", v2_headers(b, {"x-dash-signature": sign(b)}), b, b64=True, stage="prod", route_key="POST /webhooks/dash")
b = b'{"id": "evt-http-v2-invalid", "type": '
files["http_v2_invalid_json.json"] = v2("POST", "/webhooks/dash", v2_headers(b, {"x-dash-signature": sign(b)}), b)
files["http_v2_get_event_no_token.json"] = v2("GET", "/events/evt-http-v2-signed", {k: v for k, v in v2_headers(None, {}).items() if k not in ("content-type", "content-length")}, None, route_key="GET /events/{id}")

os.makedirs(OUT, exist_ok=True)
for name, ev in files.items():
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(ev, f, indent=2, ensure_ascii=False)
        f.write("\n")
print(sorted(files))
