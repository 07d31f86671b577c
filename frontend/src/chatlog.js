/**
 * The chat's messages as this tab knows them: pages fetched over HTTP and live events from the
 * socket, merged by message id, whatever order they arrive in. No DOM here.
 *
 * - An event and a page can each be older than the other: a page fetched before an edit must not
 *   undo it (the later `edited` wins), nor bring back a message deleted meanwhile (deleted ids
 *   are remembered).
 * - The newest page, fetched again after a reconnect, also tells which known messages were
 *   deleted while this tab was away: those it should hold and does not.
 * - Unread: messages from others newer than the newest one seen while the panel was open (what
 *   the first page brought counts as seen).
 */

/**
 * @typedef {object} ChatAuthor
 * @property {number | null} id  null for a deleted account
 * @property {string} name
 * @property {string} [color]
 */

/**
 * @typedef {object} ChatMessage
 * @property {number} id
 * @property {ChatAuthor} author
 * @property {string} text
 * @property {string} created  ISO 8601
 * @property {string | null} edited
 */

/**
 * @typedef {{ kind: 'message' | 'edited', message: ChatMessage }
 *   | { kind: 'deleted', id: number }} ChatEvent
 */

/** @typedef {{ messages: ChatMessage[], more: boolean }} ChatPage */

/**
 * What a page request was made against: `before` (null for the newest page) and the newest id
 * this tab knew when it asked.
 * @typedef {{ before: number | null, knownMax: number | null }} PageRequest
 */

/**
 * Whether `incoming` is at least as recent a version of a message as `current`.
 * @param {ChatMessage} current
 * @param {ChatMessage} incoming
 */
export function isNewerVersion(current, incoming) {
  if (!current.edited) return true
  if (!incoming.edited) return false
  const a = Date.parse(current.edited)
  const b = Date.parse(incoming.edited)
  if (Number.isNaN(a) || Number.isNaN(b)) return incoming.edited >= current.edited
  return b >= a
}

/**
 * @param {unknown} value
 * @returns {value is ChatMessage}
 */
function isMessage(value) {
  const m = /** @type {any} */ (value)
  return Boolean(m) && Number.isInteger(m.id) && typeof m.text === 'string' &&
    Boolean(m.author) && typeof m.author.name === 'string'
}

/**
 * A chat event from its JSON, or null if it is not one.
 * @param {string} json
 * @returns {ChatEvent | null}
 */
export function parseChatEvent(json) {
  let event
  try {
    event = JSON.parse(json)
  } catch {
    return null
  }
  if (!event || typeof event !== 'object') return null
  if ((event.kind === 'message' || event.kind === 'edited') && isMessage(event.message)) return event
  if (event.kind === 'deleted' && Number.isInteger(event.id)) return event
  return null
}

export class ChatLog {
  /**
   * @param {number} selfId  the local user's id: their own messages are never unread
   */
  constructor(selfId) {
    this.selfId = selfId
    /** @type {Map<number, ChatMessage>} */
    this._byId = new Map()
    /** @type {Set<number>} */
    this._deleted = new Set()
    /** Whether older messages than those held remain on the server (unknown until a page). */
    this.hasOlder = false
    /** Whether any page has arrived yet. */
    this.loaded = false
    /** The newest id seen while the panel was open; null until the first page. */
    this.seenMax = /** @type {number | null} */ (null)
    this.open = false
  }

  /** The messages held, oldest first. */
  messages() {
    return [...this._byId.values()].sort((a, b) => a.id - b.id)
  }

  /** @param {number} id */
  get(id) {
    return this._byId.get(id)
  }

  /** @returns {number | null} */
  newestId() {
    let max = null
    for (const id of this._byId.keys()) if (max === null || id > max) max = id
    return max
  }

  /** @returns {number | null} */
  oldestId() {
    let min = null
    for (const id of this._byId.keys()) if (min === null || id < min) min = id
    return min
  }

  /** Start a request for the newest page. */
  newestRequest() {
    return /** @type {PageRequest} */ ({ before: null, knownMax: this.newestId() })
  }

  /** Start a request for the page before the oldest message held; null if there is none. */
  olderRequest() {
    const oldest = this.oldestId()
    if (!this.hasOlder || oldest === null) return null
    return /** @type {PageRequest} */ ({ before: oldest, knownMax: this.newestId() })
  }

  /**
   * Merge a page the server sent for `request`.
   * @param {PageRequest} request
   * @param {ChatPage} page
   */
  applyPage(request, page) {
    const incoming = page.messages.filter(isMessage)
    const ids = new Set(incoming.map((m) => m.id))
    const pageMin = incoming.length ? Math.min(...ids) : null
    const oldestBefore = this.oldestId()
    if (request.before === null && request.knownMax !== null) {
      // Known messages (from before the request) in the range this page covers that it lacks
      // were deleted meanwhile. If the page does not reach back to what we held, there is a gap
      // we could never fill by scrolling: start again from this page.
      const gap = page.more && pageMin !== null && pageMin > request.knownMax
      for (const id of [...this._byId.keys()]) {
        if (id > request.knownMax || ids.has(id)) continue
        if (gap || !page.more || (pageMin !== null && id >= pageMin)) this._byId.delete(id)
      }
      if (gap) this.hasOlder = true
    }
    for (const message of incoming) this._merge(message)
    if (!page.more) {
      this.hasOlder = false // nothing on the server is older than this page
    } else if (oldestBefore === null || (pageMin !== null && pageMin <= oldestBefore)) {
      this.hasOlder = true
    }
    if (!this.loaded) {
      this.loaded = true
      // Ids start at 1: with nothing yet, every message to come is new.
      const newest = incoming.length ? Math.max(...ids) : 0
      this.seenMax = this.open ? (this.newestId() ?? 0) : newest
    }
    this._markSeen()
  }

  /**
   * Apply a live event.
   * @param {ChatEvent} event
   */
  applyEvent(event) {
    if (event.kind === 'deleted') {
      this._deleted.add(event.id)
      this._byId.delete(event.id)
    } else {
      this._merge(event.message)
    }
    this._markSeen()
  }

  /**
   * Add or update a message the server confirmed (the answer to our own post or edit).
   * @param {ChatMessage} message
   */
  applyMessage(message) {
    this._merge(message)
    this._markSeen()
  }

  /**
   * Called when the panel opens or closes.
   * @param {boolean} open
   */
  setOpen(open) {
    this.open = open
    this._markSeen()
  }

  /** Messages from others that arrived since the panel was last open. */
  unreadCount() {
    if (this.open || this.seenMax === null) return 0
    let count = 0
    for (const message of this._byId.values()) {
      if (message.id > this.seenMax && message.author.id !== this.selfId) count += 1
    }
    return count
  }

  /** @param {ChatMessage} message */
  _merge(message) {
    if (this._deleted.has(message.id)) return
    const current = this._byId.get(message.id)
    if (!current || isNewerVersion(current, message)) this._byId.set(message.id, message)
  }

  _markSeen() {
    if (!this.open || !this.loaded) return
    const newest = this.newestId()
    if (newest !== null && (this.seenMax === null || newest > this.seenMax)) this.seenMax = newest
  }
}
