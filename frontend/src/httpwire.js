/**
 * The HTTP transport's wire format, client side (docs/protocol.md, "The HTTP transport"; the
 * server's twin is realtime/transports/http/wire.py). Pure: no I/O.
 *
 * ```
 * stream event  := id: <session>:<seq> • data: base64(message)
 * POST body     := varUint8Array(message)*          ; lib0: varUint(length) • bytes
 * ```
 */

/** A batch stops growing here, unless a single message is larger. */
export const MAX_BATCH_BYTES = 256 * 1024

/**
 * The HTTP endpoints for the WebSocket URL y-websocket builds: same host, http(s) for ws(s),
 * the note id (the path's last segment) under `httpPath`, and the query kept for the stream.
 * @param {string} wsUrl  e.g. `wss://host/ws/notes/<note>/?acks=1`
 * @param {string} [httpPath]
 * @returns {{ stream: string, send: string }}
 */
export function httpUrls(wsUrl, httpPath = '/http/notes') {
  const url = new URL(wsUrl)
  const scheme = url.protocol === 'wss:' || url.protocol === 'https:' ? 'https:' : 'http:'
  const segments = url.pathname.split('/').filter(Boolean)
  const note = segments[segments.length - 1]
  if (!note) throw new Error(`no note id in ${wsUrl}`)
  const base = `${scheme}//${url.host}${httpPath.replace(/\/+$/, '')}/${note}`
  return { stream: `${base}/stream${url.search}`, send: `${base}/send` }
}

/**
 * Write one lib0 varUint (7 bits a byte, least significant first).
 * @param {number[]} out
 * @param {number} value
 */
function writeVarUint(out, value) {
  while (value > 0x7f) {
    out.push((value % 0x80) | 0x80)
    value = Math.floor(value / 0x80)
  }
  out.push(value)
}

/**
 * A POST body: each message as a lib0 varUint8Array (its length, then its bytes), in order.
 * @param {Uint8Array[]} messages
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function encodeBatch(messages) {
  /** @type {number[][]} */
  const prefixes = messages.map((message) => {
    /** @type {number[]} */
    const prefix = []
    writeVarUint(prefix, message.length)
    return prefix
  })
  let size = 0
  for (let i = 0; i < messages.length; i++) size += prefixes[i].length + messages[i].length
  const body = new Uint8Array(size)
  let at = 0
  for (let i = 0; i < messages.length; i++) {
    body.set(prefixes[i], at)
    at += prefixes[i].length
    body.set(messages[i], at)
    at += messages[i].length
  }
  return body
}

/**
 * Remove and return the next batch from the front of `queue`: as many messages as fit in
 * `maxBytes`, and always at least one.
 * @param {Uint8Array[]} queue
 * @param {number} [maxBytes]
 * @returns {Uint8Array[]}
 */
export function takeBatch(queue, maxBytes = MAX_BATCH_BYTES) {
  let count = 0
  let size = 0
  while (count < queue.length) {
    const next = queue[count].length + 10 // the length prefix takes at most 8 bytes
    if (count > 0 && size + next > maxBytes) break
    size += next
    count += 1
  }
  return queue.splice(0, count)
}

/**
 * The bytes of one base64 `data` line.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function decodeBase64(text) {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/**
 * The stream position an event id names: `<session>:<seq>`.
 * @param {string} id
 * @returns {{ session: string, seq: number } | null}
 */
export function parseEventId(id) {
  const colon = id.lastIndexOf(':')
  if (colon <= 0) return null
  const seq = Number(id.slice(colon + 1))
  if (!Number.isSafeInteger(seq) || seq < 0) return null
  return { session: id.slice(0, colon), seq }
}
