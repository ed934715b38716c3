// Runs the samples as an ISV would, as child processes: consumer.js against a real gateway (killed
// between applying and acking, then restarted) and against a scripted WebSocket server (gaps by
// prevSeq, redeliveries, unassigned merchants, reconnects, a message over 1 MiB); receiver.js as a
// real callback app's endpoint (restarted after a secret rotation) and against tampered, stale and
// wrongly signed requests. Every
// check reads the samples' stdout lines ({"op":"applied"|"skipped"|"gap",...}).
// scripts/node-sample-check.sh starts the gateway and passes BASE, OUT and the tokens.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { WebSocketServer } from 'ws';

const BASE = need('BASE');
const OUT = need('OUT');
const ADMIN = need('GATEWAY_ADMIN_TOKEN');
const INGEST = need('GATEWAY_INGEST_TOKEN');
const DIR = new URL('..', import.meta.url).pathname;
const run = Date.now().toString(36);

function need(name) {
  return process.env[name] ?? fail(`${name} is not set (run scripts/node-sample-check.sh)`);
}
function fail(message) {
  throw new Error(message);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` (which throws or returns false while not yet) until it holds or time runs out. */
async function eventually(what, check, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  let last = 'never checked';
  for (;;) {
    try {
      const result = await check();
      if (result !== false) return result;
      last = 'not yet';
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > end) throw new Error(`${what}: still not so after ${timeoutMs} ms: ${last}`);
    await sleep(100);
  }
}

async function call(method, path, token, body, expected = 200) {
  const res = await fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, expected, `${method} ${path}: ${text}`);
  return text ? JSON.parse(text) : null;
}
const admin = (method, path, body, expected) => call(method, path, ADMIN, body, expected);

/** Ingests `count` events for each merchant; records every event's eventId under its seq. */
async function ingest(expected, merchants, count, prefix) {
  const events = [];
  for (const merchantId of merchants) {
    for (let i = 0; i < count; i++) {
      const type = i % 3 === 0 ? 'order.created' : 'order.paid';
      events.push({ eventId: `${prefix}-${i}`, merchantId, orderId: `o-${i % 17}`, type,
        occurredAt: new Date().toISOString(), data: { amount: `${i}.50` } });
    }
  }
  for (const r of await call('POST', '/v1/events', INGEST, events)) {
    assert.equal(r.duplicate, false);
    (expected[r.merchantId] ??= [])[r.seq - 1] = r.eventId;
  }
}

const children = new Set();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1)); // runs 'exit'

/** Starts a sample; collects its stdout lines (parsed) and copies both streams to OUT/name.*.log. */
function start(name, script, env) {
  const child = spawn(process.execPath, [join(DIR, script)], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines = [];
  let stderr = '', pending = '';
  const outLog = createWriteStream(join(OUT, `${name}.out.log`));
  const errLog = createWriteStream(join(OUT, `${name}.err.log`));
  child.stdout.on('data', (chunk) => {
    outLog.write(chunk);
    const parts = (pending + chunk).split('\n');
    pending = parts.pop();
    for (const part of parts) lines.push(JSON.parse(part));
  });
  child.stderr.on('data', (chunk) => { errLog.write(chunk); stderr += chunk; });
  // 'close', not 'exit': every line the sample wrote has been read by then.
  const exited = new Promise((resolve) => child.on('close', (code, signal) => {
    children.delete(child);
    resolve(code ?? signal);
  }));
  const stop = async () => {
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(10_000).then(() => 'no exit in 10 s')]);
    assert.equal(code, 0, `${name} did not stop cleanly on SIGTERM: ${code}`);
  };
  return { child, lines, stderr: () => stderr, exited, stop };
}

const ops = (lines, op) => lines.filter((l) => l.op === op);

/** Every event of every merchant applied exactly once, in seq order, as ingested; no gap seen. */
function assertExactlyOnce(who, lines, expected) {
  assert.deepEqual(ops(lines, 'gap'), [], `${who} reported gaps`);
  for (const [merchantId, eventIds] of Object.entries(expected)) {
    const applied = ops(lines, 'applied').filter((l) => l.merchantId === merchantId);
    assert.deepEqual(applied.map((l) => l.seq), eventIds.map((_, i) => i + 1),
      `${who}: seqs applied for ${merchantId}`);
    assert.deepEqual(applied.map((l) => l.eventId), eventIds, `${who}: eventIds of ${merchantId}`);
  }
}

async function caughtUp(appId, expected) {
  await eventually(`the gateway's cursors of app ${appId} at the heads`, async () => {
    const { items } = await admin('GET', `/v1/lag?appId=${appId}&limit=1000`);
    assert.equal(items.length, Object.keys(expected).length, JSON.stringify(items));
    for (const i of items) assert.equal(i.cursor, expected[i.merchantId].length, JSON.stringify(i));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- consumer.js, real gateway

async function consumerAgainstGateway() {
  const merchants = ['a', 'b', 'c'].map((x) => `m-node-ws-${x}-${run}`);
  const expected = {};
  await ingest(expected, merchants, 300, `ws-early-${run}`);
  const app = await admin('POST', '/v1/apps', { name: `node-ws ${run}`, delivery: { mode: 'websocket' } }, 201);
  for (const m of merchants) await admin('PUT', `/v1/merchants/${m}/grants/${app.appId}`, { start: 'earliest' });
  const state = join(OUT, 'consumer-state.json');
  rmSync(state, { force: true });
  const env = { GATEWAY_URL: BASE, APP_TOKEN: app.token, STATE_FILE: state };

  // Killed after applying 400 events, before acking its batch: those events come again.
  const first = start('consumer-1', 'consumer.js', { ...env, CRASH_AFTER_EVENTS: '400' });
  const code = await Promise.race([first.exited, sleep(20_000).then(() => 'no exit in 20 s')]);
  assert.equal(code, 3, `consumer-1 should exit 3 after 400 events: ${code}\n${first.stderr()}`);
  assert.ok(ops(first.lines, 'applied').length >= 400, 'consumer-1 applied at least 400 events');

  const second = start('consumer-2', 'consumer.js', env);
  await eventually('consumer-2 has skipped the redelivered events', () => ops(second.lines, 'skipped').length > 0);
  await ingest(expected, merchants, 100, `ws-live-${run}`); // delivered live to the open connection
  const all = () => [...first.lines, ...second.lines];
  await eventually('every event applied by consumer.js', () => ops(all(), 'applied').length >= 1200, 30_000);
  assertExactlyOnce('consumer.js', all(), expected);
  const applied1 = new Map(ops(first.lines, 'applied').map((l) => [`${l.merchantId}/${l.seq}`, true]));
  for (const l of ops(second.lines, 'skipped')) {
    assert.ok(applied1.has(`${l.merchantId}/${l.seq}`), `skipped ${JSON.stringify(l)} was never applied`);
  }
  await caughtUp(app.appId, expected); // the acks reached the gateway
  await second.stop();
  console.log(`consumer.js: 1200 events applied once in order across a crash; ` +
    `${ops(second.lines, 'skipped').length} redelivered events skipped`);
}

// ---------------------------------------------------------------- consumer.js, scripted server

async function consumerAgainstScript() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.on('listening', resolve));
  const acks = [];
  const connections = [];
  wss.on('connection', (ws, req) => {
    connections.push({ ws, auth: req.headers.authorization });
    ws.on('message', (data) => acks.push({ conn: connections.length, ...JSON.parse(data) }));
  });
  const ev = (seq, extra = {}) => ({ seq, eventId: `g-${seq}`, type: 'order.paid', orderId: 'o', data: {}, ...extra });
  const send = (msg) => connections.at(-1).ws.send(JSON.stringify(msg));
  const acked = (merchantId, seq) => eventually(`ack ${merchantId} ${seq}`, () =>
    assert.ok(acks.some((a) => a.merchantId === merchantId && a.seq === seq), JSON.stringify(acks)), 10_000);
  const m = 'm-gap';
  const consumer = start('consumer-script', 'consumer.js', {
    GATEWAY_URL: `http://127.0.0.1:${wss.address().port}`, APP_TOKEN: 'tok-script', STATE_FILE: '',
  });
  try {
    await eventually('the consumer connects', () => connections.length === 1, 10_000);
    assert.equal(connections[0].auth, 'Bearer tok-script');
    send({ type: 'hello', connectionId: 'c1', appId: 'x', window: 1000 });
    send({ type: 'assigned', merchants: [m], assignment: 1 });
    // 3 is filtered out for this app: prevSeq 2 on seq 4 is no gap.
    send({ type: 'events', merchantId: m, events: [ev(1), ev(2, { prevSeq: 1 }), ev(4, { prevSeq: 2 })] });
    await acked(m, 4);
    // Seq 5 is missing: seq 6 says its previous event is 5.
    send({ type: 'events', merchantId: m, events: [ev(6, { prevSeq: 5 }), ev(7)] });
    await acked(m, 7);
    // A message over 1 MiB (a full frame plus one event) is read.
    send({ type: 'events', merchantId: m, events: [ev(8, { data: { blob: 'x'.repeat(1_200_000) } })] });
    await acked(m, 8);
    // Moved away: later events of m are neither applied nor acked; another merchant goes on.
    send({ type: 'unassigned', merchants: [m] });
    send({ type: 'events', merchantId: m, events: [ev(9)] });
    send({ type: 'assigned', merchants: ['m-other'], assignment: 2 });
    send({ type: 'events', merchantId: 'm-other', events: [ev(1)] });
    await acked('m-other', 1);
    // The server goes away: the consumer reconnects; redelivered events are skipped, new ones applied.
    connections[0].ws.close(1001);
    await eventually('the consumer reconnects', () => connections.length === 2, 10_000);
    send({ type: 'hello', connectionId: 'c2', appId: 'x', window: 1000 });
    send({ type: 'assigned', merchants: [m] });
    // prevSeq may name the cursor (6) rather than the last event applied (8): no gap either.
    send({ type: 'events', merchantId: m, events: [ev(7), ev(8), ev(9, { prevSeq: 6 })] });
    await acked(m, 9);

    const lines = consumer.lines.filter((l) => l.merchantId === m);
    assert.deepEqual(ops(lines, 'applied').map((l) => l.seq), [1, 2, 4, 6, 7, 8, 9]);
    assert.deepEqual(ops(lines, 'skipped').map((l) => l.seq), [7, 8]);
    assert.deepEqual(ops(lines, 'gap').map((l) => [l.seq, l.prevSeq, l.lastApplied]), [[6, 5, 4]]);
    assert.ok(!acks.some((a) => a.conn === 1 && a.merchantId === m && a.seq === 9), 'acked after unassigned');
    assert.ok(acks.every((a) => a.type === 'ack'), JSON.stringify(acks));
    // Each ack names the assigned message its batch came under (none on the second connection).
    assert.deepEqual(acks.filter((a) => a.conn === 1).map((a) => [a.merchantId, a.assignment]),
      [[m, 1], [m, 1], [m, 1], ['m-other', 2]]);
    assert.ok(acks.filter((a) => a.conn === 2).every((a) => a.assignment === undefined), JSON.stringify(acks));
    await consumer.stop();
  } finally {
    wss.close();
    for (const { ws } of connections) ws.terminate();
  }
  console.log('consumer.js: prevSeq gaps reported, filtered seqs no gap, unassigned dropped, reconnects, 1.2 MB message');
}

// ---------------------------------------------------------------- receiver.js

async function receiverAgainstGateway() {
  const merchants = ['a', 'b'].map((x) => `m-node-cb-${x}-${run}`);
  const expected = {};
  await ingest(expected, merchants, 250, `cb-early-${run}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/hooks`;
  const app = await admin('POST', '/v1/apps', { name: `node-cb ${run}`, delivery: { mode: 'callback', url } }, 201);
  const state = join(OUT, 'receiver-state.json');
  rmSync(state, { force: true });
  const env = { PORT: String(port), STATE_FILE: state };
  const receiver = start('receiver', 'receiver.js', { ...env, WEBHOOK_SECRET: app.webhookSecret });
  await eventually('receiver.js listens', () => receiver.stderr().includes('listening on'), 10_000);
  for (const m of merchants) await admin('PUT', `/v1/merchants/${m}/grants/${app.appId}`, { start: 'earliest' });
  await ingest(expected, merchants, 50, `cb-live-${run}`);
  await eventually('every event applied by receiver.js', () => ops(receiver.lines, 'applied').length >= 600, 30_000);
  await caughtUp(app.appId, expected); // every batch was answered 2xx
  assertExactlyOnce('receiver.js', receiver.lines, expected);

  // Requests made here, signed (or not) in every way that must be refused.
  const post = async (body, { secret = app.webhookSecret, at = new Date(), id = `msg_test_${run}`, sent, unsigned } = {}) => {
    const payload = JSON.stringify(body);
    const headers = { 'content-type': 'application/json', 'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, at, payload) };
    if (unsigned) delete headers['webhook-signature'];
    return (await fetch(url, { method: 'POST', headers, body: sent ?? payload })).status;
  };
  const m = merchants[0];
  const fresh = { merchantId: m, events: [{ seq: 301, eventId: 'forged', type: 'order.paid', data: {} }] };
  const tampered = JSON.stringify({ ...fresh, events: [{ ...fresh.events[0], seq: 302 }] });
  assert.equal(await post(fresh, { sent: tampered }), 401, 'a tampered body');
  assert.equal(await post(fresh, { secret: `whsec_${Buffer.from('another secret!!').toString('base64')}` }), 401,
    'a wrong secret');
  assert.equal(await post(fresh, { at: new Date(Date.now() - 10 * 60_000) }), 401, 'a stale timestamp');
  assert.equal(await post(fresh, { unsigned: true }), 401, 'no signature');
  // A genuine retry of applied events is answered 2xx and skipped; its line comes after any line
  // the refused requests could have caused.
  const retry = { merchantId: m, events: [1, 2].map((seq) => ({ seq, eventId: expected[m][seq - 1], type: 'order.paid' })) };
  const skippedBefore = ops(receiver.lines, 'skipped').length;
  assert.equal(await post(retry), 204, 'a correctly signed retry');
  await eventually('the retry skipped', () => ops(receiver.lines, 'skipped').length === skippedBefore + 2, 5_000);
  assert.equal(ops(receiver.lines, 'applied').length, 600, 'nothing refused was applied');
  assert.match(receiver.stderr(), /refused msg_test_.*No matching signature found/);
  await receiver.stop();

  // After a secret rotation the gateway signs with both secrets: a receiver restarted with the new
  // one (and its saved seqs) verifies them and goes on where the first left off.
  const { webhookSecret } = await admin('POST', `/v1/apps/${app.appId}/secret/rotate`);
  assert.notEqual(webhookSecret, app.webhookSecret);
  const rotated = start('receiver-rotated', 'receiver.js', { ...env, WEBHOOK_SECRET: webhookSecret });
  await eventually('receiver.js listens again', () => rotated.stderr().includes('listening on'), 10_000);
  await ingest(expected, merchants, 50, `cb-rotated-${run}`);
  await eventually('the events after the rotation applied', () => ops(rotated.lines, 'applied').length >= 100, 30_000);
  await caughtUp(app.appId, expected);
  assertExactlyOnce('receiver.js', [...receiver.lines, ...rotated.lines], expected);
  assert.doesNotMatch(rotated.stderr(), /refused/);
  await rotated.stop();
  console.log('receiver.js: 700 events applied once in order, 100 after a secret rotation; ' +
    'tampered, wrong-secret, stale, unsigned: 401');
}

mkdirSync(OUT, { recursive: true });
await consumerAgainstScript();
await consumerAgainstGateway();
await receiverAgainstGateway();
console.log('node sample: all checks passed');
