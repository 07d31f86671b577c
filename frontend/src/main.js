/**
 * The note page: wires the shared document, the connection, the editor, the preview, presence,
 * the title and the status line together. Each part lives in its own module.
 */

import './editor.css'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { ChatPanel } from './chat.js'
import { probeIntervalOverride, readConfig, websocketBase } from './config.js'
import { Connection } from './connection.js'
import { createEditor } from './editor.js'
import { setupViewToggle } from './layout.js'
import { Presence } from './presence.js'
import { Preview } from './preview.js'
import { SaveTracker } from './saves.js'
import { StatusView } from './status.js'
import { Title } from './title.js'

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const element = document.getElementById(id)
  if (!element) throw new Error(`#${id} is missing from the page`)
  return element
}

function start() {
  const config = readConfig(document)
  const doc = new Y.Doc()
  const ytext = doc.getText('content')
  const meta = doc.getMap('meta')
  const awareness = new Awareness(doc)
  const tracker = new SaveTracker()
  const fallback = byId('editor-fallback')
  const initialText = fallback.textContent || ''

  const presence = new Presence({
    awareness,
    user: config.user,
    list: byId('presence-list'),
    typing: byId('presence-typing'),
    document,
  })

  // Registered before the provider's own listener, so a local change is marked unsent before
  // the provider sends it (and the counting socket clears the mark).
  /** @type {Connection | null} */
  let connection = null
  doc.on('update', (/** @type {Uint8Array} */ _update, /** @type {unknown} */ origin) => {
    if (connection && origin === connection.provider) return
    tracker.localChange()
    presence.noteLocalEdit()
  })

  connection = new Connection({
    url: websocketBase(location) + config.wsPath,
    room: `${config.noteId}/`,
    doc,
    awareness,
    tracker,
    canEdit: config.canEdit,
    window,
    http: config.httpPath
      ? {
          path: config.httpPath,
          csrfToken: config.csrfToken || '',
          probeIntervalMs: probeIntervalOverride(window),
        }
      : undefined,
  })
  const conn = connection

  const title = new Title({
    heading: byId('note-title'),
    meta,
    initial: config.title,
    document,
  })

  /** @type {import('./editor.js').Editor | null} */
  let editor = null
  const preview = new Preview(byId('preview'), () => (editor ? ytext.toString() : initialText), window)
  setupViewToggle({
    root: document.documentElement,
    group: byId('view-toggle'),
    storage: () => window.localStorage,
    onChange: (mode) => preview.setVisible(mode !== 'editor'),
  })
  preview.renderNow()
  ytext.observe(() => preview.schedule())

  const chat = new ChatPanel({
    elements: {
      toggle: /** @type {HTMLButtonElement} */ (byId('chat-toggle')),
      unread: byId('chat-unread'),
      scroller: byId('chat-scroll'),
      older: /** @type {HTMLButtonElement} */ (byId('chat-older')),
      state: byId('chat-state'),
      list: /** @type {HTMLOListElement} */ (byId('chat-list')),
      announce: byId('chat-announce'),
      form: /** @type {HTMLFormElement} */ (byId('chat-form')),
      input: /** @type {HTMLTextAreaElement} */ (byId('chat-input')),
      counter: byId('chat-counter'),
      error: byId('chat-error'),
    },
    root: document.documentElement,
    url: config.chatUrl,
    csrfToken: config.csrfToken || '',
    user: config.user,
    canManage: config.canManage,
    connection: conn,
    storage: () => window.localStorage,
    document,
  })

  const status = new StatusView({
    connection: byId('connection-status'),
    save: byId('save-status'),
    retry: /** @type {HTMLButtonElement} */ (byId('retry-now')),
    access: byId('access-status'),
    canEdit: config.canEdit,
  })
  status.retry.addEventListener('click', () => conn.retryNow())
  const closedLink = byId('closed-link')

  // Editing is possible once synced, while the server lets this user edit and has not closed.
  const editable = () => conn.canEdit && !conn.closed
  /** @type {boolean | null} */
  let shownEditable = null

  // The editor appears on the first sync, in place of the server-rendered text: typing into an
  // empty document before the stored text arrives would merge in the wrong place.
  const onFirstSync = () => {
    if (editor || !conn.synced) return
    editor = createEditor({
      parent: byId('editor'),
      ytext,
      awareness,
      undoManager: new Y.UndoManager(ytext),
      editable: editable(),
    })
    shownEditable = editable()
    fallback.remove()
    byId('editor').hidden = false
    preview.schedule()
  }

  const saveState = () => tracker.state({ connected: conn.connected, synced: conn.synced })
  const refresh = () => {
    onFirstSync()
    status.setCanEdit(conn.canEdit)
    status.showConnection(conn.status, Date.now())
    status.showSave(saveState(), saveState)
    closedLink.hidden = !conn.closed
    title.setCanEdit(conn.canEdit)
    title.setWritable(editor !== null && editable())
    if (editor && shownEditable !== editable()) {
      shownEditable = editable()
      editor.setEditable(shownEditable)
    }
  }
  conn.subscribe(refresh)
  tracker.subscribe(refresh)
  // The reconnect countdown.
  setInterval(() => {
    if (conn.status.kind === 'reconnecting') status.showConnection(conn.status, Date.now())
  }, 250)
  refresh()

  window.addEventListener('beforeunload', (event) => {
    if (conn.canEdit && tracker.hasPending()) {
      event.preventDefault()
      event.returnValue = ''
    }
  })

  // For tests and debugging: the live objects, read-only by convention.
  Object.defineProperty(window, 'collabNotes', {
    value: Object.freeze({ doc, awareness, connection: conn, tracker, chat, getEditor: () => editor }),
  })
}

start()
