// A worker process: runs its share of the clients and answers the coordinator (main.js).
//
// Each step is one message from the coordinator and one reply: init (connect), clock, start
// (edit until the end of the measured phase), quiesce, evaluate, latejoin, close.

import { chatDeliveries, chatReached } from './chat.js'
import { BenchClient, now } from './client.js'
import { LagMonitor } from './lag.js'
import { replayTypingTrace } from './trace.js'
import * as Y from 'yjs'

const POLL_MS = 25
const CLOSE_WAIT_MS = 5000
const CLOSE_BATCH = 50
const CLOSE_PAUSE_MS = 20

let scenario = null
let clients = []
// author index -> { clientID, noteIndex, clocks[], times[], measured[] }
const authored = new Map()
const lag = new LagMonitor()
const timers = new Set()

const later = (fn, ms) => {
  const timer = setTimeout(() => {
    timers.delete(timer)
    fn()
  }, Math.max(0, ms))
  timers.add(timer)
  return timer
}

const sleep = (ms) => new Promise((resolve) => later(resolve, ms))

const reply = (message) => process.send(message)

async function connectAll (specs) {
  const results = []
  const { connectConcurrency = 16, connectSpreadMs = 0, connectTimeoutMs = 20000 } = scenario
  const startedAt = now()
  let next = 0
  const runOne = async (spec) => {
    if (connectSpreadMs > 0) await sleep(startedAt + spec.spreadOffsetMs - now())
    const client = new BenchClient({
      index: spec.index,
      clientID: spec.clientID,
      url: spec.url,
      headers: spec.headers,
      awareness: scenario.awareness !== false,
      track: spec.track,
      transport: scenario.transport,
      onRemoteAdvance: spec.role === 'author' && scenario.mode === 'pingpong' ? onPingPongAdvance : null
    })
    client.spec = spec
    clients.push(client)
    try {
      await client.connect(connectTimeoutMs)
      results.push({ index: spec.index, ok: true, connectMs: client.connectMs, syncMs: client.syncMs })
    } catch (err) {
      results.push({ index: spec.index, ok: false, error: String(err.message || err), closeCode: client.closeCode })
    }
  }
  // Spread connects start on their own schedule; otherwise a bounded number are in flight.
  const lanes = connectSpreadMs > 0 ? specs.length : Math.min(connectConcurrency, specs.length)
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < specs.length) await runOne(specs[next++])
  }))
  return results
}

function record (client, edit, window) {
  let entry = authored.get(client.index)
  if (!entry) {
    entry = { index: client.index, clientID: client.doc.clientID, noteIndex: client.spec.noteIndex, clocks: [], times: [], measured: [] }
    authored.set(client.index, entry)
  }
  entry.clocks.push(edit.clock)
  entry.times.push(edit.t)
  entry.measured.push(edit.t >= window.warmupUntil && edit.t < window.measureUntil)
}

let window = null

function startTimedAuthor (client) {
  const period = 1000 / client.spec.rate
  let due = window.startAt + Math.random() * period
  const fire = () => {
    const t = now()
    if (t >= window.measureUntil) return
    lag.recordEdit(t - due)
    record(client, client.edit(scenario.editChars, scenario.atEnd), window)
    due += period
    later(fire, due - now())
  }
  later(fire, due - now())
}

// Ping-pong: each author answers the other's edit at once; the starter re-serves after a silence.
let pingPong = null

function onPingPongAdvance (client, author) {
  if (!pingPong || author === client.doc.clientID) return
  if (!pingPong.peers.has(author)) return
  pingPong.lastSeen = now()
  if (now() >= window.measureUntil) return
  setImmediate(() => {
    if (now() >= window.measureUntil) return
    record(client, client.edit(scenario.editChars, scenario.atEnd), window)
  })
}

function startPingPong (authors) {
  const peers = new Set(scenario.pingPongAuthorIDs)
  pingPong = { peers, lastSeen: now(), serves: 0 }
  const starter = authors.find((c) => c.spec.pingPongStarter)
  if (!starter) return
  const serve = () => {
    if (now() >= window.measureUntil) return
    pingPong.serves++
    pingPong.lastSeen = now()
    record(starter, starter.edit(scenario.editChars, scenario.atEnd), window)
  }
  const watchdog = () => {
    if (now() >= window.measureUntil) return
    if (now() - pingPong.lastSeen > scenario.pingPongStallMs) serve()
    later(watchdog, scenario.pingPongStallMs / 4)
  }
  later(() => {
    serve()
    watchdog()
  }, window.startAt - now())
}

async function start (message) {
  window = message
  lag.start()
  const authors = clients.filter((c) => c.synced && c.spec.role === 'author')
  if (scenario.mode === 'pingpong') startPingPong(authors)
  else authors.forEach(startTimedAuthor)
  await sleep(window.measureUntil - now() + 5)
  const lagFigures = lag.stop()
  const finalClocks = {}
  for (const c of clients) if (c.spec.role === 'author') finalClocks[c.doc.clientID] = c.clockOf(c.doc.clientID)
  const edits = [...authored.values()].map((e) => ({
    ...e,
    clocks: Float64Array.from(e.clocks),
    times: Float64Array.from(e.times),
    measured: Uint8Array.from(e.measured)
  }))
  reply({ type: 'edits', edits, finalClocks, lag: lagFigures, pingPongServes: pingPong ? pingPong.serves : null })
}

const reached = (client, targets, chatIds) => {
  for (const [clientID, clock] of targets[client.spec.noteIndex] || []) {
    if (client.clockOf(clientID) < clock) return false
  }
  // Chat goes to the first note only (chat.js).
  return client.spec.noteIndex !== 0 || chatReached(client, chatIds)
}

async function quiesce ({ targets, chatIds = [], timeoutMs }) {
  const started = now()
  const live = clients.filter((c) => c.synced)
  let behind = live.filter((c) => !reached(c, targets, chatIds))
  while (behind.length > 0 && now() - started < timeoutMs) {
    await sleep(POLL_MS)
    behind = behind.filter((c) => !reached(c, targets, chatIds))
  }
  reply({ type: 'quiesced', ms: now() - started, behind: behind.map((c) => c.index) })
}

function evaluate ({ editsByNote, chatPosts = [] }) {
  let expected = 0
  let delivered = 0
  const latencies = []
  for (const client of clients) {
    if (!client.synced) continue
    for (const edit of editsByNote[client.spec.noteIndex] || []) {
      if (edit.clientID === client.doc.clientID) continue
      for (let i = 0; i < edit.clocks.length; i++) {
        expected++
        const at = client.arrival(edit.clientID, edit.clocks[i])
        if (at === null) continue
        delivered++
        latencies.push(at - edit.times[i])
      }
    }
  }
  const counters = {}
  for (const c of clients) {
    for (const [k, v] of Object.entries(c.counters)) counters[k] = (counters[k] || 0) + v
  }
  const closes = {}
  for (const c of clients) {
    if (c.unexpectedClose) closes[c.closeCode] = (closes[c.closeCode] || 0) + 1
  }
  reply({
    type: 'results',
    expected,
    delivered,
    latencies: Float64Array.from(latencies),
    digests: clients.filter((c) => c.synced && c.textDigest()).map((c) => ({ index: c.index, noteIndex: c.spec.noteIndex, ...c.textDigest() })),
    counters,
    unexpectedCloses: closes,
    errors: clients.flatMap((c) => c.errors).slice(0, 20),
    chat: chatDeliveries(clients.filter((c) => c.spec.noteIndex === 0), chatPosts)
  })
}

async function lateJoin ({ joiners }) {
  const digests = []
  for (const spec of joiners) {
    const client = new BenchClient({ index: spec.index, clientID: spec.clientID, url: spec.url, headers: spec.headers, awareness: false, transport: scenario.transport })
    try {
      await client.connect(scenario.connectTimeoutMs || 20000)
      digests.push({ noteIndex: spec.noteIndex, ok: true, syncMs: client.syncMs, ...client.textDigest() })
    } catch (err) {
      digests.push({ noteIndex: spec.noteIndex, ok: false, error: String(err.message || err) })
    }
    client.close()
  }
  reply({ type: 'latejoin', digests })
}

// Give a note a long history before a join storm, then wait (bounded) until a fresh client
// receives all of it from the server. Either `trace` (a B4-sized editing trace, replayed
// offline and sent as the seeder's sync step 2, as a client that edited offline would) or
// `edits` × `chars` (small live edits).
async function prefill ({ url, headers, clientID, edits, chars, trace, timeoutMs = 120000 }) {
  const started = now()
  const seeder = new BenchClient({ index: -1000, clientID, url, headers, awareness: false, transport: scenario.transport })
  let replayed = null
  try {
    if (trace) replayed = replayTypingTrace(seeder.doc, seeder.text, trace)
    await seeder.connect(scenario.connectTimeoutMs || 20000)
    for (let i = 0; !trace && i < edits; i++) {
      seeder.edit(chars, false)
      // Let the socket drain now and then rather than queueing everything at once.
      if (i % 100 === 99) while (seeder.socket.bufferedAmount > 0 && now() - started < timeoutMs) await sleep(5)
    }
    const want = seeder.text.length
    let seen = -1
    while (now() - started < timeoutMs) {
      const probe = new BenchClient({ index: -1001, clientID: clientID - 1, url, headers, awareness: false, transport: scenario.transport })
      try {
        await probe.connect(scenario.connectTimeoutMs || 20000)
        seen = probe.text.length
      } catch (err) {
        seen = -1
      }
      probe.close()
      if (seen === want) break
      await sleep(500)
    }
    const update = Y.encodeStateAsUpdate(seeder.doc).length
    reply({ type: 'prefilled', ok: seen === want, textLength: want, updateBytes: update, trace: replayed, ms: now() - started, error: seen === want ? null : `server had ${seen} of ${want} characters` })
  } catch (err) {
    reply({ type: 'prefilled', ok: false, error: String(err.message || err) })
  }
  seeder.close()
}

async function closeAll () {
  // In small batches: a server that fans out each departure to every other socket (the reference
  // does, for awareness) should not face thousands of closes in the same instant.
  for (let i = 0; i < clients.length; i += CLOSE_BATCH) {
    for (const c of clients.slice(i, i + CLOSE_BATCH)) c.close()
    await sleep(CLOSE_PAUSE_MS)
  }
  const deadline = now() + CLOSE_WAIT_MS
  while (now() < deadline && clients.some((c) => !c.closed)) await sleep(POLL_MS)
  for (const c of clients) if (!c.closed) c.terminate()
  for (const timer of timers) clearTimeout(timer)
  reply({ type: 'closed' })
  process.disconnect()
}

process.on('message', async (message) => {
  switch (message.type) {
    case 'init':
      scenario = message.scenario
      reply({ type: 'connected', results: await connectAll(message.clients) })
      break
    case 'prefill':
      scenario = message.scenario
      await prefill(message)
      break
    case 'clock':
      reply({ type: 'clock', t: now() })
      break
    case 'start':
      await start(message)
      break
    case 'quiesce':
      await quiesce(message)
      break
    case 'evaluate':
      evaluate(message)
      break
    case 'latejoin':
      await lateJoin(message)
      break
    case 'close':
      await closeAll()
      break
  }
})

// The coordinator going away must never leave a worker (and its sockets) behind.
process.on('disconnect', () => process.exit(0))
