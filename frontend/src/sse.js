/**
 * Server-sent events read from a fetch() response body, for the HTTP transport
 * (docs/protocol.md, "The HTTP transport").
 *
 * EventSource cannot send headers, cannot be told to stop reconnecting by an event, and does not
 * exist in Node; so the streams are read with fetch() and parsed here, as the HTML standard's
 * event-stream grammar says: lines end in CRLF, LF or CR; a blank line dispatches the event;
 * `field: value` (one space after the colon is dropped); lines starting with a colon are
 * comments (the server's keepalives); `data` lines join with a newline.
 */

/**
 * @typedef {object} StreamEvent
 * @property {string} event  the event type ('message' when the event named none)
 * @property {string} data
 * @property {string} id     the `id` field of this event ('' when it had none)
 */

export class EventStreamParser {
  constructor() {
    this._buffer = ''
    /** Where in `_buffer` to look for the next line end: what came before holds none. */
    this._scanned = 0
    /** A chunk ended in CR: a LF at the start of the next one belongs to the same line end. */
    this._afterCR = false
    this._event = ''
    /** @type {string[]} */
    this._data = []
    this._id = ''
    this._hasId = false
  }

  /**
   * Feed decoded text; returns the events it completed, in order. `onComment`, if given, is
   * called for each comment line (without its colon).
   * @param {string} text
   * @param {(comment: string) => void} [onComment]
   * @returns {StreamEvent[]}
   */
  push(text, onComment) {
    /** @type {StreamEvent[]} */
    const events = []
    if (text === '') return events
    if (this._afterCR && text.startsWith('\n')) text = text.slice(1)
    this._afterCR = false
    this._buffer += text
    let start = 0
    let pos = this._scanned
    while (pos < this._buffer.length) {
      const char = this._buffer.charCodeAt(pos)
      if (char !== 10 && char !== 13) {
        pos += 1
        continue
      }
      const line = this._buffer.slice(start, pos)
      if (char === 13) {
        if (pos + 1 === this._buffer.length) this._afterCR = true
        else if (this._buffer.charCodeAt(pos + 1) === 10) pos += 1
      }
      pos += 1
      start = pos
      this._line(line, events, onComment)
    }
    this._buffer = this._buffer.slice(start)
    this._scanned = this._buffer.length
    return events
  }

  /**
   * @param {string} line
   * @param {StreamEvent[]} events
   * @param {((comment: string) => void) | undefined} onComment
   */
  _line(line, events, onComment) {
    if (line === '') {
      if (this._data.length > 0) {
        events.push({ event: this._event || 'message', data: this._data.join('\n'), id: this._id })
      }
      this._event = ''
      this._data = []
      this._id = ''
      return
    }
    if (line.charCodeAt(0) === 58) { // ':'
      if (onComment) onComment(line.slice(1).trimStart())
      return
    }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    if (field === 'event') this._event = value
    else if (field === 'data') this._data.push(value)
    else if (field === 'id' && !value.includes('\0')) this._id = value
    // `retry` and unknown fields are ignored: the callers choose their own reconnect delays.
  }
}

/**
 * Read a response body to its end, passing each event to `onEvent` and calling `onActivity`
 * for every chunk that arrives (keepalives included). Resolves when the body ends; rejects when
 * reading fails (the network dropped, or the read was aborted). Stops early, without error,
 * once `onEvent` returns false.
 * @param {ReadableStream<Uint8Array>} body
 * @param {(event: StreamEvent) => boolean | void} onEvent
 * @param {() => void} [onActivity]
 */
export async function readEventStream(body, onEvent, onActivity) {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  const parser = new EventStreamParser()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      if (onActivity) onActivity()
      for (const event of parser.push(decoder.decode(value, { stream: true }))) {
        if (onEvent(event) === false) return
      }
    }
  } finally {
    reader.cancel().catch(() => {})
  }
}
