/**
 * The page's editor configuration, embedded by the server with Django's `json_script`.
 */

/**
 * @typedef {object} EditorUser
 * @property {number} id
 * @property {string} name
 * @property {string} color  a CSS colour, stable per user (`hsl(h, s%, l%)`)
 */

/**
 * @typedef {object} EditorConfig
 * @property {string} noteId
 * @property {string} wsPath      e.g. "/ws/notes"; the room name is `noteId + '/'`
 * @property {string} [httpPath]  e.g. "/http/notes": the same note over HTTP, when WebSockets are blocked
 * @property {string} [csrfToken] for POSTs: the HTTP transport's and the chat's
 * @property {string} title       the title when the page was rendered
 * @property {EditorUser} user
 * @property {boolean} canEdit
 * @property {boolean} canManage
 * @property {string} renameUrl
 * @property {string} chatUrl  the note's chat: GET a page, POST a message, `<id>/` to edit or delete
 * @property {string} listUrl
 */

/**
 * Read the configuration the server embedded in the page.
 * @param {Document} doc
 * @returns {EditorConfig}
 */
export function readConfig(doc) {
  const node = doc.getElementById('editor-config')
  if (!node || !node.textContent) throw new Error('editor-config is missing from the page')
  return JSON.parse(node.textContent)
}

/**
 * The WebSocket origin for this page: ws:// on http, wss:// on https.
 * @param {Location} location
 */
export function websocketBase(location) {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host
}

/**
 * The probe interval for moving back from HTTP to WebSocket, if the page overrides it: tests
 * set `window.collabNotesTransport = { probeIntervalMs }` before the page's scripts run, so
 * they need not wait a minute. Read once, at startup.
 * @param {object} scope  the window
 * @returns {number | undefined}
 */
export function probeIntervalOverride(scope) {
  const tuning = /** @type {{ collabNotesTransport?: { probeIntervalMs?: unknown } }} */ (scope)
    .collabNotesTransport
  const ms = Number(tuning && tuning.probeIntervalMs)
  return ms > 0 ? ms : undefined
}
