// The REST calls the pages need: one JSON `call` helper (the chat, admin and settings pages
// share it), sign up, log in, log out, and a session probe.

/**
 * One JSON call: `method` on `path` with an optional JSON `body`, with the session cookie.
 * Resolves to the parsed answer (or null); rejects with an Error whose `message` is the
 * server's error text and whose `status` is the HTTP status.
 */
export async function call(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = new Error(errorText(res, data));
    err.status = res.status;
    throw err;
  }
  return data;
}

function post(path, body) {
  return call('POST', path, body);
}

function errorText(res, data) {
  if (data && typeof data === 'object') {
    if (typeof data.message === 'string') return data.message;
    if (data.error && typeof data.error === 'object' && typeof data.error.message === 'string') {
      return data.error.message;
    }
    if (typeof data.error === 'string') return data.error;
  }
  return `${res.status} ${res.statusText || 'request failed'}`;
}

/** Creates an account and signs in (sets the HttpOnly session cookie). */
export function register(username, password) {
  return post('/api/register', { username, password });
}

/** Signs in (sets the HttpOnly session cookie). */
export function login(username, password) {
  return post('/api/login', { username, password });
}

/** Ends the session (clears the cookie). */
export function logout() {
  return post('/api/logout');
}

/**
 * Whether the session cookie is still good: 'yes', 'no' (401/403), or 'unknown' (server
 * unreachable). The cookie is HttpOnly, so asking the server is the only way to know.
 */
export async function sessionState() {
  try {
    const res = await fetch('/api/me', { credentials: 'same-origin' });
    if (res.ok) return 'yes';
    if (res.status === 401 || res.status === 403) return 'no';
    return 'unknown';
  } catch {
    return 'unknown';
  }
}

/** A server time (ms since the epoch) as local text, or 'never' when absent. */
export function when(ms) {
  return typeof ms === 'number' && ms > 0 ? new Date(ms).toLocaleString() : 'never';
}
