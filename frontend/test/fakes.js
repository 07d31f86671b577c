// Test doubles for the transport tests: a fake HTTP transport server behind a fetch function,
// a fake WebSocket class, and helpers to let promises settle.

import * as decoding from 'lib0/decoding'

export const SESSION = 'ab'.repeat(24)

/** Let pending promise callbacks and fetch continuations run (timers stay mocked). */
export async function settle() {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** @param {Uint8Array} bytes */
const base64 = (bytes) => Buffer.from(bytes).toString('base64')

export const sse = {
  /** @param {string} session */
  session: (session = SESSION, keepalive = 15) =>
    `retry: 1000\n\nevent: session\ndata: ${JSON.stringify({ session, keepalive })}\n\n`,
  /** @param {number} seq @param {Uint8Array} bytes @param {string} [session] */
  message: (seq, bytes, session = SESSION) => `id: ${session}:${seq}\ndata: ${base64(bytes)}\n\n`,
  /** @param {number} code @param {string} reason */
  close: (code, reason) => `event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`,
  keepalive: ': keepalive\n\n',
}

/**
 * The messages of a POST body (varUint8Array after varUint8Array).
 * @param {Uint8Array} body
 */
export function splitBody(body) {
  const decoder = decoding.createDecoder(body)
  const messages = []
  while (decoding.hasContent(decoder)) messages.push(Array.from(decoding.readVarUint8Array(decoder)))
  return messages
}

/**
 * A fake server for HttpSocket: every GET opens a stream the test writes to; every POST gets
 * the next queued answer (a status, a Response, or an Error to throw as a lost answer), 204 by
 * default.
 */
export class FakeHttpServer {
  constructor() {
    /** @type {any[]} */
    this.requests = []
    /** @type {any[]} */
    this.streams = []
    /** @type {(number | Response | Error)[]} */
    this.postAnswers = []
    /** @type {(number | Error)[]} answers for the next GETs instead of a stream */
    this.streamAnswers = []
    /** While true, POSTs wait for release(): a POST in flight. */
    this.hold = false
    /** @type {(() => void)[]} */
    this._held = []
    this.fetch = this.fetch.bind(this)
  }

  get posts() {
    return this.requests.filter((request) => request.method === 'POST')
  }

  /** Let the POSTs held so far have their answers. */
  release() {
    this.hold = false
    for (const resolve of this._held.splice(0)) resolve()
  }

  get lastStream() {
    return this.streams[this.streams.length - 1]
  }

  /**
   * @param {string} url
   * @param {any} [init]
   */
  async fetch(url, init = {}) {
    const request = {
      url,
      method: init.method || 'GET',
      headers: { ...(init.headers || {}) },
      body: init.body,
      keepalive: init.keepalive,
    }
    this.requests.push(request)
    if (request.method === 'POST') {
      if (this.hold) await new Promise((resolve) => this._held.push(() => resolve(undefined)))
      const answer = this.postAnswers.length ? this.postAnswers.shift() : 204
      if (answer instanceof Error) throw answer
      return typeof answer === 'number' ? new Response(null, { status: answer }) : answer
    }
    const refusal = this.streamAnswers.shift()
    if (refusal instanceof Error) throw refusal
    if (typeof refusal === 'number') return new Response('no', { status: refusal })
    /** @type {ReadableStreamDefaultController<Uint8Array>} */
    let controller
    const body = new ReadableStream({ start(c) { controller = c } })
    const stream = {
      request,
      open: true,
      /** @param {string} text */
      write(text) {
        controller.enqueue(new TextEncoder().encode(text))
      },
      end() {
        stream.open = false
        controller.close()
      },
      drop() {
        stream.open = false
        controller.error(new TypeError('network error'))
      },
    }
    init.signal?.addEventListener('abort', () => {
      if (!stream.open) return
      stream.open = false
      controller.error(new DOMException('aborted', 'AbortError'))
    })
    this.streams.push(stream)
    return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } })
  }
}

/** A fake browser WebSocket the tests drive by hand; instances are kept in `FakeWebSocket.all`. */
export class FakeWebSocket {
  static CONNECTING = 0
  static OPEN = 1
  static CLOSING = 2
  static CLOSED = 3
  /** @type {FakeWebSocket[]} */
  static all = []

  /** @param {string} url */
  constructor(url) {
    this.url = url
    this.readyState = 0
    this.binaryType = 'blob'
    /** @type {any[]} */
    this.sent = []
    /** @type {any} */
    this.closedWith = null
    this.onopen = this.onmessage = this.onclose = this.onerror = /** @type {any} */ (null)
    const kind = /** @type {typeof FakeWebSocket} */ (this.constructor)
    kind.all.push(this)
  }

  /** @param {any} data */
  send(data) {
    this.sent.push(data)
  }

  /** @param {number} [code] @param {string} [reason] */
  close(code, reason) {
    this.closedWith = { code, reason }
    this.readyState = 2
  }

  // --- what the network does -------------------------------------------------------------

  serverOpens() {
    this.readyState = 1
    this.onopen?.({ type: 'open' })
  }

  /** @param {number[]} bytes */
  serverSends(bytes) {
    this.onmessage?.({ data: new Uint8Array(bytes).buffer })
  }

  serverCloses(code = 1006, reason = '') {
    this.readyState = 3
    this.onclose?.({ code, reason, wasClean: code !== 1006 })
  }
}

/** The same, standing in for HttpSocket; its instances are kept apart from the WebSockets. */
export class FakeHttpSocket extends FakeWebSocket {
  /** @type {FakeWebSocket[]} */
  static all = []
}
