// A WebSocket consumer of the order data-push gateway (docs/websocket.md): connects with the app
// token, applies each merchant's events in seq order exactly once, acks after applying, and
// reconnects with backoff and jitter. Prints one JSON line per event on stdout
// ({"op":"applied"|"skipped"|"gap", "merchantId", "seq", ...}) and its log on stderr.
//
//   GATEWAY_URL=http://127.0.0.1:8080 APP_TOKEN=gwa_... [STATE_FILE=state.json] node consumer.js
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import WebSocket from 'ws';

const STREAM_URL = `${(process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080').replace(/^http/, 'ws')}/v1/stream`;
const TOKEN = process.env.APP_TOKEN || usage('APP_TOKEN is not set');
const STATE_FILE = process.env.STATE_FILE; // unset: the last applied seqs live in memory only
// The largest gateway message is stream.max-frame-bytes (1 MiB by default) plus one event (data up
// to 64 KiB); 16 MiB leaves room for a gateway configured with larger frames.
const MAX_PAYLOAD = Number(process.env.MAX_PAYLOAD_BYTES ?? 16 * 1024 * 1024);
const CRASH_AFTER = Number(process.env.CRASH_AFTER_EVENTS ?? 0); // test knob: exit(3) before an ack

const lastApplied = new Map(Object.entries(STATE_FILE ? readState() : {})); // merchant -> seq
const queues = new Map(); // merchant -> promise chain: one batch at a time per merchant, in order
let applied = 0, attempt = 0, stopping = false, crashing = false, current = null;

/** Your work for one event. Keep lastApplied in the same transaction as your writes if you can. */
async function applyEvent(merchantId, event) {
  out('applied', merchantId, event);
}

async function handleBatch(conn, lease, merchantId, events) {
  const live = () => conn.leases.get(merchantId) === lease && conn.ws.readyState === WebSocket.OPEN;
  if (stopping || crashing) return; // shutting down: a batch not started is left unacked, it comes again
  try {
    for (const e of events) {
      if (!live()) return; // moved to another consumer, or closed: drop the rest, never ack
      const last = lastApplied.get(merchantId);
      if (last !== undefined && e.seq <= last) { out('skipped', merchantId, e); continue; }
      // No event for this app lies between prevSeq and seq; the gateway may name an earlier seq (the
      // cursor) than the last one applied, never a later one unless something was lost.
      const prev = e.prevSeq ?? e.seq - 1;
      if (last !== undefined && prev > last) out('gap', merchantId, e, { lastApplied: last });
      await applyEvent(merchantId, e);
      lastApplied.set(merchantId, e.seq);
      applied++;
    }
  } finally {
    saveState();
  }
  if (CRASH_AFTER && applied >= CRASH_AFTER && !crashing) { // as if killed between apply and ack
    crashing = true;
    log(`crashing after ${applied} events, before acking them`);
    setImmediate(() => exit(3)); // once the batches in hand have recorded their seqs
  }
  if (crashing) return;
  // `assignment` names the assigned message this batch came under: an ack sent before the client read
  // a newer one (after a rewind) is then ignored by the gateway instead of moving the cursor.
  if (live()) conn.ws.send(JSON.stringify({ type: 'ack', merchantId, seq: events.at(-1).seq, assignment: lease.assignment }));
}

function onMessage(conn, data) {
  const msg = JSON.parse(data);
  if (msg.type === 'hello') { attempt = 0; log(`connected: ${msg.connectionId}, window ${msg.window}`); }
  else if (msg.type === 'assigned') for (const m of msg.merchants) conn.leases.set(m, { assignment: msg.assignment });
  else if (msg.type === 'unassigned') for (const m of msg.merchants) conn.leases.delete(m);
  else if (msg.type === 'error') log(`gateway error ${msg.code}: ${msg.message}`);
  else if (msg.type === 'events') {
    const lease = conn.leases.get(msg.merchantId);
    if (!lease || msg.events.length === 0) return;
    const run = () => handleBatch(conn, lease, msg.merchantId, msg.events);
    const next = (queues.get(msg.merchantId) ?? Promise.resolve()).then(run).catch((e) => {
      log(`applying ${msg.merchantId} failed, reconnecting: ${e.stack}`);
      conn.ws.terminate(); // unacked events come again, and lastApplied skips what was done
    });
    queues.set(msg.merchantId, next);
  }
}

function connect() {
  const ws = new WebSocket(STREAM_URL, {
    headers: { Authorization: `Bearer ${TOKEN}` }, maxPayload: MAX_PAYLOAD, handshakeTimeout: 10_000,
  });
  const conn = (current = { ws, leases: new Map() });
  let silence;
  const heard = () => { clearTimeout(silence); silence = setTimeout(() => ws.terminate(), 45_000); };
  ws.on('open', heard).on('ping', heard); // ws answers the gateway's pings (every 15 s) by itself
  ws.on('message', (data) => { heard(); onMessage(conn, data); });
  ws.on('error', (e) => {
    log(`connection error: ${e.message}`);
    if (/Unexpected server response: 401/.test(e.message)) fatal('the app token was refused (401)');
  });
  ws.on('close', (code) => {
    clearTimeout(silence);
    conn.leases.clear();
    if (stopping) return;
    const delay = Math.random() * Math.min(30_000, 500 * 2 ** attempt++); // full jitter
    log(`closed (${code}), reconnecting in ${Math.round(delay)} ms`);
    setTimeout(connect, delay);
  });
}

function readState() {
  try { return JSON.parse(readFileSync(STATE_FILE, 'utf8')); } catch (e) {
    if (e.code === 'ENOENT') return {};
    throw e;
  }
}
function saveState() {
  if (!STATE_FILE) return;
  writeFileSync(`${STATE_FILE}.tmp`, JSON.stringify(Object.fromEntries(lastApplied)));
  renameSync(`${STATE_FILE}.tmp`, STATE_FILE); // atomic: a crash leaves the old or the new file
}
function out(op, merchantId, e, extra = {}) {
  const { seq, prevSeq, eventId, type } = e;
  process.stdout.write(`${JSON.stringify({ op, merchantId, seq, prevSeq, eventId, type, ...extra })}\n`);
}
function log(line) { process.stderr.write(`consumer: ${line}\n`); }
function usage(line) { log(line); process.exit(2); }
function fatal(line) { log(line); stopping = true; exit(2); }
// Exits once stdout has taken every line written before (a pipe may not have).
function exit(code) { process.stdout.write('', () => process.exit(code)); }

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => { // finish the batches in progress (and their acks), then close
    stopping = true;
    const timeout = new Promise((resolve) => setTimeout(resolve, 5_000));
    await Promise.race([Promise.all(queues.values()), timeout]);
    current?.ws.close(1000);
    log(`stopped after ${applied} events applied`);
    exit(0);
  });
}
connect();
