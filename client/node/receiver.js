// An HTTP callback receiver for the order data-push gateway (docs/callbacks.md): verifies each
// request's Standard Webhooks signature with the app's secret (401 when it does not verify),
// applies each merchant's events in seq order exactly once, and answers 204 when the batch is
// applied (the gateway then moves the cursor). Prints one JSON line per event on stdout
// ({"op":"applied"|"skipped"|"gap", "merchantId", "seq", ...}) and its log on stderr.
//
//   WEBHOOK_SECRET=whsec_... [PORT=8081] [HOST=127.0.0.1] [STATE_FILE=state.json] node receiver.js
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

// Verifies "v1,<sig>" against this secret; during a rotation the header carries one signature per
// secret (space-separated) and the one made with the new secret matches. Timestamps older or newer
// than 5 minutes are refused (replayed requests).
const webhook = new Webhook(process.env.WEBHOOK_SECRET || usage('WEBHOOK_SECRET is not set'));
const PORT = Number(process.env.PORT ?? 8081);
const HOST = process.env.HOST ?? '127.0.0.1';
const STATE_FILE = process.env.STATE_FILE; // unset: the last applied seqs live in memory only
const MAX_BODY = 16 * 1024 * 1024; // callback.batch-size (100) events with up to 64 KiB of data each

const lastApplied = new Map(Object.entries(STATE_FILE ? readState() : {})); // merchant -> seq
const queues = new Map(); // merchant -> promise chain: one batch at a time per merchant, in order

/** Your work for one event. Keep lastApplied in the same transaction as your writes if you can. */
async function applyEvent(merchantId, event) {
  out('applied', merchantId, event);
}

async function applyBatch({ merchantId, events }) {
  for (const e of events) {
    const last = lastApplied.get(merchantId);
    if (last !== undefined && e.seq <= last) { out('skipped', merchantId, e); continue; } // a retry
    // No event for this app lies between prevSeq and seq; prevSeq may be earlier than the last seq
    // applied (the cursor), never later unless something was lost.
    const prev = e.prevSeq ?? e.seq - 1;
    if (last !== undefined && prev > last) out('gap', merchantId, e, { lastApplied: last });
    await applyEvent(merchantId, e);
    lastApplied.set(merchantId, e.seq);
  }
  saveState();
}

createServer(async (req, res) => {
  const answer = (status) => res.writeHead(status, { 'content-length': 0 }).end();
  if (req.method !== 'POST') return answer(405);
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    if ((size += chunk.length) > MAX_BODY) return res.writeHead(413, { connection: 'close' }).end();
    chunks.push(chunk);
  }
  let batch;
  try {
    batch = webhook.verify(Buffer.concat(chunks), req.headers); // the exact bytes, parsed when valid
  } catch (e) {
    log(`refused ${req.headers['webhook-id'] ?? '(no webhook-id)'}: ${e.message}`);
    return answer(401);
  }
  if (typeof batch?.merchantId !== 'string' || !Array.isArray(batch.events)) return answer(400);
  const done = (queues.get(batch.merchantId) ?? Promise.resolve()).then(() => applyBatch(batch));
  queues.set(batch.merchantId, done.catch(() => {}));
  try {
    await done;
    answer(204); // the whole batch is applied: the gateway sends the next one
  } catch (e) {
    log(`applying ${req.headers['webhook-id']} failed: ${e.stack}`);
    answer(500); // retried later with the same webhook-id and body; applied events are skipped
  }
}).listen(PORT, HOST, function () {
  log(`listening on http://${HOST}:${this.address().port}/`);
});

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
function log(line) { process.stderr.write(`receiver: ${line}\n`); }
function usage(line) { log(line); process.exit(2); }
// Exits once stdout has taken every line written before (a pipe may not have).
function exit(code) { process.stdout.write('', () => process.exit(code)); }
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => exit(0));
