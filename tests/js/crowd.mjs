// A controllable crowd of official Yjs clients (yjs + y-websocket's WebsocketProvider over ws),
// for fault tests that kill servers while clients hold state.
//
// Started with a JSON spec in argv[2]:
//   { clients: [{ url, room, cookie, origin, name, acks?: bool }], max_backoff_ms?: n }
// then driven by JSON commands on stdin, one per line: { id, cmd, ...args }. Each command gets
// exactly one JSON reply on stdout: { id, ok: true, ...result } or { id, ok: false, error }.
// Before any command it prints { ready: true }.
//
// Commands:
//   type { clients?: [i], interval_ms, count? }  start typing (returns at once): each client
//                        inserts "<name:k>" (k = 0, 1, 2, ...) every interval_ms, at a random
//                        boundary between tokens, `count` more tokens or until `pause`
//   pause { finish? }    stop typing (with finish: let each loop type its `count` first);
//                        returns when every typing loop has ended, with each client's count
//   status {}            per client: typed, connects, syncs, connected, synced, length, closes,
//                        durable (with acks: how many of its tokens the server said are saved)
//   texts {}             every client's text
//   wait { until: 'converged' | 'synced', min_syncs?: [n], timeout_ms }
//                        'synced': every client connected and synced (and, with min_syncs, has
//                        completed at least that many syncs); 'converged': that, and every text
//                        equal. Returns { met, ms }.
//   probe { from: i, timeout_ms }  client i types one token; returns { met, ms, token } once
//                        every client has it (the live fan-out latency, not the heal bound)
//   destroy {}           destroy every provider (nothing more is sent); returns the texts
//
// Every token is unique, so the caller can check each is present exactly once everywhere.
import * as readline from 'node:readline'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const spec = JSON.parse(process.argv[2])
const started = Date.now()
const log = (...args) => process.stderr.write(`[${Date.now() - started}ms] ${args.join(' ')}\n`)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const MSG_SYNC = 0
const SYNC_STEP2 = 1
const SYNC_UPDATE = 2
const MSG_SAVED = 100 // ours: "n of your document messages are durable" (only with ?acks=1)
const MSG_ACCESS = 101 // ours: "your role is r" (only with ?acks=1)

/** Whether the server counts this outgoing frame (sync step 2 and update, as notes.hub does). */
function counted (data) {
  const decoder = decoding.createDecoder(data instanceof Uint8Array ? data : new Uint8Array(data))
  if (decoding.readVarUint(decoder) !== MSG_SYNC) return false
  const sub = decoding.readVarUint(decoder)
  return sub === SYNC_STEP2 || sub === SYNC_UPDATE
}

/** A ws WebSocket that sends the session cookie and Origin a browser would, and records, for
 * each frame the server counts, how many of the client's tokens existed when it went out. */
const socketClass = (client) =>
  class extends WebSocket {
    constructor (url, protocols) {
      const headers = { Origin: client.spec.origin }
      if (client.spec.cookie) headers.Cookie = `sessionid=${client.spec.cookie}`
      super(url, protocols, { headers })
      this.sentTyped = [] // per counted frame: client.typed at the time it was sent
    }

    send (data) {
      super.send(data)
      if (counted(data)) this.sentTyped.push(client.typed)
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

function connect (clientSpec) {
  const doc = new Y.Doc()
  const client = {
    spec: clientSpec,
    doc,
    text: doc.getText('content'),
    typed: 0,
    connects: 0,
    syncs: 0,
    closes: [],
    durable: 0
  }
  client.provider = new WebsocketProvider(clientSpec.url, clientSpec.room, doc, {
    WebSocketPolyfill: socketClass(client),
    disableBc: true, // otherwise clients in one process sync without the server
    maxBackoffTime: spec.max_backoff_ms || 500,
    params: clientSpec.acks ? { acks: '1' } : {}
  })
  const provider = client.provider
  if (clientSpec.acks) {
    provider.messageHandlers[MSG_SAVED] = (_encoder, decoder, p) => {
      const n = decoding.readVarUint(decoder)
      const sent = p.ws && p.ws.sentTyped
      if (sent && n > 0 && n <= sent.length) client.durable = Math.max(client.durable, sent[n - 1])
    }
    provider.messageHandlers[MSG_ACCESS] = (_encoder, decoder) => { decoding.readVarUint(decoder) }
  }
  provider.awareness.setLocalStateField('user', { name: clientSpec.name })
  provider.on('status', ({ status }) => { if (status === 'connected') client.connects++ })
  provider.on('sync', (synced) => { if (synced) client.syncs++ })
  provider.on('connection-close', (event) => { if (event) client.closes.push(event.code) })
  return client
}

const clients = spec.clients.map(connect)
let typing = [] // running typing loops
let stopTyping = false

/** Insert the client's next token: one transaction, so one update message. */
function typeOne (client) {
  // Count it first: the provider sends the update during insert(), and the socket records
  // how many tokens existed when each frame went out.
  const k = client.typed++
  const text = client.text
  text.insert(boundary(text.toString()), `<${client.spec.name}:${k}>`)
}

async function typeLoop (client, intervalMs, count) {
  for (let k = 0; !stopTyping && (count === undefined || k < count); k++) {
    typeOne(client)
    await sleep(intervalMs)
  }
}

function ready (client) {
  return client.provider.wsconnected && client.provider.synced
}

function conditionMet (until, minSyncs) {
  const all = clients.every((c, i) => ready(c) && (!minSyncs || c.syncs >= minSyncs[i]))
  if (!all || until === 'synced') return all
  const first = clients[0].text.toString()
  return clients.every((c) => c.text.toString() === first)
}

async function waitFor (predicate, timeoutMs) {
  const t0 = Date.now()
  while (!predicate()) {
    if (Date.now() - t0 > timeoutMs) return { met: false, ms: Date.now() - t0 }
    await sleep(10)
  }
  return { met: true, ms: Date.now() - t0 }
}

const commands = {
  async type ({ clients: which, interval_ms: intervalMs = 50, count }) {
    stopTyping = false
    const chosen = which ? which.map((i) => clients[i]) : clients
    typing.push(...chosen.map((c) => typeLoop(c, intervalMs, count)))
    return {}
  },
  async pause ({ finish = false }) {
    stopTyping = !finish
    await Promise.all(typing)
    typing = []
    return { typed: clients.map((c) => c.typed) }
  },
  async status () {
    return {
      clients: clients.map((c) => ({
        name: c.spec.name,
        typed: c.typed,
        connects: c.connects,
        syncs: c.syncs,
        connected: c.provider.wsconnected,
        synced: c.provider.synced,
        length: c.text.length,
        closes: c.closes,
        durable: c.durable
      }))
    }
  },
  async texts () {
    return { texts: clients.map((c) => c.text.toString()) }
  },
  async wait ({ until = 'converged', min_syncs: minSyncs, timeout_ms: timeoutMs = 10000 }) {
    return waitFor(() => conditionMet(until, minSyncs), timeoutMs)
  },
  async probe ({ from, timeout_ms: timeoutMs = 10000 }) {
    const client = clients[from]
    const token = `<${client.spec.name}:${client.typed}>`
    typeOne(client)
    const result = await waitFor(() => clients.every((c) => c.text.toString().includes(token)),
      timeoutMs)
    return { ...result, token }
  },
  async destroy () {
    stopTyping = true
    await Promise.all(typing)
    typing = []
    for (const c of clients) c.provider.destroy()
    return { texts: clients.map((c) => c.text.toString()) }
  }
}

process.stdout.write(JSON.stringify({ ready: true }) + '\n')
const lines = readline.createInterface({ input: process.stdin })
// Commands run one at a time, in order.
let chain = Promise.resolve()
lines.on('line', (line) => {
  if (!line.trim()) return
  chain = chain.then(async () => {
    let request = {}
    try {
      request = JSON.parse(line)
      const handler = commands[request.cmd]
      if (!handler) throw new Error(`unknown command ${request.cmd}`)
      const result = await handler(request)
      process.stdout.write(JSON.stringify({ id: request.id, ok: true, ...result }) + '\n')
    } catch (error) {
      log('command failed', error && error.stack)
      process.stdout.write(JSON.stringify({ id: request.id, ok: false, error: String(error) }) + '\n')
    }
  })
})
lines.on('close', async () => {
  await chain
  for (const c of clients) c.provider.destroy()
  process.exit(0)
})
