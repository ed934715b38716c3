// Building the page from API data without ever parsing it as HTML: every value becomes a text
// node or a property, so an app named "<img onerror=...>" shows as exactly that text.

const ATTRIBUTES = new Set(['title', 'type', 'colspan', 'aria-label']);

/** el('td', {class: 'num', dataset: {app: id}, on: {click: f}}, 'text', childNode, ...) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'on') {
      for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    } else if (ATTRIBUTES.has(key)) node.setAttribute(key, String(value));
    else throw new Error(`el: attribute ${key} is not allowed`);
  }
  for (const child of children.flat()) {
    if (child != null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Replaces a node's children. */
export function fill(parent, ...children) {
  parent.replaceChildren(...children.flat().filter((c) => c != null));
}

/** A state word as a coloured badge (the class only from a fixed alphabet). */
export function badge(state) {
  if (state == null) return el('span', { class: 'note' }, '–');
  const word = String(state);
  return el('span', { class: `badge ${word.replace(/[^a-z_]/g, '')}` }, word);
}

export const int = (n) => (n == null ? '–' : Number(n).toLocaleString('en-US'));

/** "3 min ago" for an ISO time, with the time itself as the tooltip. */
export function ago(iso, now = Date.now()) {
  if (!iso) return el('span', { class: 'note' }, '–');
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return el('span', { title: iso }, `${duration(seconds)} ago`);
}

export function duration(seconds) {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}
