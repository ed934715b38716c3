// The gateway's operator API, as the console uses it. The admin token is kept in this tab's
// sessionStorage only (gone when the tab closes, never shared with other tabs, never in
// localStorage) and is sent only as a bearer header of same-origin requests, never in a URL.

const KEY = 'orderpush.console.adminToken';

export const adminToken = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

/** An answer other than 2xx, or no answer: the gateway's error code and message when it sent one. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

async function call(method, path, { auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (auth) {
    const token = adminToken.get();
    if (!token) {
      throw new ApiError(401, 'unauthorized', 'no admin token');
    }
    headers.Authorization = `Bearer ${token}`;
  }
  let res;
  try {
    res = await fetch(path, { method, headers, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw new ApiError(0, 'unreachable', `the gateway did not answer (${e.message})`);
  }
  const text = await res.text();
  if (!res.ok) {
    let code = `http_${res.status}`;
    let message = text.slice(0, 300);
    try {
      const body = JSON.parse(text);
      code = body.error ?? code;
      message = body.message ?? message;
    } catch {
      // not the gateway's JSON error shape: keep the start of the text
    }
    throw new ApiError(res.status, code, message, res.headers.get('Retry-After'));
  }
  return text;
}

const json = async (method, path) => {
  const text = await call(method, path);
  return text ? JSON.parse(text) : null;
};
const app = (appId) => `/v1/apps/${encodeURIComponent(appId)}`;

/** At most this many apps are listed (pages of 500). */
export const MAX_APPS = 2000;

/** Every app, up to MAX_APPS; `more` says whether some were left out. */
export async function listApps() {
  const apps = [];
  let after = null;
  do {
    const query = new URLSearchParams({ limit: '500' });
    if (after) query.set('after', after);
    const page = await json('GET', `/v1/apps?${query}`);
    apps.push(...page.apps);
    after = page.next;
  } while (after && apps.length < MAX_APPS);
  return { apps, more: Boolean(after) };
}

/** The channels furthest behind, largest lag first (one page). */
export const lag = (limit) =>
  json('GET', `/v1/lag?${new URLSearchParams({ minLag: '1', limit: String(limit) })}`);

export const impact = (appId) => json('GET', `${app(appId)}/impact`);
export const endpoint = (appId) => json('GET', `${app(appId)}/endpoint`);
export const freeze = (appId) => json('POST', `${app(appId)}/freeze`);
export const unfreeze = (appId) => json('POST', `${app(appId)}/unfreeze`);
export const suspendEndpoint = (appId) => json('POST', `${app(appId)}/endpoint/suspend`);
export const resumeEndpoint = (appId) => json('POST', `${app(appId)}/endpoint/resume`);
export const retryEndpoint = (appId) => json('POST', `${app(appId)}/endpoint/retry`);

/** Prometheus text of the node serving the console (no token needed). */
export const metrics = () => call('GET', '/metrics', { auth: false });
