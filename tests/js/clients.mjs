// Drives official Yjs clients (yjs + y-websocket's WebsocketProvider over ws) through a
// scenario read as JSON from argv[2], and prints one JSON result line on stdout.
//
// Scenario:
//   clients: [{ url, room, cookie, origin, name }]   one WebsocketProvider each
//   edits: n            tokens each client inserts, one every interval_ms
//   interval_ms: n
//   churn: [i, ...]     clients that disconnect mid-way, keep typing offline, then reconnect
//   late_joiner: { url, room, cookie, origin }       connects after the edits; reports its first sync
//   settle_ms: n        how long to wait for everyone to converge
//   idle_ms: n          how long everyone sits idle after the first sync, before editing
//
// Every token is unique ("<name:k>"), so the caller can check that each one is present exactly once.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const scenario = JSON.parse(process.argv[2])
const started = Date.now()
const log = (...args) => process.stderr.write(`[${Date.now() - started}ms] ${args.join(' ')}\n`)

/** A ws WebSocket that sends the session cookie and Origin a browser would. */
const socketClass = ({ cookie, origin }) =>
  class extends WebSocket {
    constructor (url, protocols) {
      const headers = { Origin: origin }
      if (cookie) headers.Cookie = `sessionid=${cookie}`
      super(url, protocols, { headers })
    }
  }

/** A random position between tokens (never inside one), so every token stays readable. */
function boundary (text) {
  const positions = [0, text.length]
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '>' || text[i] === '\n') positions.push(i + 1)
  }
  return positions[Math.floor(Math.random() * positions.length)]
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function until (predicate, ms) {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

function connect (spec) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(spec.url, spec.room, doc, {
    WebSocketPolyfill: socketClass(spec),
    disableBc: true,
    maxBackoffTime: 500
  })
  const client = { spec, doc, provider, text: doc.getText('content'), seen: new Set(), closes: [] }
  // Labelled in a field of their own: the server sets `user` to the socket's real user, and
  // these clients share one login.
  provider.awareness.setLocalStateField('client', { name: spec.name })
  provider.awareness.on('change', () => {
    for (const state of provider.awareness.getStates().values()) {
      if (state.client && state.client.name) client.seen.add(state.client.name)
    }
  })
  provider.on('connection-close', (event) => {
    if (event) client.closes.push(event.code)
  })
  return client
}

const clients = scenario.clients.map(connect)
const allSynced = await until(() => clients.every((c) => c.provider.synced), 10000)
log('synced', allSynced)
// Sit idle first, to prove idle sockets (and the server's channel-layer reads) stay open.
if (scenario.idle_ms) await sleep(scenario.idle_ms)

const churn = new Set(scenario.churn || [])
const edits = scenario.edits || 0
await Promise.all(clients.map(async (client, index) => {
  for (let k = 0; k < edits; k++) {
    if (churn.has(index) && k === Math.floor(edits / 3)) {
      client.provider.disconnect()
      log(client.spec.name, 'offline')
    }
    if (churn.has(index) && k === Math.floor((2 * edits) / 3)) {
      client.provider.connect()
      log(client.spec.name, 'back online')
    }
    client.text.insert(boundary(client.text.toString()), `<${client.spec.name}:${k}>`)
    await sleep(scenario.interval_ms || 20)
  }
}))
// A churn client whose edits ended while it was offline comes back now.
clients.forEach((client, index) => {
  if (churn.has(index) && !client.provider.shouldConnect) client.provider.connect()
})

const converged = await until(() => {
  const first = clients[0].text.toString()
  return clients.every((c) => c.provider.synced && c.text.toString() === first)
}, scenario.settle_ms || 15000)
log('converged', converged)

let lateJoiner = null
if (scenario.late_joiner) {
  const late = connect({ ...scenario.late_joiner, name: 'late' })
  // The text at the moment of the first completed sync, before any later message.
  const firstSync = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 10000)
    late.provider.once('sync', () => { clearTimeout(timer); resolve(late.text.toString()) })
  })
  await until(() => late.seen.size >= clients.length, 3000)
  lateJoiner = { text: firstSync, seen: [...late.seen] }
  late.provider.destroy()
}

const result = {
  converged,
  synced: allSynced,
  texts: clients.map((c) => c.text.toString()),
  seen: clients.map((c) => [...c.seen]),
  closes: clients.map((c) => c.closes),
  late_joiner: lateJoiner,
  elapsed_ms: Date.now() - started
}
for (const client of clients) client.provider.destroy()
process.stdout.write(JSON.stringify(result) + '\n')
process.exit(0)
