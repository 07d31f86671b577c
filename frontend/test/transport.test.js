// The transport chooser's decisions (WebSocket or HTTP, and back), with fake sockets and Node's
// mock timers; then the whole editor connection (y-websocket, the Saved tracker, the chooser and
// a real HttpSocket against a fake server) moving from HTTP back to WebSocket.

import assert from 'node:assert/strict'
import { afterEach, beforeEach, mock, test } from 'node:test'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'

import {
  PROBE_TIMEOUT_MS, SETTLE_MS, SILENCE_MS, TransportChooser,
} from '../src/transport.js'
import { Connection, SWITCH_WAIT_MS, shouldReconnect } from '../src/connection.js'
import { SaveTracker } from '../src/saves.js'
import { connectionText } from '../src/status.js'
import {
  FakeHttpServer, FakeHttpSocket, FakeWebSocket, SESSION, settle, splitBody, sse,
} from './fakes.js'

const URL = 'ws://notes.test/ws/notes/4f1c/?acks=1'
const ACCESS_EDITOR = [101, 2]

beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] })
  FakeWebSocket.all = []
  FakeHttpSocket.all = []
})
afterEach(() => mock.timers.reset())

/** @param {Partial<ConstructorParameters<typeof TransportChooser>[0]>} [options] */
function makeChooser(options = {}) {
  const chooser = new TransportChooser({
    webSocket: () => /** @type {any} */ (FakeWebSocket),
    serverSpeaksFirst: true,
    ...options,
  })
  const Socket = chooser.socketClass(/** @type {any} */ (FakeHttpSocket))
  return { chooser, Socket }
}

/** A chosen socket with its events recorded, as y-websocket would see them. */
function connect(/** @type {any} */ Socket) {
  const socket = new Socket(URL, [])
  const seen = /** @type {any[]} */ ([])
  socket.onopen = () => seen.push('open')
  socket.onmessage = (/** @type {any} */ event) => seen.push(Array.from(new Uint8Array(event.data)))
  socket.onclose = (/** @type {any} */ event) => seen.push({ code: event.code, reason: event.reason })
  socket.onerror = () => seen.push('error')
  return { socket, seen }
}

const lastWebSocket = () => FakeWebSocket.all[FakeWebSocket.all.length - 1]

/** Three WebSockets in a row that never carry a message. */
function failThreeTimes(/** @type {any} */ Socket) {
  for (let i = 0; i < 3; i++) {
    connect(Socket)
    lastWebSocket().serverCloses(1006)
  }
}

test('a note socket shows as open only once it carries the server\'s first message', () => {
  const { Socket } = makeChooser()
  const { socket, seen } = connect(Socket)
  const ws = lastWebSocket()
  assert.equal(ws.url, URL)
  assert.equal(ws.binaryType, 'arraybuffer')
  ws.serverOpens()
  assert.deepEqual(seen, [])
  assert.equal(socket.readyState, socket.CONNECTING)
  ws.serverSends(ACCESS_EDITOR)
  assert.deepEqual(seen, ['open', ACCESS_EDITOR])
  assert.equal(socket.readyState, socket.OPEN)
  assert.equal(socket.transport, 'websocket')
  socket.send(new Uint8Array([0, 0, 1, 0]))
  assert.equal(ws.sent.length, 1)
})

test('three WebSockets closed before carrying anything switch the page to HTTP', () => {
  const { chooser, Socket } = makeChooser()
  for (let i = 0; i < 2; i++) {
    connect(Socket)
    lastWebSocket().serverOpens() // a proxy that accepts and then cuts counts too
    lastWebSocket().serverCloses(1006)
  }
  assert.equal(chooser.mode, 'websocket')
  connect(Socket)
  lastWebSocket().serverCloses(1006)
  assert.equal(chooser.mode, 'http')
  const { socket } = connect(Socket)
  assert.equal(socket.transport, 'http')
  assert.equal(FakeHttpSocket.all.length, 1)
  assert.equal(FakeHttpSocket.all[0].url, URL)
  assert.equal(FakeWebSocket.all.length, 3)
})

test('a socket that opens and says nothing for 4 s is dropped, and the page moves to HTTP', () => {
  const { chooser, Socket } = makeChooser()
  const { socket, seen } = connect(Socket)
  const ws = lastWebSocket()
  ws.serverOpens()
  mock.timers.tick(SILENCE_MS - 100)
  assert.deepEqual(seen, [])
  mock.timers.tick(100)
  assert.deepEqual(seen, ['error', { code: 1006, reason: '' }])
  assert.equal(socket.readyState, socket.CLOSED)
  assert.ok(ws.closedWith) // let go of, not left open
  assert.ok(shouldReconnect(/** @type {any} */ ({ code: 1006 })))
  assert.equal(chooser.mode, 'http')
  ws.serverSends(ACCESS_EDITOR) // too late: nobody listens
  assert.equal(seen.length, 2)
})

test('after a WebSocket worked, failures must also last 10 s: a restart is not a block', () => {
  const { chooser, Socket } = makeChooser()
  connect(Socket)
  lastWebSocket().serverOpens()
  lastWebSocket().serverSends(ACCESS_EDITOR)
  lastWebSocket().serverCloses(1006) // the server went away
  failThreeTimes(Socket)
  assert.equal(chooser.mode, 'websocket')
  mock.timers.tick(SETTLE_MS)
  connect(Socket)
  lastWebSocket().serverCloses(1006)
  assert.equal(chooser.mode, 'http')
})

test('sockets the page closes itself are not failures', () => {
  const { chooser, Socket } = makeChooser()
  for (let i = 0; i < 5; i++) {
    const { socket } = connect(Socket)
    socket.close()
    lastWebSocket().serverCloses(1006)
  }
  assert.equal(chooser.mode, 'websocket')
})

test('HTTP that cannot even open sends the page back to WebSocket; a dropped one does not', () => {
  const { chooser, Socket } = makeChooser()
  failThreeTimes(Socket)
  const first = connect(Socket)
  FakeHttpSocket.all[0].serverOpens()
  FakeHttpSocket.all[0].serverCloses(1006)
  assert.deepEqual(first.seen, ['open', { code: 1006, reason: '' }])
  assert.equal(chooser.mode, 'http')
  connect(Socket)
  FakeHttpSocket.all[1].serverCloses(1006) // the server is down, not WebSockets blocked
  assert.equal(chooser.mode, 'websocket')
})

test('HTTP mode probes a WebSocket every interval, and comes back when one carries a message', () => {
  let back = 0
  const { chooser, Socket } = makeChooser({ probeIntervalMs: 60000, onWebSocketBack: () => back++ })
  failThreeTimes(Socket)
  connect(Socket)
  mock.timers.tick(59000)
  assert.equal(FakeWebSocket.all.length, 3)
  mock.timers.tick(1000)
  const probe = lastWebSocket()
  assert.equal(FakeWebSocket.all.length, 4)
  assert.equal(probe.url, URL)
  probe.serverOpens()
  assert.equal(back, 0) // open is not enough: the server must speak
  probe.serverSends(ACCESS_EDITOR)
  assert.equal(back, 1)
  assert.equal(chooser.mode, 'websocket')
  assert.deepEqual(probe.closedWith, { code: 1000, reason: undefined })
  const { socket } = connect(Socket)
  assert.equal(socket.transport, 'websocket')
})

test('a failed or silent probe leaves HTTP mode on, and the next one comes an interval later', () => {
  let back = 0
  const { chooser, Socket } = makeChooser({ probeIntervalMs: 60000, onWebSocketBack: () => back++ })
  failThreeTimes(Socket)
  mock.timers.tick(60000)
  lastWebSocket().serverCloses(1006) // still blocked
  mock.timers.tick(60000)
  const silent = lastWebSocket()
  assert.equal(FakeWebSocket.all.length, 5)
  silent.serverOpens()
  mock.timers.tick(PROBE_TIMEOUT_MS)
  assert.ok(silent.closedWith)
  silent.serverSends(ACCESS_EDITOR) // too late
  assert.equal(chooser.mode, 'http')
  assert.equal(back, 0)
  chooser.stop()
  mock.timers.tick(10 * 60000)
  assert.equal(FakeWebSocket.all.length, 5) // stopped: no more probes
})

test('for the notes list, a probe that opens is enough', () => {
  let back = 0
  const chooser = new TransportChooser({
    webSocket: () => /** @type {any} */ (FakeWebSocket),
    serverSpeaksFirst: false,
    probeIntervalMs: 1000,
    onWebSocketBack: () => back++,
  })
  chooser.probeUrl = 'ws://notes.test/ws/notes/'
  for (let i = 0; i < 3; i++) chooser.websocketFailed()
  assert.equal(chooser.mode, 'http')
  mock.timers.tick(1000)
  lastWebSocket().serverOpens()
  assert.equal(back, 1)
  assert.equal(chooser.mode, 'websocket')
})

test('moving back ends the HTTP connection with a close that y-websocket reconnects after', () => {
  const { Socket } = makeChooser()
  failThreeTimes(Socket)
  const { socket, seen } = connect(Socket)
  const http = FakeHttpSocket.all[0]
  http.serverOpens()
  socket.moveToWebSocket()
  assert.equal(seen.length, 2)
  const close = seen[1]
  assert.equal(close.code, 1000)
  assert.ok(shouldReconnect(close))
  assert.equal(http.closedWith.code, 1000) // the HttpSocket ends its session
  assert.equal(socket.readyState, socket.CLOSED)
})

test('the status line says when the note is connected over HTTP', () => {
  assert.equal(connectionText({ kind: 'connected', http: true }, 0, true).label, 'Connected over HTTP')
  assert.equal(connectionText({ kind: 'connected' }, 0, true).label, 'Connected')
})

// --- the editor's connection, end to end in Node --------------------------------------------

/** A Connection with a fake window whose WebSockets are FakeWebSockets, and HTTP on `server`. */
function editorConnection(/** @type {FakeHttpServer} */ server) {
  const doc = new Y.Doc()
  const tracker = new SaveTracker()
  let conn = /** @type {Connection | null} */ (null)
  doc.on('update', (/** @type {any} */ _update, /** @type {any} */ origin) => {
    if (!conn || origin !== conn.provider) tracker.localChange()
  })
  const fakeWindow = /** @type {any} */ ({
    navigator: { onLine: true },
    addEventListener() {},
    WebSocket: FakeWebSocket,
  })
  globalThis.fetch = server.fetch
  conn = new Connection({
    url: 'ws://notes.test/ws/notes',
    room: '4f1c/',
    doc,
    awareness: new Awareness(doc),
    tracker,
    canEdit: true,
    window: fakeWindow,
    http: { path: '/http/notes', csrfToken: 'tok', probeIntervalMs: 30000 },
  })
  return { doc, tracker, conn }
}

/** @param {number} ms */
async function elapse(ms) {
  for (let left = ms; left > 0; left -= 100) {
    mock.timers.tick(Math.min(100, left))
    await settle()
  }
}

const realFetch = globalThis.fetch
afterEach(() => { globalThis.fetch = realFetch })

for (const acknowledged of [true, false]) {
  test(`moving back to WebSocket keeps "Saved" truthful (${acknowledged ? 'acked' : 'never acked'})`, async () => {
    const server = new FakeHttpServer()
    const { doc, tracker, conn } = editorConnection(server)
    const live = () => tracker.state({ connected: conn.connected, synced: conn.synced })
    // WebSockets are blocked: y-websocket retries with backoff, then the chooser picks HTTP.
    for (let i = 0; i < 3; i++) {
      await elapse(2000)
      lastWebSocket().serverCloses(1006)
    }
    await elapse(2000)
    assert.equal(FakeWebSocket.all.length, 3)
    // As the server does on join: access, its sync step 1 (an empty state vector), and its
    // step 2 (nothing to add). The provider answers the step 1 with a step 2 (counted, empty).
    server.lastStream.write(sse.session() + sse.message(1, new Uint8Array(ACCESS_EDITOR)) +
      sse.message(2, new Uint8Array([0, 0, 1, 0])) + sse.message(3, new Uint8Array([0, 1, 2, 0, 0])))
    await settle()
    assert.equal(conn.status.kind, 'connected')
    assert.ok(conn.overHttp)
    assert.equal(connectionText(conn.status, 0, true).label, 'Connected over HTTP')

    doc.getText('content').insert(0, 'typed over HTTP')
    await settle()
    const update = server.posts.flatMap((post) => splitBody(post.body)).find((m) => m[0] === 0 && m[1] === 2)
    assert.ok(update, 'the edit was posted')
    assert.equal(live(), 'saving')

    // A probe finds WebSockets working again; the move waits for the edit's acknowledgement.
    await elapse(30000)
    const probe = lastWebSocket()
    probe.serverOpens()
    probe.serverSends(ACCESS_EDITOR)
    await elapse(1000)
    assert.ok(conn.overHttp, 'still on HTTP while the edit is unacknowledged')
    assert.equal(FakeWebSocket.all.length, 4)
    if (acknowledged) {
      server.lastStream.write(sse.message(4, new Uint8Array([100, 2]))) // saved(2)
      await settle()
      assert.equal(live(), 'saved')
      await elapse(500)
    } else {
      await elapse(SWITCH_WAIT_MS)
    }
    assert.ok(!conn.overHttp, 'the HTTP connection ended')
    const end = server.posts.at(-1)
    assert.equal(end.headers['X-Notes-End'], '1')
    // Unacknowledged, the edit is not claimed as saved: the next connection's step 2 carries it.
    assert.equal(tracker.unsent, !acknowledged)
    assert.equal(live(), acknowledged ? 'idle' : 'unsaved')

    await elapse(1000) // y-websocket reconnects, over a WebSocket now
    const ws = lastWebSocket()
    assert.equal(FakeWebSocket.all.length, 5)
    assert.equal(ws.url, 'ws://notes.test/ws/notes/4f1c/?acks=1')
    ws.serverOpens()
    ws.serverSends(ACCESS_EDITOR)
    assert.equal(conn.status.kind, 'connected')
    assert.ok(!conn.overHttp)
    assert.equal(connectionText(conn.status, 0, true).label, 'Connected')
    conn.provider.destroy()
  })
}

test('HttpSocket speaks the session it was given, in order, to the real provider', async () => {
  const server = new FakeHttpServer()
  const { conn } = editorConnection(server)
  for (let i = 0; i < 3; i++) {
    await elapse(2000)
    lastWebSocket().serverCloses(1006)
  }
  await elapse(2000)
  server.lastStream.write(sse.session())
  await settle()
  // On open the provider sends sync step 1 and its awareness: one POST, or two in order.
  const messages = server.posts.flatMap((post) => splitBody(post.body))
  assert.deepEqual(messages.map((m) => m[0]), [0, 1])
  assert.deepEqual(server.posts.map((p) => p.headers['X-Notes-Session']), server.posts.map(() => SESSION))
  conn.provider.destroy()
})
