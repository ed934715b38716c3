// Live rates from the node's Prometheus counters, sampled by the page: the difference of two
// samples over the time between them. A counter that went down (the node restarted) gives no
// rate for that interval.

/** The sum of a counter's series in Prometheus text, those whose labels contain `labels`. */
export function counter(text, name, labels = '') {
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name || (labels && !(m[2] ?? '').includes(labels))) continue;
    const value = Number(m[3]);
    if (Number.isFinite(value)) {
      sum += value;
      seen = true;
    }
  }
  return seen ? sum : null;
}

/** What the console shows, each a counter of docs/metrics.md. */
export const SERIES = {
  ingest: ['gateway_ingest_events_total', 'result="stored"'],
  duplicate: ['gateway_ingest_events_total', 'result="duplicate"'],
  delivery: ['gateway_delivery_events_sent_total', ''],
};

export class RateMeter {
  #last = null;

  /** Takes a sample; answers per-second rates since the previous one (null for the first). */
  sample(text, now = Date.now()) {
    const values = {};
    for (const [key, [name, labels]] of Object.entries(SERIES)) {
      values[key] = counter(text, name, labels);
    }
    const previous = this.#last;
    this.#last = { at: now, values };
    if (!previous || now <= previous.at) return null;
    const seconds = (now - previous.at) / 1000;
    const rates = {};
    for (const key of Object.keys(SERIES)) {
      const a = previous.values[key];
      const b = values[key];
      rates[key] = a == null || b == null || b < a ? null : (b - a) / seconds;
    }
    return rates;
  }
}
