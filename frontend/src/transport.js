/**
 * Which transport carries a page's live connection: a WebSocket while WebSockets work, HTTP
 * where something between the browser and the server blocks them (docs/protocol.md, "The HTTP
 * transport").
 *
 * The rules, kept by TransportChooser:
 * - WebSocket first.
 * - HTTP after FAILURES_BEFORE_HTTP WebSockets in a row closed without carrying a message (a
 *   refused or stripped handshake, a proxy that cuts the connection), or at once when a note
 *   socket opens and then says nothing for SILENCE_MS (a proxy that holds the data back): the
 *   server always speaks first on a note socket (`access`, sync step 1). On a page whose
 *   WebSocket has worked, the failures must also span SETTLE_MS: a server restart looks just
 *   like a block for its first attempts, and falling back then would leave the page on HTTP for
 *   a minute for nothing.
 * - Back to WebSocket when an HTTP connection cannot even open: then the server is down rather
 *   than WebSockets blocked, and the next attempts go on with WebSocket.
 * - In HTTP mode, a probe: every PROBE_INTERVAL_MS a WebSocket to the same URL, on the side.
 *   When one opens (and, on a note, carries a message) within PROBE_TIMEOUT_MS, it is closed,
 *   the mode is WebSocket again, and `onWebSocketBack` moves the page's connection over.
 *
 * ChosenSocket is what y-websocket constructs: a WebSocket-shaped wrapper around a real WebSocket
 * or an HttpSocket, whichever the mode says at the time. It reports to y-websocket a note socket
 * as open only once it has carried the server's first message, so a silent socket never shows
 * as connected, and it can end its HTTP connection when the WebSocket is back, with a close that
 * makes y-websocket reconnect at once.
 */

/** WebSockets in a row that must fail before the page falls back to HTTP. */
export const FAILURES_BEFORE_HTTP = 3
/** On a page whose WebSocket worked before, the failures must span this long too. */
export const SETTLE_MS = 10000
/** A note socket that opens and carries nothing for this long is held back by something. */
export const SILENCE_MS = 4000
/** How often HTTP mode tries a WebSocket again. */
export const PROBE_INTERVAL_MS = 60000
/** How long a probe has to open (and carry a message). */
export const PROBE_TIMEOUT_MS = 5000
/** The close that ends an HTTP connection because the WebSocket works again. */
export const SWITCH_CLOSE = { code: 1000, reason: 'Moving back to WebSocket', wasClean: true }

const CONNECTING = 0
const OPEN = 1
const CLOSING = 2
const CLOSED = 3

/**
 * The part of a WebSocket both transports share.
 * @typedef {object} SocketLike
 * @property {number} readyState
 * @property {string} binaryType
 * @property {number} [bufferedAmount]
 * @property {((event: any) => void) | null} onopen
 * @property {((event: any) => void) | null} onmessage
 * @property {((event: any) => void) | null} onclose
 * @property {((event: any) => void) | null} onerror
 * @property {(data: any) => void} send
 * @property {(code?: number, reason?: string) => void} close
 */

/** @typedef {new (url: string, protocols?: string | string[]) => SocketLike} SocketClass */
/** @typedef {'websocket' | 'http'} TransportMode */

export class TransportChooser {
  /**
   * @param {object} options
   * @param {() => SocketClass} options.webSocket  the WebSocket class, looked up at each use
   * @param {boolean} options.serverSpeaksFirst  whether a working socket carries a message at
   *   once (a note socket does; the notes list's need not), which a probe then waits for
   * @param {number} [options.probeIntervalMs]
   * @param {() => void} [options.onWebSocketBack]  called when a probe found WebSockets working
   */
  constructor({ webSocket, serverSpeaksFirst, probeIntervalMs = PROBE_INTERVAL_MS, onWebSocketBack }) {
    this._webSocket = webSocket
    this.serverSpeaksFirst = serverSpeaksFirst
    this.probeIntervalMs = probeIntervalMs
    /** @type {() => void} */
    this.onWebSocketBack = onWebSocketBack || (() => {})
    /** @type {TransportMode} */
    this.mode = 'websocket'
    /** The URL to probe: the last one a connection was made to. */
    this.probeUrl = ''
    this._failures = 0
    this._firstFailureAt = 0
    /** Whether a WebSocket has ever carried a message (or opened, for the list) on this page. */
    this._worked = false
    this._stopped = false
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._probeTimer = null
  }

  /** Called when a WebSocket did its job: it carried a message (or opened, for the list). */
  websocketWorked() {
    this._worked = true
    this._failures = 0
  }

  /** Called when a WebSocket closed before it did its job. */
  websocketFailed() {
    if (this.mode !== 'websocket') return
    const now = Date.now()
    if (this._failures === 0) this._firstFailureAt = now
    this._failures += 1
    const settled = !this._worked || now - this._firstFailureAt >= SETTLE_MS
    if (this._failures >= FAILURES_BEFORE_HTTP && settled) this._setMode('http')
  }

  /** Called when a note socket opened and said nothing for SILENCE_MS. */
  websocketSilent() {
    this._setMode('http')
  }

  /** Called when an HTTP connection could not open at all: the server is not answering. */
  httpFailed() {
    if (this.mode === 'http') this._setMode('websocket')
  }

  /** Stop probing for good (the page's connection closed for good). */
  stop() {
    this._stopped = true
    this._cancelProbe()
  }

  /** @param {TransportMode} mode */
  _setMode(mode) {
    this.mode = mode
    this._failures = 0
    this._cancelProbe()
    if (mode === 'http') this._scheduleProbe()
  }

  _cancelProbe() {
    if (this._probeTimer !== null) clearTimeout(this._probeTimer)
    this._probeTimer = null
  }

  _scheduleProbe() {
    if (this._stopped || this.mode !== 'http') return
    this._cancelProbe()
    this._probeTimer = setTimeout(() => {
      this._probeTimer = null
      this._probe()
    }, this.probeIntervalMs)
  }

  /** Open a WebSocket on the side; if it works, close it and go back to WebSocket mode. */
  _probe() {
    if (this._stopped || this.mode !== 'http' || !this.probeUrl) return this._scheduleProbe()
    /** @type {SocketLike} */
    let socket
    try {
      socket = new (this._webSocket())(this.probeUrl)
    } catch {
      return this._scheduleProbe()
    }
    socket.binaryType = 'arraybuffer'
    let done = false
    /** @param {boolean} works */
    const finish = (works) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.onopen = socket.onmessage = socket.onclose = null
      socket.onerror = () => {} // closing a socket that is still connecting reports an error
      try {
        socket.close(1000)
      } catch {
        // already closing
      }
      if (!works || this._stopped || this.mode !== 'http') return this._scheduleProbe()
      this._worked = true
      this._setMode('websocket')
      this.onWebSocketBack()
    }
    const timer = setTimeout(() => finish(false), PROBE_TIMEOUT_MS)
    socket.onopen = () => {
      if (!this.serverSpeaksFirst) finish(true)
    }
    socket.onmessage = () => finish(true)
    socket.onclose = () => finish(false)
    socket.onerror = () => {}
  }

  /**
   * A WebSocket-shaped class for y-websocket's `WebSocketPolyfill`: each instance is a
   * WebSocket or an `HttpSocket`, as the mode says when y-websocket creates it.
   * @param {SocketClass} HttpSocket
   * @returns {typeof ChosenSocket}
   */
  socketClass(HttpSocket) {
    const chooser = this
    return class BoundChosenSocket extends ChosenSocket {
      /** @param {string} url @param {string | string[]} [protocols] */
      constructor(url, protocols) {
        super(url, protocols, chooser, HttpSocket)
      }
    }
  }
}

export class ChosenSocket {
  static CONNECTING = CONNECTING
  static OPEN = OPEN
  static CLOSING = CLOSING
  static CLOSED = CLOSED

  /**
   * @param {string} url
   * @param {string | string[] | undefined} protocols
   * @param {TransportChooser} chooser
   * @param {SocketClass} HttpSocket
   */
  constructor(url, protocols, chooser, HttpSocket) {
    this.CONNECTING = CONNECTING
    this.OPEN = OPEN
    this.CLOSING = CLOSING
    this.CLOSED = CLOSED
    this.url = url
    this.binaryType = 'arraybuffer'
    this.readyState = CONNECTING
    /** @type {((event: any) => void) | null} */
    this.onopen = null
    /** @type {((event: any) => void) | null} */
    this.onmessage = null
    /** @type {((event: any) => void) | null} */
    this.onclose = null
    /** @type {((event: any) => void) | null} */
    this.onerror = null
    /** @type {TransportMode} which transport this connection uses, for good */
    this.transport = chooser.mode
    this._chooser = chooser
    chooser.probeUrl = url
    /** Whether the connection carried a message. */
    this._carried = false
    /** Whether close() was called: then how it ends says nothing about the network. */
    this._closedHere = false
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._silenceTimer = null
    /** @type {SocketLike} */
    this._inner = this.transport === 'http'
      ? new HttpSocket(url, protocols)
      : new (chooser._webSocket())(url, protocols)
    const inner = this._inner
    inner.binaryType = 'arraybuffer'
    inner.onopen = () => this._innerOpened()
    inner.onmessage = (event) => this._innerMessage(event)
    inner.onclose = (event) => this._innerClosed(event)
    inner.onerror = (event) => this._emit(this.onerror, event)
  }

  get bufferedAmount() {
    return this._inner.bufferedAmount || 0
  }

  /** @param {any} data */
  send(data) {
    if (this.readyState === CONNECTING) throw new Error('The connection is not open yet')
    if (this.readyState === OPEN) this._inner.send(data)
  }

  /**
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code, reason) {
    if (this.readyState === CLOSING || this.readyState === CLOSED) return
    this._closedHere = true
    this.readyState = CLOSING
    this._stopSilenceTimer()
    try {
      this._inner.close(code, reason)
    } catch {
      this._inner.close() // a WebSocket refuses codes it may not send; close it plainly
    }
  }

  /**
   * Called when WebSockets work again: end this HTTP connection so that y-websocket reconnects
   * over a WebSocket (it resyncs, so nothing typed meanwhile is lost).
   */
  moveToWebSocket() {
    if (this.transport !== 'http') return
    this._abandon(SWITCH_CLOSE)
  }

  _innerOpened() {
    if (this.readyState !== CONNECTING) return
    if (this.transport === 'http') {
      this._open()
      return
    }
    // Held back until the server's first message: an open socket that carries nothing is
    // not a working one.
    this._silenceTimer = setTimeout(() => {
      this._silenceTimer = null
      this._chooser.websocketSilent()
      this._abandon({ code: 1006, reason: '', wasClean: false })
    }, SILENCE_MS)
  }

  /** @param {any} event */
  _innerMessage(event) {
    if (!this._carried) {
      this._carried = true
      this._stopSilenceTimer()
      if (this.transport === 'websocket') {
        this._chooser.websocketWorked()
        this._open()
      }
    }
    if (this.readyState === OPEN) this._emit(this.onmessage, event)
  }

  /** @param {any} event */
  _innerClosed(event) {
    this._stopSilenceTimer()
    if (!this._closedHere) {
      if (this.transport === 'websocket' && !this._carried) this._chooser.websocketFailed()
      if (this.transport === 'http' && this.readyState === CONNECTING && event.code === 1006) {
        this._chooser.httpFailed()
      }
    }
    this.readyState = CLOSED
    this._emit(this.onclose, event)
  }

  _open() {
    if (this.readyState !== CONNECTING) return
    this.readyState = OPEN
    this._emit(this.onopen, { type: 'open' })
  }

  _stopSilenceTimer() {
    if (this._silenceTimer !== null) clearTimeout(this._silenceTimer)
    this._silenceTimer = null
  }

  /**
   * Let go of the inner socket and report the close now, without waiting for it to close.
   * @param {{ code: number, reason: string, wasClean: boolean }} event
   */
  _abandon(event) {
    if (this.readyState === CLOSED) return
    const inner = this._inner
    inner.onopen = inner.onmessage = inner.onclose = null
    inner.onerror = () => {}
    try {
      if (event.code === 1000) inner.close(1000, event.reason)
      else inner.close()
    } catch {
      // it was closing anyway
    }
    this._stopSilenceTimer()
    this.readyState = CLOSED
    if (!event.wasClean) this._emit(this.onerror, { type: 'error' })
    this._emit(this.onclose, event)
  }

  /**
   * @param {((event: any) => void) | null} listener
   * @param {any} event
   */
  _emit(listener, event) {
    if (listener) listener.call(this, event)
  }
}
