// The console's tables and panels, rendered from API answers (docs/api.md) with dom.js only.

import { ago, badge, el, fill, int } from './dom.js';

const PROBLEM = { frozen: 0, suspended: 1, failing: 2 };
const rank = (a) => Math.min(PROBLEM[a.state] ?? 9, PROBLEM[a.delivery.endpointState] ?? 9);

/** What each apps table shows now, to leave it alone when a refresh brings nothing new. */
const shown = new WeakMap();

/**
 * Apps, those in trouble first; each row with the actions an incident needs. A refresh that
 * changes nothing leaves the rows in place: rows replaced under the pointer swallow a click
 * (pressed on one button, released on its replacement).
 */
export function renderApps(tbody, apps, selected, act) {
  const seen = JSON.stringify([
    selected,
    apps.map((a) => [a.appId, a.name, a.state, a.delivery.mode, a.delivery.url, a.delivery.endpointState]),
  ]);
  if (shown.get(tbody) === seen) return;
  shown.set(tbody, seen);
  const rows = [...apps]
    .sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name))
    .map((a) => {
      const callback = a.delivery.mode === 'callback';
      const frozen = a.state === 'frozen';
      const suspended = a.delivery.endpointState === 'suspended';
      return el(
        'tr',
        { class: a.appId === selected ? 'pick selected' : 'pick', dataset: { app: a.appId } },
        el('td', { class: 'name' }, a.name),
        el('td', { class: 'id' }, a.appId),
        el('td', { class: 'mode', title: a.delivery.url }, a.delivery.mode),
        el('td', { class: 'state' }, badge(a.state)),
        el('td', { class: 'endpoint' }, callback ? badge(a.delivery.endpointState) : '–'),
        el(
          'td',
          { class: 'actions' },
          el('button', { type: 'button', class: 'impact', on: { click: () => act.select(a) } }, 'Impact'),
          frozen
            ? el('button', { type: 'button', class: 'unfreeze', on: { click: () => act.unfreeze(a) } }, 'Unfreeze')
            : el('button', { type: 'button', class: 'freeze danger', on: { click: () => act.freeze(a) } }, 'Freeze'),
          !callback
            ? null
            : suspended
              ? el('button', { type: 'button', class: 'resume', on: { click: () => act.resume(a) } }, 'Resume endpoint')
              : el('button', { type: 'button', class: 'suspend danger', on: { click: () => act.suspend(a) } }, 'Suspend endpoint'),
          !callback || suspended
            ? null
            : el('button', { type: 'button', class: 'retry', on: { click: () => act.retry(a) } }, 'Retry now'),
        ),
      );
    });
  fill(tbody, rows.length ? rows : el('tr', {}, el('td', { colspan: 6, class: 'note' }, 'No apps.')));
}

/** One row per channel behind, in the order the API gives (largest lag first). */
export function renderLag(tbody, items, names, selected, pick) {
  const now = Date.now();
  const rows = items.map((i) =>
    el(
      'tr',
      {
        class: i.appId === selected ? 'pick selected' : 'pick',
        dataset: { app: i.appId, merchant: i.merchantId },
        on: { click: () => pick(i.appId) },
      },
      el('td', { class: 'app', title: i.appId }, names.get(i.appId) ?? i.appId),
      el('td', { class: 'merchant' }, i.merchantId),
      el('td', { class: 'num head' }, int(i.headSeq)),
      el('td', { class: 'num cursor' }, int(i.cursor)),
      el('td', { class: 'num lag' }, int(i.lag)),
      el('td', { class: 'oldest' }, ago(i.oldestPendingAt, now)),
      el('td', { class: 'state' }, badge(i.state)),
    ),
  );
  fill(tbody, rows.length ? rows : el('tr', {}, el('td', { colspan: 7, class: 'note' }, 'No channel is behind.')));
}

function figures(dl, pairs) {
  fill(
    dl,
    pairs.flatMap(([key, label, value]) => [
      el('dt', {}, label),
      el('dd', { dataset: { figure: key } }, value),
    ]),
  );
}

/** GET /v1/apps/{appId}/impact: whom the app holds up, and since when. */
export function renderImpact(dl, impact) {
  figures(dl, [
    ['merchantsBehind', 'Merchants behind', int(impact.merchantsBehind)],
    ['pendingEvents', 'Pending events', int(impact.pendingEvents)],
    [
      'pendingOrders',
      'Pending orders',
      impact.pendingOrdersExact === false ? `at least ${int(impact.pendingOrders)}` : int(impact.pendingOrders),
    ],
    ['oldestPendingAt', 'Oldest pending', ago(impact.oldestPendingAt)],
    ['endpointState', 'Endpoint', impact.endpointState == null ? 'WebSocket app' : badge(impact.endpointState)],
  ]);
}

/** GET /v1/apps/{appId}/endpoint of a callback app. */
export function renderEndpoint(dl, view) {
  figures(dl, [
    ['state', 'State', badge(view.state)],
    ['consecutiveFailures', 'Failures in a row', int(view.consecutiveFailures)],
    ['lastError', 'Last error', view.lastError ?? '–'],
    ['nextAttemptAt', 'Next attempt', view.nextAttemptAt ?? '–'],
    ['lastSuccessAt', 'Last success', ago(view.lastSuccessAt)],
    ['channels', 'Channels (waiting)', `${int(view.channels)} (${int(view.channelsWaiting)})`],
    ['loading', 'Loaded on this node', badge(view.loading)],
  ]);
}
