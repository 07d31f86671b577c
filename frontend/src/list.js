// The notes list page, live: notes shared with me appear, renames and deletions show, and
// each note says who is editing it right now. Events arrive as JSON on ws/notes/ (see
// realtime/transports/websocket.py, NotesListConsumer); this file only renders them.

/** @typedef {{id: string, title: string, preview: string, updated: string, owner: string, owner_id: number, url: string}} Listing */

const config = JSON.parse(document.getElementById('list-config')?.textContent || '{}')
const PRESENCE_TTL_MS = 75_000 // a process renews its "who is editing" every 30 s

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

/** @param {{kind: string, note?: Listing, id?: string, hub?: string, names?: string[]}} event */
function apply (event) {
  if (event.kind === 'note' && event.note) upsert(event.note)
  else if (event.kind === 'removed' && event.id) remove(event.id)
  else if (event.kind === 'presence' && event.id && event.hub) {
    if (!presence.has(event.id)) presence.set(event.id, new Map())
    presence.get(event.id).set(event.hub, { names: event.names || [], at: Date.now() })
    renderPresence(event.id)
  }
}

let attempts = 0
function connect () {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const socket = new WebSocket(`${scheme}//${location.host}${config.wsPath}`)
  socket.addEventListener('open', () => { attempts = 0; document.body.dataset.live = 'on' })
  socket.addEventListener('message', (message) => {
    try { apply(JSON.parse(message.data)) } catch (error) { console.warn('bad list event', error) }
  })
  socket.addEventListener('close', (event) => {
    document.body.dataset.live = 'off'
    if (event.code >= 4400 && event.code < 4500) return // final: logged out
    attempts += 1
    setTimeout(connect, Math.min(30_000, 500 * 2 ** attempts))
  })
}

setInterval(() => presence.forEach((_, id) => renderPresence(id)), 15_000)
if (config.wsPath) connect()
