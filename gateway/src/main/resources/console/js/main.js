// The operator console: token form, periodic refresh, incident actions.

import * as api from './api.js';
import { fill } from './dom.js';
import { RateMeter } from './rates.js';
import { renderApps, renderEndpoint, renderImpact, renderLag } from './views.js';

const REFRESH_MS = 10_000;
const RATE_MS = 5_000;
const LAG_ROWS = 50;

const $ = (id) => document.getElementById(id);
const state = { apps: [], selected: null, timers: [], meter: new RateMeter(), loading: null, again: false };

function status(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

function showLogin(message) {
  state.timers.forEach(clearInterval);
  state.timers = [];
  $('board').hidden = true;
  $('session').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message ?? '';
  $('token').focus();
}

function showBoard() {
  $('login').hidden = true;
  $('board').hidden = false;
  $('session').hidden = false;
  state.meter = new RateMeter();
  state.timers = [setInterval(refresh, REFRESH_MS), setInterval(sampleRates, RATE_MS)];
  sampleRates();
  return refresh();
}

/** A refused token ends the session; anything else is shown and the page keeps going. */
function failed(e, what) {
  if (e.status === 401) {
    api.adminToken.clear();
    showLogin(`The gateway refused the token (401 ${e.code}).`);
  } else if (e.status === 429) {
    api.adminToken.clear();
    showLogin(`Too many failed logins from this address; try again in ${e.retryAfter ?? '?'} s.`);
  } else {
    status(`${what}: ${e.status ? `${e.status} ${e.code}: ` : ''}${e.message}`, true);
  }
}

/** Reloads everything; a call while one runs makes it run once more after, and waits for that. */
function refresh() {
  if (state.loading) {
    state.again = true;
    return state.loading;
  }
  state.loading = load().finally(() => {
    state.loading = null;
    if (state.again) {
      state.again = false;
      return refresh();
    }
  });
  return state.loading;
}

async function load() {
  try {
    const [{ apps, more }, lag] = await Promise.all([api.listApps(), api.lag(LAG_ROWS)]);
    state.apps = apps;
    const names = new Map(apps.map((a) => [a.appId, a.name]));
    if (!state.selected && lag.items.length) state.selected = lag.items[0].appId;
    if (state.selected && !names.has(state.selected)) state.selected = null;
    renderLag($('lag-rows'), lag.items, names, state.selected, select);
    $('lag-note').textContent = lag.next ? `The ${LAG_ROWS} channels furthest behind; more are behind.` : '';
    renderApps($('app-rows'), apps, state.selected, actions);
    $('apps-note').textContent = more ? `The first ${api.MAX_APPS} apps by id.` : `${apps.length} apps.`;
    await showImpact();
    $('updated').textContent = `updated ${new Date().toLocaleTimeString('en-GB')}`;
    if ($('status').classList.contains('error')) status('');
  } catch (e) {
    failed(e, 'refresh');
  }
}

async function showImpact() {
  const app = state.apps.find((a) => a.appId === state.selected);
  $('impact-app').textContent = app ? app.name : 'select an app';
  $('endpoint-title').hidden = true;
  if (!app) {
    fill($('impact-figures'));
    fill($('endpoint-figures'));
    return;
  }
  const callback = app.delivery.mode === 'callback';
  const [impact, endpoint] = await Promise.all([
    api.impact(app.appId),
    callback ? api.endpoint(app.appId) : null,
  ]);
  if (state.selected !== app.appId) return; // another app was picked meanwhile
  renderImpact($('impact-figures'), impact);
  if (endpoint) {
    $('endpoint-title').hidden = false;
    renderEndpoint($('endpoint-figures'), endpoint);
  } else {
    fill($('endpoint-figures'));
  }
}

async function sampleRates() {
  try {
    const rates = state.meter.sample(await api.metrics());
    for (const key of ['ingest', 'duplicate', 'delivery']) {
      const value = rates?.[key];
      $(`rate-${key}`).textContent = value == null ? '–' : value.toFixed(value < 10 ? 1 : 0);
    }
  } catch (e) {
    failed(e, 'metrics');
  }
}

function select(appId) {
  state.selected = appId;
  return refresh();
}

/** One incident action: confirm when it stops delivery, call the API, say what happened, refresh. */
async function act(what, app, call, confirmText) {
  if (confirmText && !window.confirm(confirmText)) return;
  status(`${what} ${app.name}…`);
  try {
    await call(app.appId);
    status(`${what} ${app.name}: done.`);
  } catch (e) {
    failed(e, `${what} ${app.name}`);
  }
  await refresh();
}

const actions = {
  select: (app) => select(app.appId),
  freeze: (app) =>
    act('Freeze', app, api.freeze, `Freeze ${app.name}? Nothing more is delivered to it until it is unfrozen.`),
  unfreeze: (app) => act('Unfreeze', app, api.unfreeze),
  suspend: (app) =>
    act('Suspend endpoint of', app, api.suspendEndpoint, `Suspend the callback endpoint of ${app.name}?`),
  resume: (app) => act('Resume endpoint of', app, api.resumeEndpoint),
  retry: (app) => act('Retry now', app, api.retryEndpoint),
};

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token').value.trim();
  $('token').value = '';
  if (!token) return;
  api.adminToken.set(token);
  showBoard();
});
$('refresh').addEventListener('click', () => {
  sampleRates();
  refresh();
});
$('forget').addEventListener('click', () => {
  api.adminToken.clear();
  status('');
  showLogin('Token forgotten.');
});

if (api.adminToken.get()) {
  showBoard();
} else {
  showLogin();
}
