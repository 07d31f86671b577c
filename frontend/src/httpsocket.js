/**
 * A WebSocket look-alike that carries the note's protocol messages over plain HTTP, for networks
 * that block WebSockets (docs/protocol.md, "The HTTP transport").
 *
 * y-websocket 3.1.0 uses this much of a WebSocket: `new WS(url, protocols)`, `binaryType`,
 * `readyState` with the `OPEN` constant, `onopen`, `onmessage`, `onclose`, `onerror`,
 * `send(Uint8Array)` and `close()`. HttpSocket offers that, and maps the URL the provider builds
 * (`ws[s]://host/ws/notes/<note>/?acks=1`) to two HTTP endpoints:
 *
 * - The stream, `GET <httpPath>/<note>/stream?acks=1`, server-sent events. Its `session` event is
 *   the open; each message event is one `onmessage` with an ArrayBuffer; its `close` event is
 *   `onclose` with the server's code and reason. A dropped stream is reopened by the socket
 *   itself, with Last-Event-ID, so nothing is lost or repeated and the provider never notices.
 *   The provider hears of a close only when the server ends the session (code 4000 when it no
 *   longer knows it) or the stream cannot be reopened for STREAM_GIVE_UP_MS.
 * - Sends, `POST <httpPath>/<note>/send`. Messages queue and leave in batches, one POST at a
 *   time so the server applies them in order. A POST whose answer is lost, or that is answered
 *   503, is sent again with the same X-Notes-Seq (the server applies a batch once). Events that
 *   arrived are acknowledged (X-Notes-Received) with every POST, and by an empty POST within
 *   ACK_INTERVAL_MS, so the server can forget what it delivered.
 *
 * `close()` sends a last POST with X-Notes-End (as a keepalive request, so it outlives the page)
 * and, as a WebSocket does, reports `onclose` afterwards, asynchronously.
 *
 * It runs in browsers and in Node 20 (fetch with a streaming body): `httpSocketClass` binds the
 * options, such as the Cookie and Origin headers a Node client needs.
 */

import {
  decodeBase64, encodeBatch, httpUrls, parseEventId, takeBatch,
} from './httpwire.js'
import { readEventStream } from './sse.js'

/** Events received are acknowledged at least this often. */
export const ACK_INTERVAL_MS = 5000
/** How long a dropped stream, or a POST that gets no answer, is retried before giving up. */
export const STREAM_GIVE_UP_MS = 20000
export const SEND_GIVE_UP_MS = 20000
/** How long the last POST of a closing socket is retried. */
const END_GIVE_UP_MS = 5000
/** How long a stream may take to deliver its `session` event. */
export const OPEN_TIMEOUT_MS = 10000
/** Browsers refuse keepalive requests whose bodies exceed 64 KiB in total. */
const KEEPALIVE_MAX_BODY = 60 * 1024

/** Close codes the socket reports by itself, for what it sees of the network and of POST answers. */
export const CLOSE_ABNORMAL = 1006
export const CLOSE_TOO_BIG = 1009
export const CLOSE_SESSION_GONE = 4000
export const CLOSE_BAD_REQUEST = 4400
export const CLOSE_FORBIDDEN = 4403

const CONNECTING = 0
const OPEN = 1
const CLOSING = 2
const CLOSED = 3

/**
 * @typedef {object} HttpSocketOptions
 * @property {string} [httpPath]   where the HTTP transport lives (default `/http/notes`)
 * @property {string} [csrfToken]  Django's CSRF token, sent as X-CSRFToken on every POST
 * @property {Record<string, string>} [headers]  more headers on every request (Cookie, Origin)
 * @property {typeof fetch} [fetch]  default: the global fetch, looked up at each request
 */

/**
 * @typedef {object} CloseInfo
 * @property {number} code
 * @property {string} reason
 * @property {boolean} wasClean
 */

/**
 * Why a refused request failed, from its JSON `{"error"}` or `{"reason"}` body if it has one.
 * @param {Response} response
 * @returns {Promise<{ code?: number, reason: string }>}
 */
async function refusal(response) {
  let body = null
  try {
    body = await response.json()
  } catch {
    // not JSON (a proxy's page, Django's CSRF page): the status says enough
  }
  const reason = body && (body.reason || body.error)
  return {
    code: body && Number.isInteger(body.code) ? body.code : undefined,
    reason: typeof reason === 'string' ? reason : `The server answered HTTP ${response.status}`,
  }
}

/**
 * Let go of an answer's body unread, so that Node's fetch frees the connection at once.
 * @param {Response} response
 */
function discard(response) {
  if (response.body && !response.bodyUsed) response.body.cancel().catch(() => {})
}

/** @param {number} attempt */
const retryDelay = (attempt) => Math.min(250 * 2 ** attempt, 2000)

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export class HttpSocket {
  static CONNECTING = CONNECTING
  static OPEN = OPEN
  static CLOSING = CLOSING
  static CLOSED = CLOSED

  /**
   * @param {string} url  the WebSocket URL the provider would have opened
   * @param {HttpSocketOptions} [options]
   */
  constructor(url, options = {}) {
    this.CONNECTING = CONNECTING
    this.OPEN = OPEN
    this.CLOSING = CLOSING
    this.CLOSED = CLOSED
    this.url = url
    /** Always 'arraybuffer': messages arrive as ArrayBuffers whatever this says. */
    this.binaryType = 'arraybuffer'
    this.readyState = CONNECTING
    /** @type {((event: any) => void) | null} */
    this.onopen = null
    /** @type {((event: { data: ArrayBuffer }) => void) | null} */
    this.onmessage = null
    /** @type {((event: CloseInfo) => void) | null} */
    this.onclose = null
    /** @type {((event: any) => void) | null} */
    this.onerror = null

    this._urls = httpUrls(url, options.httpPath)
    this._csrfToken = options.csrfToken || ''
    this._headers = options.headers || {}
    const customFetch = options.fetch
    // Called as plain functions: a browser's fetch refuses any `this` but the window.
    /** @type {typeof fetch} */
    this._fetch = customFetch ? (input, init) => customFetch(input, init) : (input, init) => fetch(input, init)
    /** The session's name, once the stream said it. */
    this._session = ''
    /** The last stream seq handed to onmessage. */
    this._received = 0
    /** The `received` value the last POST carried. */
    this._acked = 0
    /** @type {Uint8Array[]} messages waiting for a POST */
    this._queue = []
    this._queuedBytes = 0
    this._postSeq = 0
    this._posting = false
    /** close() was called: the next POST is the last one. */
    this._ending = false
    /** No POST may start any more (the session is over). */
    this._sendsStopped = false
    /** @type {AbortController | null} */
    this._streamAbort = null
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._ackTimer = null
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._silenceTimer = null
    /** Seconds the server promised between keepalives (from the `session` event). */
    this._keepalive = 15
    this._runStream()
  }

  /** Bytes queued and not yet posted. */
  get bufferedAmount() {
    return this._queuedBytes
  }

  /**
   * Queue a message for the next POST.
   * @param {ArrayBuffer | ArrayBufferView} data
   */
  send(data) {
    if (this.readyState === CONNECTING) throw new Error('HttpSocket is still connecting')
    if (this.readyState !== OPEN) return
    let bytes
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data)
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    else throw new TypeError('HttpSocket sends binary messages only')
    // Copied: the caller may reuse its buffer before the POST leaves.
    this._queue.push(bytes.slice())
    this._queuedBytes += bytes.length
    this._pump()
  }

  /**
   * End the session: post what is queued with X-Notes-End, stop reading, and report onclose.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code, reason) {
    if (this.readyState === CLOSING || this.readyState === CLOSED) return
    const hadSession = this.readyState === OPEN
    this.readyState = CLOSING
    this._stopReading()
    if (hadSession) {
      this._ending = true
      this._pump()
    } else {
      this._sendsStopped = true
    }
    setTimeout(() => {
      this._finish({ code: code ?? 1005, reason: reason ?? '', wasClean: true })
    }, 0)
  }

  // --- the stream -------------------------------------------------------------------------

  /** Read streams until the session ends: the first one opens it, later ones resume it. */
  async _runStream() {
    let droppedAt = 0
    let attempt = 0
    while (this.readyState === CONNECTING || this.readyState === OPEN) {
      const opened = this.readyState === OPEN
      const outcome = await this._readOneStream()
      if (this.readyState !== CONNECTING && this.readyState !== OPEN) return
      if (outcome === 'refused') return // _fail was called
      if (!opened && this.readyState === CONNECTING) {
        // The first stream never opened: as a WebSocket handshake that failed.
        this._fail(CLOSE_ABNORMAL, '')
        return
      }
      if (outcome === 'resumed') {
        droppedAt = 0
        attempt = 0
      }
      if (droppedAt === 0) droppedAt = Date.now()
      if (Date.now() - droppedAt >= STREAM_GIVE_UP_MS) {
        this._fail(CLOSE_ABNORMAL, 'The connection to the server was lost')
        return
      }
      await sleep(retryDelay(attempt++))
    }
  }

  /**
   * Open one stream and read it until it ends.
   * @returns {Promise<'refused' | 'failed' | 'resumed'>} 'resumed' when it delivered its
   *   `session` event before ending, 'failed' when it never did, 'refused' when the session is
   *   over
   */
  async _readOneStream() {
    const abort = new AbortController()
    this._streamAbort = abort
    /** @type {Record<string, string>} */
    const headers = { Accept: 'text/event-stream', ...this._headers }
    if (this._session) headers['Last-Event-ID'] = `${this._session}:${this._received}`
    let gotSession = false
    // Until the `session` event, the open timeout applies; after it, the keepalive watchdog.
    this._watch(abort, OPEN_TIMEOUT_MS)
    try {
      const response = await this._fetch(this._urls.stream, {
        headers,
        signal: abort.signal,
        cache: 'no-store',
        credentials: 'same-origin',
      })
      if (response.status === 403) {
        const { reason } = await refusal(response)
        this._fail(CLOSE_FORBIDDEN, reason)
        return 'refused'
      }
      if (!response.ok || !response.body) {
        discard(response)
        return 'failed'
      }
      await readEventStream(
        response.body,
        (event) => {
          if (event.event === 'session') {
            gotSession = this._onSession(event.data)
            if (gotSession) this._watch(abort, this._keepaliveWindow())
          } else if (event.event === 'close') this._onServerClose(event.data)
          else if (event.event === 'message') this._onMessage(event)
          return this.readyState === OPEN || this.readyState === CONNECTING
        },
        () => {
          if (gotSession) this._watch(abort, this._keepaliveWindow())
        },
      )
    } catch {
      // dropped, aborted or refused by the network: the caller decides what comes next
    } finally {
      this._unwatch()
      abort.abort()
      if (this._streamAbort === abort) this._streamAbort = null
    }
    if (this.readyState !== CONNECTING && this.readyState !== OPEN) return 'refused'
    return gotSession ? 'resumed' : 'failed'
  }

  /** A stream that has said nothing, not even a keepalive, for this long is dead. */
  _keepaliveWindow() {
    return (2 * this._keepalive + 5) * 1000
  }

  /**
   * Abort the stream if nothing arrives for `ms`.
   * @param {AbortController} abort
   * @param {number} ms
   */
  _watch(abort, ms) {
    this._unwatch()
    this._silenceTimer = setTimeout(() => abort.abort(), ms)
  }

  _unwatch() {
    if (this._silenceTimer !== null) clearTimeout(this._silenceTimer)
    this._silenceTimer = null
  }

  _stopReading() {
    this._unwatch()
    if (this._streamAbort) this._streamAbort.abort()
    this._streamAbort = null
    if (this._ackTimer !== null) clearTimeout(this._ackTimer)
    this._ackTimer = null
  }

  /**
   * The `session` event: the first opens the socket; a resumed stream repeats it.
   * @param {string} data
   * @returns {boolean} whether the stream belongs to this socket's session
   */
  _onSession(data) {
    let info
    try {
      info = JSON.parse(data)
    } catch {
      info = null
    }
    if (!info || typeof info.session !== 'string' || !info.session) {
      this._fail(CLOSE_BAD_REQUEST, 'The server sent a malformed session event')
      return false
    }
    if (typeof info.keepalive === 'number' && info.keepalive > 0) this._keepalive = info.keepalive
    if (this.readyState === CONNECTING) {
      this._session = info.session
      this.readyState = OPEN
      this._emit(this.onopen, { type: 'open' })
      return true
    }
    if (info.session !== this._session) {
      // A resumed stream must continue the same session; anything else is a new conversation.
      this._fail(CLOSE_SESSION_GONE, 'The HTTP session was replaced')
      return false
    }
    return true
  }

  /** @param {import('./sse.js').StreamEvent} event */
  _onMessage(event) {
    if (this.readyState !== OPEN) return
    const position = parseEventId(event.id)
    if (!position || position.session !== this._session) {
      this._fail(CLOSE_SESSION_GONE, 'A message from another HTTP session')
      return
    }
    if (position.seq <= this._received) return // already handed on
    if (position.seq !== this._received + 1) {
      // A gap would leave this replica missing a message: resync on a new session instead.
      this._fail(CLOSE_SESSION_GONE, 'Messages from the server were lost')
      return
    }
    let bytes
    try {
      bytes = decodeBase64(event.data)
    } catch {
      this._fail(CLOSE_BAD_REQUEST, 'The server sent a malformed message')
      return
    }
    this._received = position.seq
    this._scheduleAck()
    this._emit(this.onmessage, { data: /** @type {ArrayBuffer} */ (bytes.buffer) })
  }

  /** @param {string} data */
  _onServerClose(data) {
    let code = CLOSE_ABNORMAL
    let reason = ''
    try {
      const info = JSON.parse(data)
      if (Number.isInteger(info.code)) code = info.code
      if (typeof info.reason === 'string') reason = info.reason
    } catch {
      // a close without a readable code is still a close
    }
    this._fail(code, reason, true)
  }

  // --- sends ------------------------------------------------------------------------------

  /** The server hears of received events within ACK_INTERVAL_MS, by an empty POST if need be. */
  _scheduleAck() {
    if (this._ackTimer !== null) return
    this._ackTimer = setTimeout(() => {
      this._ackTimer = null
      this._pump()
    }, ACK_INTERVAL_MS)
  }

  /** Post until nothing is left to say; one POST at a time. */
  async _pump() {
    if (this._posting) return
    this._posting = true
    try {
      while (!this._sendsStopped) {
        const ackDue = this._received > this._acked && this._ackTimer === null
        if (this._queue.length === 0 && !this._ending && !ackDue) break
        const batch = takeBatch(this._queue)
        for (const message of batch) this._queuedBytes -= message.length
        const last = this._ending && this._queue.length === 0
        const ok = await this._post(++this._postSeq, encodeBatch(batch), last)
        if (!ok || last) {
          this._sendsStopped = true
          break
        }
      }
    } finally {
      this._posting = false
    }
  }

  /**
   * One POST, repeated with the same seq while the answer is lost or 503.
   * @param {number} seq
   * @param {Uint8Array<ArrayBuffer>} body
   * @param {boolean} last  ends the session (X-Notes-End)
   * @returns {Promise<boolean>} whether it was applied
   */
  async _post(seq, body, last) {
    const started = Date.now()
    for (let attempt = 0; ; attempt++) {
      /** @type {Record<string, string>} */
      const headers = {
        ...this._headers,
        'Content-Type': 'application/octet-stream',
        'X-CSRFToken': this._csrfToken,
        'X-Notes-Session': this._session,
        'X-Notes-Seq': String(seq),
        'X-Notes-Received': String(this._received),
      }
      if (last) headers['X-Notes-End'] = '1'
      const received = this._received
      if (this._ackTimer !== null) clearTimeout(this._ackTimer)
      this._ackTimer = null
      /** @type {Response | null} */
      let response = null
      try {
        response = await this._fetch(this._urls.send, {
          method: 'POST',
          headers,
          body,
          credentials: 'same-origin',
          // A last POST from a closing page must outlive it; browsers cap such bodies.
          keepalive: last && body.length <= KEEPALIVE_MAX_BODY,
        })
      } catch {
        response = null // the answer is lost: the batch may or may not be applied
      }
      if (response && response.ok) {
        discard(response)
        this._acked = Math.max(this._acked, received)
        return true
      }
      if (this._sendsStopped && !last) return false
      if (response && !(response.status >= 500 || response.status === 429)) {
        if (!this._ending) await this._refused(response)
        return false
      }
      if (response) discard(response)
      const giveUp = this._ending ? END_GIVE_UP_MS : SEND_GIVE_UP_MS
      if (Date.now() - started >= giveUp) {
        if (!this._ending) this._fail(CLOSE_ABNORMAL, 'Changes could not be sent to the server')
        return false
      }
      await sleep(retryDelay(attempt))
    }
  }

  /**
   * A POST the server refused: close as the answer says.
   * @param {Response} response
   */
  async _refused(response) {
    const { code, reason } = await refusal(response)
    switch (response.status) {
      case 404:
        this._fail(CLOSE_SESSION_GONE, reason)
        break
      case 410:
        this._fail(code ?? CLOSE_SESSION_GONE, reason, true)
        break
      case 413:
        this._fail(CLOSE_TOO_BIG, reason)
        break
      case 403:
        this._fail(CLOSE_FORBIDDEN, reason)
        break
      default:
        this._fail(CLOSE_BAD_REQUEST, reason)
    }
  }

  // --- the end ----------------------------------------------------------------------------

  /**
   * The session is over without close() being called: stop everything and tell the listener.
   * @param {number} code
   * @param {string} reason
   * @param {boolean} [wasClean]
   */
  _fail(code, reason, wasClean = false) {
    if (this.readyState === CLOSED || this.readyState === CLOSING) return
    this.readyState = CLOSING
    this._sendsStopped = true
    this._queue = []
    this._queuedBytes = 0
    this._stopReading()
    if (!wasClean) this._emit(this.onerror, { type: 'error' })
    this._finish({ code, reason, wasClean })
  }

  /** @param {CloseInfo} event */
  _finish(event) {
    if (this.readyState === CLOSED) return
    this.readyState = CLOSED
    this._stopReading()
    this._emit(this.onclose, event)
  }

  /**
   * Call a listener as a WebSocket does: what it throws is reported, and the socket goes on.
   * @template T
   * @param {((event: T) => void) | null} listener
   * @param {T} event
   */
  _emit(listener, event) {
    if (!listener) return
    try {
      listener.call(this, event)
    } catch (error) {
      setTimeout(() => {
        throw error
      }, 0)
    }
  }
}

/**
 * A WebSocket-shaped class with the HTTP options bound, for y-websocket's `WebSocketPolyfill`
 * (which constructs it as `new WS(url, protocols)`; there are no protocols over HTTP).
 * @param {HttpSocketOptions} options
 * @returns {new (url: string, protocols?: string | string[]) => HttpSocket}
 */
export function httpSocketClass(options) {
  return class BoundHttpSocket extends HttpSocket {
    /** @param {string} url @param {string | string[]} [_protocols] */
    constructor(url, _protocols) {
      super(url, options)
    }
  }
}
