// One simulated editor: a Y.Doc kept in sync over a raw WebSocket, or over the HTTP transport
// (server-sent events in, POSTs out: http.js) where the scenario says `transport: "http"`. Both
// carry the same messages; everything below the socket, latency included, is the same code.
//
// Latency is measured without writing anything into the document. Every client has a known
// clientID; an author remembers (clock after the edit, time of the edit), and every receiver
// remembers, per remote client, each (clock, time) at which its state vector advanced. An edit
// has reached a receiver at the first advance whose clock is at least the edit's clock. All
// processes share one time base: performance.timeOrigin + performance.now().

import { performance } from 'node:perf_hooks'
import { createHash } from 'node:crypto'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as wire from './wire.js'
import { HttpTransport } from './http.js'

export const now = () => performance.timeOrigin + performance.now()

const LOCAL = Symbol('local edit')
const REMOTE = Symbol('remote update')
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz'

// How a client follows remote edits:
//   'doc'  applies every update to its Y.Doc (a real replica: its text is checked at the end);
//   'meta' reads only each update's clock ranges (Y.parseUpdateMeta) and never integrates it, so
//          a large scenario does not make the generator the bottleneck. Its own edits go into a
//          Y.Doc that holds only its own text. Ranges that arrive after a gap are held back until
//          the gap is filled, as Yjs does with pending structs, so a lost update is never counted.
//   'arrival' only notes when the server's step 2 arrives and reads nothing in it or after it:
//          for a join storm (no authors), where even reading a large note's update metadata
//          (about 8 ms for a B4-sized note) on every joiner would measure the generator.
export const TRACK_DOC = 'doc'
export const TRACK_META = 'meta'
export const TRACK_ARRIVAL = 'arrival'

export const TRANSPORT_WS = 'ws'
export const TRANSPORT_HTTP = 'http'

export class BenchClient {
  constructor ({ index, clientID, url, headers, awareness = true, track = TRACK_DOC, transport = TRANSPORT_WS, onRemoteAdvance = null }) {
    this.index = index
    this.track = track
    this.transport = transport
    // meta tracking: clientID -> contiguous clock seen, and clientID -> [[from, to], ...] held back
    this.known = new Map()
    this.held = new Map()
    this.url = url
    this.headers = headers
    this.awareness = awareness
    this.onRemoteAdvance = onRemoteAdvance
    this.doc = new Y.Doc()
    this.doc.clientID = clientID
    this.text = this.doc.getText('content')
    this.socket = null // a ws WebSocket, or an HttpTransport (same readyState, send, close)
    this.synced = false
    this.closing = false
    this.closeCode = null
    this.unexpectedClose = false
    this.errors = []
    // author clientID -> { clocks: number[], times: number[] } (both ascending)
    this.advances = new Map()
    this.counters = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, awarenessIn: 0, chatIn: 0, unknownIn: 0, textFramesIn: 0, decodeErrors: 0 }
    this.connectMs = null
    this.syncMs = null
    // chat message id -> when its `chat` frame (a new message) arrived; only our server sends
    // them, and only with ?acks=1.
    this.chatSeen = new Map()

    this.doc.on('update', (update, origin) => {
      if (origin === LOCAL) this.send(wire.encodeUpdate(update))
    })
    this.doc.on('afterTransaction', (tr) => {
      if (tr.origin !== REMOTE) return
      const t = now()
      for (const [client, clock] of tr.afterState) {
        if (client === this.doc.clientID) continue
        if (clock <= (tr.beforeState.get(client) || 0)) continue
        this.noteAdvance(client, clock, t)
      }
    })
  }

  /** Open the socket (or HTTP session) and resolve once the server's step 2 has arrived. */
  connect (timeoutMs) {
    const started = now()
    return new Promise((resolve, reject) => {
      let settled = false
      const settle = (err) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        err ? reject(err) : resolve()
      }
      const timer = setTimeout(() => {
        settle(new Error(`not synced after ${timeoutMs} ms`))
        this.close()
      }, timeoutMs)
      const on = {
        open: () => {
          this.connectMs = now() - started
          this.send(wire.encodeStep1(Y.encodeStateVector(this.doc)))
          if (this.awareness) {
            this.send(wire.encodeAwareness(this.doc.clientID, 1, { user: { name: `bench-${this.index}` } }))
          }
        },
        message: (data, isBinary) => {
          // Sync time ends when the server's step 2 has arrived, not when this client has
          // integrated it: that is the client's own work (37 ms in Yjs for a B4-sized note).
          const arrived = now()
          this.receive(data, isBinary)
          if (this.synced && !settled) {
            this.syncMs = arrived - started
            settle()
          }
        },
        error: (err) => {
          this.errors.push(String(err.message || err))
          settle(err)
        },
        close: (code) => {
          this.closeCode = code
          if (!this.closing) this.unexpectedClose = true
          settle(new Error(`closed with code ${code} before sync`))
        }
      }
      if (this.transport === TRANSPORT_HTTP) this.openHttp(on)
      else this.openWs(on, settle)
    })
  }

  openWs (on, settle) {
    const ws = new WebSocket(this.url, { headers: this.headers, perMessageDeflate: false })
    this.socket = ws
    ws.on('open', on.open)
    ws.on('message', on.message)
    ws.on('unexpected-response', (_req, res) => {
      settle(new Error(`HTTP ${res.statusCode} on upgrade`))
      ws.terminate()
    })
    ws.on('error', on.error)
    ws.on('close', on.close)
  }

  openHttp (on) {
    const http = new HttpTransport(this.url, this.headers)
    this.socket = http
    http.socket.onopen = on.open
    // Each event carries one message, as one binary frame would.
    http.socket.onmessage = (event) => on.message(new Uint8Array(event.data), true)
    http.socket.onerror = () => this.errors.push('HTTP transport error')
    http.socket.onclose = (event) => {
      if (!event.wasClean && !this.closing) this.errors.push(`HTTP session lost: ${event.code} ${event.reason}`)
      on.close(event.code)
    }
  }

  receive (data, isBinary) {
    this.counters.framesIn++
    this.counters.bytesIn += data.length
    if (!isBinary) {
      this.counters.textFramesIn++
      return
    }
    let message
    try {
      message = wire.decodeMessage(data)
    } catch (err) {
      this.counters.decodeErrors++
      return
    }
    if (message.type === wire.MESSAGE_SYNC) {
      switch (message.subType) {
        case wire.SYNC_STEP1:
          this.send(wire.encodeStep2(Y.encodeStateAsUpdate(this.doc, message.payload)))
          break
        case wire.SYNC_STEP2:
          if (this.track === TRACK_META) this.followMeta(message.payload)
          else if (this.track === TRACK_DOC) Y.applyUpdate(this.doc, message.payload, REMOTE)
          this.synced = true
          break
        case wire.SYNC_UPDATE:
          if (this.track === TRACK_ARRIVAL) break
          if (this.track === TRACK_META && this.synced) this.followMeta(message.payload)
          else Y.applyUpdate(this.doc, message.payload, REMOTE)
          break
        default:
          this.counters.unknownIn++
      }
    } else if (message.type === wire.MESSAGE_AWARENESS) {
      this.counters.awarenessIn++
    } else if (message.type === wire.MESSAGE_CHAT) {
      this.counters.chatIn++
      const { kind, message: posted } = message.event
      if (kind === 'message' && !this.chatSeen.has(posted.id)) this.chatSeen.set(posted.id, now())
    } else {
      this.counters.unknownIn++
    }
  }

  followMeta (update) {
    const { from, to } = Y.parseUpdateMeta(update)
    const t = now()
    for (const [client, end] of to) {
      if (client === this.doc.clientID) continue
      const start = from.get(client)
      const before = this.clockOf(client)
      if (start > before) {
        if (!this.held.has(client)) this.held.set(client, [])
        this.held.get(client).push([start, end])
        continue
      }
      let clock = Math.max(before, end)
      const held = this.held.get(client)
      if (held) {
        // Fold in held-back ranges that now connect.
        held.sort((a, b) => a[0] - b[0])
        while (held.length && held[0][0] <= clock) clock = Math.max(clock, held.shift()[1])
      }
      if (clock <= before) continue
      this.known.set(client, clock)
      this.noteAdvance(client, clock, t)
    }
  }

  noteAdvance (client, clock, t) {
    let list = this.advances.get(client)
    if (!list) this.advances.set(client, (list = { clocks: [], times: [] }))
    list.clocks.push(clock)
    list.times.push(t)
    if (this.onRemoteAdvance) this.onRemoteAdvance(this, client, clock, t)
  }

  send (bytes) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false
    this.socket.send(bytes)
    this.counters.framesOut++
    this.counters.bytesOut += bytes.length
    return true
  }

  /** Insert `length` random letters at a random position (or the end); returns { clock, t }. */
  edit (length, atEnd) {
    let chars = ''
    for (let i = 0; i < length; i++) chars += ALPHABET[Math.floor(Math.random() * ALPHABET.length)]
    const position = atEnd ? this.text.length : Math.floor(Math.random() * (this.text.length + 1))
    const t = now()
    this.doc.transact(() => this.text.insert(position, chars), LOCAL)
    return { clock: Y.getState(this.doc.store, this.doc.clientID), t }
  }

  /** The clock this client has seen from `clientID`. */
  clockOf (clientID) {
    const applied = Y.getState(this.doc.store, clientID)
    return this.track === TRACK_META ? Math.max(applied, this.known.get(clientID) || 0) : applied
  }

  /** Time at which this client first held clock `clock` of `author`, or null. */
  arrival (author, clock) {
    const list = this.advances.get(author)
    if (!list) return null
    const { clocks, times } = list
    let lo = 0
    let hi = clocks.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (clocks[mid] >= clock) hi = mid
      else lo = mid + 1
    }
    return lo < clocks.length ? times[lo] : null
  }

  /** Length and SHA-1 of the text; null for a 'meta' client, whose text is its own only. */
  textDigest () {
    if (this.track !== TRACK_DOC) return null
    const text = this.text.toString()
    return { length: text.length, sha1: createHash('sha1').update(text).digest('hex') }
  }

  close () {
    this.closing = true
    if (this.socket) this.socket.close(1000)
  }

  /** Whether the socket has closed (over HTTP: and its connections are released). */
  get closed () {
    if (!this.socket) return true
    return this.transport === TRANSPORT_HTTP ? this.socket.finished : this.socket.readyState === WebSocket.CLOSED
  }

  /** Cut the connection(s) without a goodbye. */
  terminate () {
    if (this.socket) this.socket.terminate()
  }
}
