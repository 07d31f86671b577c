/**
 * A truthful "Saved" indicator, computed from the server's durable-save acknowledgements.
 *
 * With `?acks=1` the server sends `saved(n) := varUint(100) • varUint(n)`, where n counts the
 * sync step 2 and update messages received on this socket and durably committed (or found to
 * need no storage). Per socket we count those same messages as they are sent, so the change we
 * sent is on disk once `acked` reaches the count at the time it was sent.
 *
 * Two refinements keep the indicator honest without flicker:
 * - A step 2 whose update is empty carries nothing, so it raises `sent` (the server counts it)
 *   but not `needed`: the periodic resync does not flash "Saving…".
 * - Edits made while no socket was open are sent only inside the next step 2 (the answer to the
 *   server's state vector), so `unsent` clears on a step 2, or on an update once the socket has
 *   sent its step 2.
 */

import * as decoding from 'lib0/decoding'

export const MSG_SYNC = 0
export const SYNC_STEP2 = 1
export const SYNC_UPDATE = 2
export const MSG_SAVED = 100

/** @typedef {'saved' | 'saving' | 'unsaved' | 'idle'} SaveState */

/**
 * @typedef {object} SocketCount
 * @property {number} sent      step 2 and update messages sent on this socket
 * @property {number} needed    the ack count that covers every sent message that carried content
 * @property {number} acked     the latest `saved(n)` from the server for this socket
 * @property {boolean} answered whether this socket has sent its step 2
 * @property {boolean} carried  whether it sent any step 2 or update, even uncounted
 */

/**
 * Read a lib0 varUint from `bytes` at `pos`.
 * @param {Uint8Array} bytes
 * @param {number} pos
 * @returns {[number, number]} the value and the position after it (value -1 when truncated)
 */
function readVarUint(bytes, pos) {
  let value = 0
  let shift = 0
  while (pos < bytes.length) {
    const byte = bytes[pos++]
    value += (byte & 0x7f) * 2 ** shift
    if (byte < 0x80) return [value, pos]
    shift += 7
  }
  return [-1, pos]
}

/**
 * Classify an outgoing frame: which of them the server counts, and whether it carries content.
 * @param {unknown} data
 * @returns {null | 'update' | 'step2' | 'empty-step2'}
 */
export function classifyOutgoing(data) {
  const bytes = data instanceof Uint8Array ? data
    : data instanceof ArrayBuffer ? new Uint8Array(data) : null
  if (bytes === null) return null
  const [type, afterType] = readVarUint(bytes, 0)
  if (type !== MSG_SYNC) return null
  const [sub, afterSub] = readVarUint(bytes, afterType)
  if (sub === SYNC_UPDATE) return 'update'
  if (sub !== SYNC_STEP2) return null
  // An empty Yjs update is two zero varUints: no structs, an empty delete set.
  const [length, at] = readVarUint(bytes, afterSub)
  return length === 2 && bytes[at] === 0 && bytes[at + 1] === 0 ? 'empty-step2' : 'step2'
}

export class SaveTracker {
  constructor() {
    /** @type {WeakMap<object, SocketCount>} */
    this._sockets = new WeakMap()
    /** @type {object | null} the socket the provider uses now */
    this._current = null
    /** Local changes exist that no open socket has carried yet. */
    this.unsent = false
    /**
     * Whether sends count. The server counts nothing from a viewer, so neither do we while the
     * user may only view.
     */
    this.counting = true
    /** @type {Set<() => void>} */
    this._listeners = new Set()
  }

  /**
   * Subscribe to changes of the counts; returns an unsubscribe function.
   * @param {() => void} listener
   */
  subscribe(listener) {
    this._listeners.add(listener)
    return () => this._listeners.delete(listener)
  }

  _changed() {
    for (const listener of this._listeners) listener()
  }

  /**
   * @param {object} socket
   * @returns {SocketCount}
   */
  _count(socket) {
    let count = this._sockets.get(socket)
    if (!count) {
      count = { sent: 0, needed: 0, acked: 0, answered: false, carried: false }
      this._sockets.set(socket, count)
    }
    return count
  }

  /**
   * A WebSocket class for the provider's `WebSocketPolyfill` that reports what it sends.
   * @param {typeof WebSocket} Base
   * @returns {typeof WebSocket}
   */
  socketClass(Base) {
    const tracker = this
    return class CountingWebSocket extends Base {
      /** @param {string | URL} url @param {string | string[]} [protocols] */
      constructor(url, protocols) {
        super(url, protocols)
        tracker._current = this
      }

      /** @param {string | ArrayBufferLike | Blob | ArrayBufferView} data */
      send(data) {
        super.send(data)
        tracker.sent(this, data)
      }
    }
  }

  /**
   * Called after a frame went out on `socket`.
   * @param {object} socket
   * @param {unknown} data
   */
  sent(socket, data) {
    const kind = classifyOutgoing(data)
    if (kind === null) return
    const count = this._count(socket)
    count.carried = true
    if (!this.counting) return
    count.sent += 1
    if (kind !== 'empty-step2') count.needed = count.sent
    if (kind === 'update' ? count.answered : true) this.unsent = false
    if (kind !== 'update') count.answered = true
    this._changed()
  }

  /**
   * Called when the server reports `n` of this socket's messages durable.
   * @param {object | null} socket
   * @param {number} n
   */
  acked(socket, n) {
    if (!socket) return
    const count = this._count(socket)
    if (n > count.acked) {
      count.acked = n
      this._changed()
    }
  }

  /** Called for every document change made in this tab, before the provider sends it. */
  localChange() {
    if (!this.unsent) {
      this.unsent = true
      this._changed()
    }
  }

  /**
   * Called when `socket` closes: whatever it sent without an ack is not known to be saved.
   * The next socket's step 2 carries it again if the server lacks it.
   * @param {object | null} socket
   */
  socketClosed(socket) {
    if (socket) {
      const count = this._count(socket)
      if (count.needed > count.acked) this.unsent = true
    }
    if (socket === this._current) this._current = null
    this._changed()
  }

  /** Whether the current socket has sent any step 2 or update, counted or not. */
  currentSocketCarried() {
    const count = this._current && this._sockets.get(this._current)
    return Boolean(count && count.carried)
  }

  /** Whether some local change is not yet known to be durable. */
  hasPending() {
    if (this.unsent) return true
    const count = this._current && this._sockets.get(this._current)
    return Boolean(count && count.needed > count.acked)
  }

  /**
   * The state to show, given the connection.
   * @param {{ connected: boolean, synced: boolean }} connection
   * @returns {SaveState}
   */
  state({ connected, synced }) {
    if (this.unsent) return 'unsaved'
    const count = this._current && this._sockets.get(this._current)
    if (!connected || !count) return 'idle'
    if (count.needed > count.acked) return 'saving'
    return synced ? 'saved' : 'idle'
  }
}

/**
 * A y-websocket message handler for `saved(n)`. It writes nothing to the encoder, so the
 * provider sends no reply.
 * @param {SaveTracker} tracker
 * @returns {(encoder: any, decoder: decoding.Decoder, provider: { ws: WebSocket | null }) => void}
 */
export function savedMessageHandler(tracker) {
  return (_encoder, decoder, provider) => {
    tracker.acked(provider.ws, decoding.readVarUint(decoder))
  }
}
