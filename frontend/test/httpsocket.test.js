// The HTTP transport's client: its wire helpers, the event-stream parser, and HttpSocket against a
// fake server behind a fake fetch (test/fakes.js). Timers are Node's mock timers, so the retry
// and give-up delays pass in no time.

import assert from 'node:assert/strict'
import { afterEach, beforeEach, mock, test } from 'node:test'

import { EventStreamParser, readEventStream } from '../src/sse.js'
import {
  MAX_BATCH_BYTES, decodeBase64, encodeBatch, httpUrls, parseEventId, takeBatch,
} from '../src/httpwire.js'
import {
  ACK_INTERVAL_MS, HttpSocket, STREAM_GIVE_UP_MS, httpSocketClass,
} from '../src/httpsocket.js'
import { FakeHttpServer, SESSION, settle, splitBody, sse } from './fakes.js'

const WS_URL = 'ws://notes.test/ws/notes/4f1c/?acks=1'

// --- the event-stream grammar --------------------------------------------------------------

test('events are parsed across chunk boundaries and every kind of line end', () => {
  const parser = new EventStreamParser()
  /** @type {string[]} */
  const comments = []
  const text = 'retry: 1000\r\n\r\nevent: session\r\ndata: {"a":1}\r\n\r\n: keepalive\n\n' +
    'id: s:1\rdata:no-space\rdata:  two spaces\r\r'
  const events = []
  // One character at a time: every boundary, a CR and its LF in different chunks included.
  for (const char of text) events.push(...parser.push(char, (c) => comments.push(c)))
  assert.deepEqual(events, [
    { event: 'session', data: '{"a":1}', id: '' },
    { event: 'message', data: 'no-space\n two spaces', id: 's:1' },
  ])
  assert.deepEqual(comments, ['keepalive'])
})

test('a field-less event, a comment or a retry dispatches nothing', () => {
  const parser = new EventStreamParser()
  assert.deepEqual(parser.push('retry: 5\n\n: hi\n\nevent: close\n\n'), [])
  // The event name does not leak into the next event.
  assert.deepEqual(parser.push('data: x\n\n'), [{ event: 'message', data: 'x', id: '' }])
})

test('a response body is read to its end, UTF-8 split across chunks included', async () => {
  const bytes = new TextEncoder().encode('data: {"title":"Café ✓"}\n\n: keepalive\n\n')
  const body = new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.slice(i, i + 3))
      controller.close()
    },
  })
  const events = []
  let chunks = 0
  await readEventStream(body, (event) => { events.push(event) }, () => { chunks += 1 })
  assert.deepEqual(events.map((e) => JSON.parse(e.data)), [{ title: 'Café ✓' }])
  assert.equal(chunks, Math.ceil(bytes.length / 3))
})

// --- the wire helpers ----------------------------------------------------------------------

test('the WebSocket URL maps to the stream and send URLs', () => {
  assert.deepEqual(httpUrls(WS_URL, '/http/notes'), {
    stream: 'http://notes.test/http/notes/4f1c/stream?acks=1',
    send: 'http://notes.test/http/notes/4f1c/send',
  })
  assert.deepEqual(httpUrls('wss://h:8443/ws/notes/n1/', '/http/notes/'), {
    stream: 'https://h:8443/http/notes/n1/stream',
    send: 'https://h:8443/http/notes/n1/send',
  })
})

test('a POST body is each message as a lib0 varUint8Array, in order', () => {
  const small = new Uint8Array([0, 2, 5])
  const big = new Uint8Array(300).fill(7) // its length takes two varUint bytes
  const body = encodeBatch([small, new Uint8Array(0), big])
  assert.deepEqual(Array.from(body.slice(0, 4)), [3, 0, 2, 5])
  assert.deepEqual(Array.from(body.slice(5, 7)), [0xac, 0x02]) // 300 = 0b10_0101100
  assert.deepEqual(splitBody(body), [[0, 2, 5], [], Array.from(big)])
  assert.equal(encodeBatch([]).length, 0)
})

test('batches stop near the cap, and a single larger message goes alone', () => {
  const chunk = () => new Uint8Array(100 * 1024)
  const queue = [chunk(), chunk(), chunk(), new Uint8Array(600 * 1024), chunk()]
  assert.equal(takeBatch(queue).length, 2) // a third would pass 256 KiB
  assert.equal(takeBatch(queue).length, 1)
  const alone = takeBatch(queue)
  assert.equal(alone.length, 1)
  assert.ok(alone[0].length > MAX_BATCH_BYTES)
  assert.equal(takeBatch(queue).length, 1)
  assert.deepEqual(takeBatch(queue), [])
})

test('event ids and base64 data decode; malformed ids do not', () => {
  assert.deepEqual(parseEventId(`${SESSION}:12`), { session: SESSION, seq: 12 })
  assert.equal(parseEventId('12'), null)
  assert.equal(parseEventId(`${SESSION}:x`), null)
  assert.deepEqual(Array.from(decodeBase64('AAEC/w==')), [0, 1, 2, 255])
})

// --- HttpSocket against a fake server ------------------------------------------------------

/** @type {FakeHttpServer} */
let server
beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] })
  server = new FakeHttpServer()
})
afterEach(() => mock.timers.reset())

/** An HttpSocket recording what it reports, as y-websocket would see it. */
function openSocket(options = {}) {
  const Socket = httpSocketClass({ csrfToken: 'tok', fetch: server.fetch, ...options })
  const socket = new Socket(WS_URL, [])
  const seen = /** @type {any[]} */ ([])
  socket.onopen = () => seen.push('open')
  socket.onmessage = (event) => seen.push(Array.from(new Uint8Array(event.data)))
  socket.onclose = (event) => seen.push({ code: event.code, reason: event.reason })
  socket.onerror = () => seen.push('error')
  return { socket, seen }
}

/** @param {number} ms */
async function elapse(ms) {
  for (let left = ms; left > 0; left -= 100) {
    mock.timers.tick(Math.min(100, left))
    await settle()
  }
}

test('the session event opens the socket; each message arrives as an ArrayBuffer', async () => {
  const { socket, seen } = openSocket()
  await settle()
  assert.equal(server.lastStream.request.url, 'http://notes.test/http/notes/4f1c/stream?acks=1')
  assert.equal(server.lastStream.request.headers['Last-Event-ID'], undefined)
  assert.equal(socket.readyState, HttpSocket.CONNECTING)
  assert.throws(() => socket.send(new Uint8Array([1])))
  server.lastStream.write(sse.session())
  await settle()
  assert.equal(socket.readyState, socket.OPEN)
  server.lastStream.write(sse.message(1, new Uint8Array([0, 0, 1])) + sse.keepalive +
    sse.message(2, new Uint8Array([101, 2])))
  await settle()
  assert.deepEqual(seen, ['open', [0, 0, 1], [101, 2]])
})

test('sends queue behind the POST in flight and go out together, numbered in order', async () => {
  const { socket } = openSocket()
  await settle()
  server.lastStream.write(sse.session() + sse.message(1, new Uint8Array([9])))
  await settle()
  server.hold = true
  socket.send(new Uint8Array([0, 2, 1]))
  socket.send(new Uint8Array([1, 5]))
  socket.send(new Uint8Array([1, 6]))
  await settle()
  assert.equal(server.posts.length, 1) // one in flight, two waiting
  assert.equal(socket.bufferedAmount, 4)
  server.release()
  await settle()
  const posts = server.posts
  assert.equal(posts.length, 2)
  assert.deepEqual(posts.map((p) => p.headers['X-Notes-Seq']), ['1', '2'])
  assert.deepEqual(splitBody(posts[0].body), [[0, 2, 1]])
  assert.deepEqual(splitBody(posts[1].body), [[1, 5], [1, 6]])
  for (const post of posts) {
    assert.equal(post.url, 'http://notes.test/http/notes/4f1c/send')
    assert.equal(post.headers['X-CSRFToken'], 'tok')
    assert.equal(post.headers['X-Notes-Session'], SESSION)
    assert.equal(post.headers['X-Notes-Received'], '1')
    assert.equal(post.headers['Content-Type'], 'application/octet-stream')
    assert.equal(post.headers['X-Notes-End'], undefined)
  }
})

test('a lost answer or a 503 is retried with the same seq and body', async () => {
  const { socket, seen } = openSocket()
  await settle()
  server.lastStream.write(sse.session() + sse.message(1, new Uint8Array([0, 0])))
  await settle()
  server.postAnswers.push(new TypeError('network error'), 503, 204)
  socket.send(new Uint8Array([0, 2, 7]))
  await elapse(3000)
  socket.send(new Uint8Array([0, 2, 8]))
  await settle()
  const posts = server.posts
  assert.deepEqual(posts.map((p) => p.headers['X-Notes-Seq']), ['1', '1', '1', '2'])
  assert.deepEqual(posts.slice(0, 3).map((p) => splitBody(p.body)), [[[0, 2, 7]], [[0, 2, 7]], [[0, 2, 7]]])
  assert.equal(posts[0].headers['X-Notes-Received'], '1')
  assert.deepEqual(splitBody(posts[3].body), [[0, 2, 8]])
  assert.deepEqual(seen, ['open', [0, 0]]) // the provider noticed nothing
})

for (const [status, body, code, reason] of /** @type {const} */ ([
  [404, { error: 'No such HTTP session: open a new stream' }, 4000, 'No such HTTP session: open a new stream'],
  [410, { code: 4403, reason: 'You no longer have access to this note' }, 4403, 'You no longer have access to this note'],
  [413, { error: 'too big', code: 1009, reason: 'A request body exceeds the limit' }, 1009, 'A request body exceeds the limit'],
  [403, { error: 'CSRF check failed' }, 4403, 'CSRF check failed'],
  [400, { error: 'X-Notes-Seq 3 skips 2' }, 4400, 'X-Notes-Seq 3 skips 2'],
])) {
  test(`a POST answered ${status} closes the socket with ${code}`, async () => {
    const { socket, seen } = openSocket()
    await settle()
    server.lastStream.write(sse.session())
    await settle()
    server.postAnswers.push(Response.json(body, { status }))
    socket.send(new Uint8Array([0, 2, 1]))
    await settle()
    assert.equal(socket.readyState, HttpSocket.CLOSED)
    assert.deepEqual(seen.at(-1), { code, reason })
    assert.equal(server.streams.length, 1)
    assert.equal(server.lastStream.open, false) // the stream was let go
    assert.equal(server.posts.length, 1) // not retried
  })
}

test('the server\'s close event closes the socket with its code and reason', async () => {
  const { socket, seen } = openSocket()
  await settle()
  server.lastStream.write(sse.session() + sse.close(4404, 'This note was deleted') +
    sse.message(1, new Uint8Array([1])))
  await settle()
  assert.equal(socket.readyState, HttpSocket.CLOSED)
  assert.deepEqual(seen, ['open', { code: 4404, reason: 'This note was deleted' }])
})

test('a refusal before the session (not logged in) is a close without an open', async () => {
  const { seen } = openSocket()
  await settle()
  server.lastStream.write('retry: 1000\n\n' + sse.close(4401, 'Log in'))
  server.lastStream.end()
  await settle()
  assert.deepEqual(seen, [{ code: 4401, reason: 'Log in' }])
})

test('a first stream that cannot open fails like a WebSocket handshake: 1006, no open', async () => {
  server.streamAnswers.push(new TypeError('connection refused'))
  const { socket, seen } = openSocket()
  await settle()
  assert.equal(socket.readyState, HttpSocket.CLOSED)
  assert.deepEqual(seen, ['error', { code: 1006, reason: '' }])
})

test('a dropped stream resumes with Last-Event-ID; nothing is lost or repeated', async () => {
  const { socket, seen } = openSocket()
  await settle()
  server.lastStream.write(sse.session() + sse.message(1, new Uint8Array([1])) +
    sse.message(2, new Uint8Array([2])))
  await settle()
  server.lastStream.drop()
  await settle()
  server.streamAnswers.push(502) // a proxy's hiccup on the first try
  await elapse(1000)
  assert.equal(server.streams.length, 2)
  const resumed = server.lastStream
  assert.equal(resumed.request.headers['Last-Event-ID'], `${SESSION}:2`)
  // The server repeats the session, and (had it not seen our ack) an event we already have.
  resumed.write(sse.session() + sse.message(2, new Uint8Array([2])) + sse.message(3, new Uint8Array([3])))
  await settle()
  assert.equal(socket.readyState, HttpSocket.OPEN)
  assert.deepEqual(seen, ['open', [1], [2], [3]])
})

test('a resume the server no longer knows closes with 4000, so the provider resyncs', async () => {
  const { seen } = openSocket()
  await settle()
  server.lastStream.write(sse.session() + sse.message(1, new Uint8Array([1])))
  await settle()
  server.lastStream.end()
  await elapse(500)
  assert.equal(server.streams.length, 2)
  server.lastStream.write('retry: 1000\n\n' + sse.close(4000, 'The HTTP session is gone; resyncing'))
  server.lastStream.end()
  await settle()
  assert.deepEqual(seen, ['open', [1], { code: 4000, reason: 'The HTTP session is gone; resyncing' }])
})

test('a gap in the stream closes with 4000 rather than leave the replica short', async () => {
  const { seen } = openSocket()
  await settle()
  server.lastStream.write(sse.session() + sse.message(1, new Uint8Array([1])) +
    sse.message(3, new Uint8Array([3])))
  await settle()
  assert.deepEqual(seen.slice(0, 2), ['open', [1]])
  assert.equal(seen.at(-1).code, 4000)
})

test('a stream that cannot be reopened for 20 s closes with 1006', async () => {
  const { socket, seen } = openSocket()
  await settle()
  server.lastStream.write(sse.session())
  await settle()
  for (let i = 0; i < 40; i++) server.streamAnswers.push(new TypeError('unreachable'))
  server.lastStream.drop()
  await elapse(STREAM_GIVE_UP_MS - 2500)
  assert.equal(socket.readyState, HttpSocket.OPEN) // still trying
  assert.ok(server.streams.length === 1 && server.requests.length > 5)
  await elapse(5000)
  assert.equal(socket.readyState, HttpSocket.CLOSED)
  assert.deepEqual(seen.at(-1), { code: 1006, reason: 'The connection to the server was lost' })
})

test('a silent stream (no keepalive) is dropped and resumed', async () => {
  openSocket()
  await settle()
  server.lastStream.write(sse.session(SESSION, 15))
  await settle()
  await elapse(20000)
  server.lastStream.write(sse.keepalive) // keeps it alive
  await elapse(30000)
  assert.equal(server.streams.length, 1)
  await elapse(10000) // 35 s since the keepalive
  assert.equal(server.streams.length, 2)
  assert.equal(server.lastStream.request.headers['Last-Event-ID'], `${SESSION}:0`)
})

test('events received are acknowledged by an empty POST within 5 s', async () => {
  openSocket()
  await settle()
  server.lastStream.write(sse.session() + sse.message(1, new Uint8Array([1])) +
    sse.message(2, new Uint8Array([2])))
  await settle()
  await elapse(ACK_INTERVAL_MS - 100)
  assert.equal(server.posts.length, 0)
  await elapse(200)
  assert.equal(server.posts.length, 1)
  assert.equal(server.posts[0].headers['X-Notes-Received'], '2')
  assert.equal(server.posts[0].body.length, 0)
  await elapse(2 * ACK_INTERVAL_MS) // nothing new arrived: no more acknowledgements
  assert.equal(server.posts.length, 1)
})

test('close() posts what is queued with X-Notes-End, and reports onclose afterwards', async () => {
  const { socket, seen } = openSocket()
  await settle()
  server.lastStream.write(sse.session() + sse.message(1, new Uint8Array([1])))
  await settle()
  server.hold = true
  socket.send(new Uint8Array([0, 2, 4])) // goes at once
  socket.send(new Uint8Array([0, 2, 5])) // waits for the first POST
  socket.close(1000, 'bye')
  server.release()
  assert.equal(socket.readyState, HttpSocket.CLOSING)
  assert.deepEqual(seen, ['open', [1]]) // not yet: asynchronously, as a WebSocket
  await elapse(100)
  assert.deepEqual(seen.at(-1), { code: 1000, reason: 'bye' })
  assert.equal(server.lastStream.open, false)
  const [first, last] = server.posts
  assert.equal(first.headers['X-Notes-End'], undefined)
  assert.equal(last.headers['X-Notes-End'], '1')
  assert.equal(last.headers['X-Notes-Seq'], '2')
  assert.equal(last.keepalive, true)
  assert.deepEqual(splitBody(last.body), [[0, 2, 5]])
})

test('close() before the session opened sends nothing and still reports onclose', async () => {
  const { socket, seen } = openSocket()
  await settle()
  socket.close()
  await elapse(100)
  assert.equal(server.posts.length, 0)
  assert.deepEqual(seen, [{ code: 1005, reason: '' }])
})
