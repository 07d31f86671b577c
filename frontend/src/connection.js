/**
 * The note's WebSocket provider and an honest account of its connection.
 *
 * y-websocket reconnects by itself with exponential backoff; a close code in 4400–4499 is final.
 * This module adds what the page needs to say about it: when the next attempt is due, whether
 * the browser is offline, whether it is connected over HTTP because WebSockets are blocked
 * (transport.js chooses), and why the server closed the note for good.
 */

import * as decoding from 'lib0/decoding'
import { WebsocketProvider } from 'y-websocket'
import { httpSocketClass } from './httpsocket.js'
import { parseChatEvent } from './chatlog.js'
import { MSG_SAVED, savedMessageHandler } from './saves.js'
import { PROBE_INTERVAL_MS, TransportChooser } from './transport.js'

/** `access(r) := varUint(101) • varUint(r)`: the user's role now (1 viewer, 2 editor, 3 owner). */
export const MSG_ACCESS = 101
export const ROLE_EDITOR = 2
/** `chat(e) := varUint(102) • varString(json)`: a message posted, edited or deleted in the note's chat. */
export const MSG_CHAT = 102
/** `comments(e) := varUint(103) • varString(json)`: a comment thread changed or went. */
export const MSG_COMMENTS = 103

/** The longest wait between reconnect attempts (y-websocket's default is 2.5 s). */
export const MAX_BACKOFF_MS = 10000

/**
 * Moving back to WebSocket waits up to this long for every change to be acknowledged, so that
 * the move does not show "Unsaved changes" while the new connection resends them.
 */
export const SWITCH_WAIT_MS = 5000
const SWITCH_POLL_MS = 200

/** What the final close codes mean when the server gives no reason. */
const CLOSE_REASONS = /** @type {Record<number, string>} */ ({
  1009: 'A change was too large to send. Copy your latest work, then reload the page',
  4400: 'The server could not read a message from this page',
  4401: 'You are logged out. Log in again to keep editing',
  4403: 'You no longer have access to this note',
  4404: 'This note was deleted',
  4413: 'This note is too large to save more changes',
  4429: 'Too many connections or messages. Reload the page in a while',
})

/**
 * @typedef {object} HttpTransport  where the same note is served over HTTP
 * @property {string} path       e.g. "/http/notes"
 * @property {string} csrfToken
 * @property {number} [probeIntervalMs]  how often HTTP mode tries a WebSocket again
 */

/**
 * @typedef {{ kind: 'connecting' }
 *   | { kind: 'connected', http?: boolean }
 *   | { kind: 'reconnecting', at: number, reason: string }
 *   | { kind: 'offline' }
 *   | { kind: 'closed', code: number, reason: string }} ConnectionStatus
 */

/**
 * The delay y-websocket waits before its next attempt, computed as its source does after a
 * close: it increments `wsUnsuccessfulReconnects`, then waits min(2^n × 100 ms, max).
 * @param {number} unsuccessfulBeforeClose the counter's value when 'connection-close' fires
 * @param {number} maxBackoff
 */
export function reconnectDelay(unsuccessfulBeforeClose, maxBackoff) {
  return Math.min(2 ** (unsuccessfulBeforeClose + 1) * 100, maxBackoff)
}

/**
 * A readable reason for a close.
 * @param {number} code
 * @param {string} reason
 */
export function closeReason(code, reason) {
  if (reason) return reason
  return CLOSE_REASONS[code] || `Connection closed (code ${code})`
}

/**
 * Final closes: y-websocket's 4400–4499, and 1009, since resending the same oversized change
 * would only be refused again.
 * @param {CloseEvent} event
 */
export function shouldReconnect(event) {
  return event.code !== 1009 && !(event.code >= 4400 && event.code < 4500)
}

export class Connection {
  /**
   * @param {object} options
   * @param {string} options.url         ws[s]://host/ws/notes
   * @param {string} options.room        `<note id>/`
   * @param {import('yjs').Doc} options.doc
   * @param {import('y-protocols/awareness').Awareness} options.awareness
   * @param {import('./saves.js').SaveTracker} options.tracker
   * @param {boolean} options.canEdit  the user's rights when the page was rendered
   * @param {Window & typeof globalThis} options.window
   * @param {HttpTransport} [options.http]  without it, WebSocket only
   */
  constructor({ url, room, doc, awareness, tracker, canEdit, window, http }) {
    this.window = window
    this.tracker = tracker
    /** Whether the user may edit; the server's `access` message keeps it current. */
    this.canEdit = canEdit
    tracker.counting = canEdit
    /** @type {ConnectionStatus} */
    this.status = { kind: 'connecting' }
    this.offline = window.navigator.onLine === false
    this.synced = false
    /** @type {Set<() => void>} */
    this._listeners = new Set()
    /** @type {Set<(event: import('./chatlog.js').ChatEvent) => void>} */
    this._chatListeners = new Set()
    /** @type {Set<(event: {kind: string, thread?: object, id?: number}) => void>} */
    this._commentListeners = new Set()
    /** @type {TransportChooser | null} */
    this.transports = null
    /** @type {typeof WebSocket} */
    let socketClass = window.WebSocket
    if (http) {
      this.transports = new TransportChooser({
        webSocket: () => window.WebSocket,
        serverSpeaksFirst: true,
        probeIntervalMs: http.probeIntervalMs || PROBE_INTERVAL_MS,
        onWebSocketBack: () => this._moveToWebSocket(0),
      })
      const HttpSocket = httpSocketClass({ httpPath: http.path, csrfToken: http.csrfToken })
      socketClass = /** @type {typeof WebSocket} */ (
        /** @type {unknown} */ (this.transports.socketClass(HttpSocket)))
    }

    this.provider = new WebsocketProvider(url, room, doc, {
      awareness,
      connect: !this.offline,
      params: { acks: '1' },
      // Each tab talks to the server itself, so its Saved indicator covers its own socket.
      disableBc: true,
      maxBackoffTime: MAX_BACKOFF_MS,
      WebSocketPolyfill: tracker.socketClass(socketClass),
      shouldReconnect: shouldReconnect,
    })
    this.provider.messageHandlers[MSG_SAVED] = savedMessageHandler(tracker)
    this.provider.messageHandlers[MSG_ACCESS] = (_encoder, decoder) => {
      this._onAccess(decoding.readVarUint(decoder))
    }
    this.provider.messageHandlers[MSG_CHAT] = (_encoder, decoder) => {
      const event = parseChatEvent(decoding.readVarString(decoder))
      if (event) for (const listener of this._chatListeners) listener(event)
    }
    // Comment-thread events: passed on to whoever listens; a malformed one is dropped.
    this.provider.messageHandlers[MSG_COMMENTS] = (_encoder, decoder) => {
      let event = null
      try { event = JSON.parse(decoding.readVarString(decoder)) } catch { return }
      if (event && typeof event === 'object' && typeof event.kind === 'string') {
        for (const listener of this._commentListeners) listener(event)
      }
    }
    if (this.offline) this.status = { kind: 'offline' }

    this.provider.on('status', ({ status }) => this._onStatus(status))
    this.provider.on('connection-close', (event) => this._onClose(event))
    this.provider.on('closed', ({ code, reason }) => {
      if (this.transports) this.transports.stop()
      this._set({ kind: 'closed', code, reason: closeReason(code, reason) })
    })
    this.provider.on('sync', (synced) => {
      this.synced = synced
      this._changed()
    })
    // The browser knows before the socket does: a socket on a dead network can look open for
    // many seconds. Stop sending into it, keep edits local, and resync when back.
    window.addEventListener('offline', () => {
      this.offline = true
      if (this.status.kind === 'closed') return
      this.provider.disconnect()
      this._set({ kind: 'offline' })
    })
    window.addEventListener('online', () => {
      this.offline = false
      if (this.status.kind === 'closed') return
      this._set({ kind: 'connecting' })
      this.provider.connect()
    })
  }

  /**
   * Subscribe to status changes; returns an unsubscribe function.
   * @param {() => void} listener
   */
  subscribe(listener) {
    this._listeners.add(listener)
    return () => this._listeners.delete(listener)
  }

  /**
   * Subscribe to the note's chat events; returns an unsubscribe function.
   * @param {(event: import('./chatlog.js').ChatEvent) => void} listener
   */
  onChat(listener) {
    this._chatListeners.add(listener)
    return () => this._chatListeners.delete(listener)
  }

  /**
   * Listen to comment-thread events (docs/protocol.md, `comments(e)`); returns an unsubscribe.
   * @param {(event: {kind: string, thread?: object, id?: number}) => void} listener
   */
  onComments(listener) {
    this._commentListeners.add(listener)
    return () => this._commentListeners.delete(listener)
  }

  get connected() {
    return this.provider.wsconnected
  }

  get closed() {
    return this.status.kind === 'closed'
  }

  /** Whether the current connection runs over HTTP (WebSockets are blocked). */
  get overHttp() {
    const socket = /** @type {{ transport?: string } | null} */ (this.provider.ws)
    return Boolean(socket && socket.transport === 'http')
  }

  /** Try now instead of waiting for the backoff. */
  retryNow() {
    if (this.closed || this.offline) return
    if (this.provider.ws === null) {
      this.provider.connect()
    }
  }

  /**
   * Called when WebSockets work again while this note is connected over HTTP: end the HTTP
   * connection and let y-websocket reconnect, over a WebSocket now. Its sync carries anything
   * the server lacks, and updates are idempotent, so nothing is lost or applied twice. It waits
   * (up to SWITCH_WAIT_MS) until every change is acknowledged: "Saved" stays true across the
   * move, and whatever is still unacknowledged when it happens is shown as unsaved until the
   * new connection's sync step 2 carries it again (SaveTracker.socketClosed).
   * @param {number} waited  ms spent waiting so far
   */
  _moveToWebSocket(waited) {
    const socket = /** @type {{ moveToWebSocket?: () => void } | null} */ (this.provider.ws)
    if (this.closed || !socket || !socket.moveToWebSocket || !this.overHttp) return
    if (this.tracker.hasPending() && waited < SWITCH_WAIT_MS) {
      setTimeout(() => this._moveToWebSocket(waited + SWITCH_POLL_MS), SWITCH_POLL_MS)
      return
    }
    socket.moveToWebSocket()
  }

  /**
   * Called when the server says the user's role (on join, and when it changes).
   * @param {number} role
   */
  _onAccess(role) {
    const canEdit = role >= ROLE_EDITOR
    if (canEdit === this.canEdit) return
    this.canEdit = canEdit
    this.tracker.counting = canEdit
    this._changed()
    // The server started or stopped counting (and applying) this socket's messages at a moment
    // we cannot know exactly. A fresh socket starts both counts from zero and its step 2 carries
    // whatever the server lacks, so the Saved indicator stays truthful.
    if (this.tracker.currentSocketCarried() && this.provider.ws) {
      this.provider.ws.close(1000, 'Access changed')
    }
  }

  /** @param {ConnectionStatus} status */
  _set(status) {
    this.status = status
    this._changed()
  }

  _changed() {
    for (const listener of this._listeners) listener()
  }

  /** @param {'connected' | 'connecting' | 'disconnected'} status */
  _onStatus(status) {
    if (this.closed) return
    if (status === 'connected') {
      this._set(this.overHttp ? { kind: 'connected', http: true } : { kind: 'connected' })
    } else if (status === 'connecting' && this.status.kind !== 'offline') {
      this._set({ kind: 'connecting' })
    }
  }

  /**
   * Called before y-websocket schedules its next attempt (and before 'closed' for a final one).
   * @param {CloseEvent | null} event
   */
  _onClose(event) {
    this.tracker.socketClosed(this.provider.ws)
    this.synced = false
    if (this.closed) return
    const final = event !== null && !this.provider.shouldReconnect(event, this.provider)
    if (final) return // 'closed' follows at once
    if (this.offline || !this.provider.shouldConnect) {
      this._set({ kind: 'offline' })
      return
    }
    const delay = reconnectDelay(this.provider.wsUnsuccessfulReconnects, MAX_BACKOFF_MS)
    const reason = event && event.reason ? event.reason : ''
    this._set({ kind: 'reconnecting', at: Date.now() + delay, reason })
  }
}
