// The data API as the page uses it: the bearer token (kept in sessionStorage only, never in
// localStorage or a URL) and JSON requests that report a 401 so the page can ask for a token.

const TOKEN_KEY = 'dash-events.token';

export class Unauthorized extends Error {}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The Authorization header for the current token, if there is one. */
export function authHeaders() {
  const value = token();
  return value ? { Authorization: `Bearer ${value}` } : {};
}

/** `path` with the query parameters that have a value. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(key, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** GETs `path`; answers the response, throwing Unauthorized on 401 and ApiError otherwise. */
async function get(path, signal) {
  return send(path, { signal });
}

/** Sends a request to `path` with the token; answers the response like `get`. */
async function send(path, { method = 'GET', signal } = {}) {
  const response = await fetch(path, { method, headers: authHeaders(), signal, cache: 'no-store' });
  if (response.status === 401) throw new Unauthorized();
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).error ?? message;
    } catch { /* not JSON: keep the status line */ }
    throw new ApiError(response.status, message);
  }
  return response;
}

export async function getJson(path, signal) {
  return (await get(path, signal)).json();
}

/** The answer's exact bytes. */
export async function getBytes(path, signal) {
  return new Uint8Array(await (await get(path, signal)).arrayBuffer());
}

/** POSTs to `path` (no body) and answers the JSON answer. */
export async function postJson(path, signal) {
  return (await send(path, { method: 'POST', signal })).json();
}
