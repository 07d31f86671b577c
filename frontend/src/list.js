// The notes list page, live: notes shared with me appear, renames and deletions show, each
// note says who is editing it right now, and the header's count of unread notifications
// follows. Events arrive as JSON on ws/notes/ (see
// realtime/transports/websocket.py, NotesListConsumer), or where WebSockets are blocked on the
// HTTP stream /http/notes/list (docs/protocol.md, "Notes list"); transport.js decides which, by
// the same rules as the editor's. This file only renders the events.

import { probeIntervalOverride } from './config.js'
import { readEventStream } from './sse.js'
import { TransportChooser } from './transport.js'

/** @typedef {{id: string, title: string, preview: string, updated: string, owner: string, owner_id: number, url: string}} Listing */

const config = JSON.parse(document.getElementById('list-config')?.textContent || '{}')
const PRESENCE_TTL_MS = 75_000 // a process renews its "who is editing" every 30 s
const STREAM_SILENCE_MS = 35_000 // the server sends a keepalive after 15 s without an event

/** note id → process id → {names, at} */
const presence = new Map()

function listElement () {
  let list = document.getElementById('note-list')
  if (!list) {
    list = document.createElement('ul')
    list.id = 'note-list'
    list.className = 'note-list'
    document.querySelector('.empty')?.replaceWith(list)
  }
  return list
}

/** @param {string} id @returns {HTMLElement | null} */
const itemFor = (id) => document.querySelector(`.note-item[data-note-id="${CSS.escape(id)}"]`)

/** @param {Listing} note */
function belongsHere (note) {
  if (config.sharedOnly && note.owner_id === config.userId) return false
  if (config.query) {
    const q = config.query.toLowerCase()
    return note.title.toLowerCase().includes(q) || note.preview.toLowerCase().includes(q)
  }
  return true
}

/**
 * A child of a list item, which the markup guarantees.
 * @param {Element} item @param {string} selector @returns {HTMLElement}
 */
const part = (item, selector) => /** @type {HTMLElement} */ (item.querySelector(selector))

/** @param {Listing} note */
function upsert (note) {
  let item = itemFor(note.id)
  if (!belongsHere(note)) {
    item?.remove()
    return
  }
  if (!item) {
    item = document.createElement('li')
    item.className = 'note-item'
    item.dataset.noteId = note.id
    item.innerHTML = '<a class="note-link"><span class="note-title"></span><span class="note-owner"></span>' +
      '<span class="note-preview"></span></a><span class="note-side"><span class="note-editing" aria-live="polite"></span>' +
      '<time class="muted"></time></span>'
  }
  part(item, '.note-link').setAttribute('href', note.url)
  part(item, '.note-title').textContent = note.title
  const owner = part(item, '.note-owner')
  owner.textContent = note.owner_id === config.userId ? '' : `Shared by ${note.owner}`
  owner.hidden = note.owner_id === config.userId
  part(item, '.note-preview').textContent = note.preview || 'Empty note'
  const time = part(item, 'time')
  time.setAttribute('datetime', note.updated)
  time.textContent = 'just now'
  // Most recently changed first: a change moves the note to the top.
  const list = listElement()
  if (list.firstElementChild !== item) list.prepend(item)
  renderPresence(note.id)
}

/** @param {string} id */
function remove (id) {
  itemFor(id)?.remove()
  presence.delete(id)
}

/** @param {string} id */
function renderPresence (id) {
  const item = itemFor(id)
  if (!item) return
  let slot = item.querySelector('.note-editing')
  if (!slot) {
    slot = document.createElement('span')
    slot.className = 'note-editing'
    item.append(slot)
  }
  const now = Date.now()
  /** @type {Set<string>} */
  const names = new Set()
  for (const [hub, entry] of presence.get(id) || []) {
    if (now - entry.at > PRESENCE_TTL_MS) presence.get(id)?.delete(hub)
    else entry.names.forEach((/** @type {string} */ name) => names.add(name))
  }
  slot.textContent = names.size ? `Editing: ${[...names].join(', ')}` : ''
}

/**
 * The header's count of unread notifications (templates/base.html), kept live here.
 * @param {number} unread
 */
function showUnread (unread) {
  const badge = document.getElementById('notifications-badge')
  if (!badge) return
  badge.textContent = String(unread)
  badge.hidden = unread <= 0
}

/** @param {{kind: string, note?: Listing, id?: string, hub?: string, names?: string[], unread?: number}} event */
function apply (event) {
  if (event.kind === 'notifications' && typeof event.unread === 'number') showUnread(event.unread)
  else if (event.kind === 'note' && event.note) upsert(event.note)
  else if (event.kind === 'removed' && event.id) remove(event.id)
  else if (event.kind === 'presence' && event.id && event.hub) {
    if (!presence.has(event.id)) presence.set(event.id, new Map())
    presence.get(event.id).set(event.hub, { names: event.names || [], at: Date.now() })
    renderPresence(event.id)
  }
}

/** @param {string} data */
function applyText (data) {
  try { apply(JSON.parse(data)) } catch (error) { console.warn('bad list event', error) }
}

/** Close codes 4400–4499 are final (logged out). @param {number} code */
const isFinal = (code) => code >= 4400 && code < 4500

/**
 * @param {'websocket' | 'http' | ''} transport  how the list is live now ('' when it is not)
 */
function showLive (transport) {
  document.body.dataset.live = transport ? 'on' : 'off'
  if (transport) document.body.dataset.transport = transport
}

const transports = new TransportChooser({
  webSocket: () => window.WebSocket,
  serverSpeaksFirst: false, // a list may stay quiet until something changes
  probeIntervalMs: probeIntervalOverride(window),
  onWebSocketBack: () => {
    current?.stop()
    attempts = 0
    connect()
  },
})

let attempts = 0
/** @type {{ stop: () => void } | null} the connection in use */
let current = null
/** @type {ReturnType<typeof setTimeout> | null} */
let retryTimer = null

function connect () {
  if (retryTimer !== null) clearTimeout(retryTimer)
  retryTimer = null
  current = transports.mode === 'http' && config.httpPath ? streamOverHttp() : openWebSocket()
}

function retryLater () {
  attempts += 1
  retryTimer = setTimeout(connect, Math.min(30_000, 500 * 2 ** attempts))
}

function openWebSocket () {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const url = `${scheme}//${location.host}${config.wsPath}`
  transports.probeUrl = url
  const socket = new WebSocket(url)
  let opened = false
  let stopped = false
  socket.addEventListener('open', () => {
    opened = true
    attempts = 0
    transports.websocketWorked()
    showLive('websocket')
  })
  socket.addEventListener('message', (message) => applyText(message.data))
  socket.addEventListener('close', (event) => {
    if (stopped) return
    showLive('')
    if (isFinal(event.code)) return
    if (!opened && config.httpPath) transports.websocketFailed()
    retryLater()
  })
  return {
    stop () {
      stopped = true
      socket.close()
    },
  }
}

function streamOverHttp () {
  const abort = new AbortController()
  let stopped = false
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let silence
  const watch = () => {
    clearTimeout(silence)
    silence = setTimeout(() => abort.abort(), STREAM_SILENCE_MS)
  }
  const run = async () => {
    let opened = false
    let finalClose = false
    watch()
    try {
      const response = await fetch(config.httpPath, {
        headers: { Accept: 'text/event-stream' },
        signal: abort.signal,
        cache: 'no-store',
      })
      if (response.ok && response.body) {
        opened = true
        attempts = 0
        showLive('http')
        await readEventStream(response.body, (event) => {
          if (event.event === 'close') {
            let code = 0
            try { code = JSON.parse(event.data).code } catch { /* not final, then */ }
            finalClose = isFinal(code)
            return false
          }
          if (event.event === 'message') applyText(event.data)
        }, watch)
      }
    } catch {
      // dropped or aborted; below decides what next
    } finally {
      clearTimeout(silence)
      abort.abort()
    }
    if (stopped) return
    showLive('')
    if (finalClose) return
    if (!opened) transports.httpFailed()
    retryLater()
  }
  run()
  return {
    stop () {
      stopped = true
      abort.abort()
    },
  }
}

setInterval(() => presence.forEach((_, id) => renderPresence(id)), 15_000)
if (config.wsPath) connect()
