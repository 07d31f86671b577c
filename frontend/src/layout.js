/**
 * The view toggle: editor only, split, or preview only. The choice is kept in localStorage and
 * applied as `data-view-mode` on <html> (boot.js does that before the page is first painted).
 */

/** @typedef {'editor' | 'split' | 'preview'} ViewMode */

export const VIEW_MODES = /** @type {ViewMode[]} */ (['editor', 'split', 'preview'])
export const STORAGE_KEY = 'collab-notes:view-mode'
const DEFAULT_MODE = /** @type {ViewMode} */ ('split')

/**
 * The remembered mode, or the default. Storage can be unavailable (privacy modes).
 * @param {() => Storage} storage
 * @returns {ViewMode}
 */
export function readViewMode(storage) {
  try {
    const value = storage().getItem(STORAGE_KEY)
    return VIEW_MODES.find((mode) => mode === value) || DEFAULT_MODE
  } catch {
    return DEFAULT_MODE
  }
}

/**
 * @param {() => Storage} storage
 * @param {ViewMode} mode
 */
function writeViewMode(storage, mode) {
  try {
    storage().setItem(STORAGE_KEY, mode)
  } catch {
    // Not remembered: the choice still applies to this page.
  }
}

/**
 * Wire the toggle's buttons (each with `data-mode`).
 * @param {object} options
 * @param {HTMLElement} options.root     the element carrying `data-view-mode`
 * @param {HTMLElement} options.group    the buttons' container
 * @param {() => Storage} options.storage
 * @param {(mode: ViewMode) => void} options.onChange
 */
export function setupViewToggle({ root, group, storage, onChange }) {
  const buttons = /** @type {HTMLButtonElement[]} */ ([...group.querySelectorAll('button[data-mode]')])
  /** @param {ViewMode} mode */
  const apply = (mode) => {
    root.dataset.viewMode = mode
    for (const button of buttons) button.setAttribute('aria-pressed', String(button.dataset.mode === mode))
    onChange(mode)
  }
  for (const button of buttons) {
    button.addEventListener('click', () => {
      const mode = VIEW_MODES.find((m) => m === button.dataset.mode) || DEFAULT_MODE
      writeViewMode(storage, mode)
      apply(mode)
    })
  }
  apply(readViewMode(storage))
}

export const CHAT_OPEN_KEY = 'collab-notes:chat-open'

/**
 * Whether the chat panel was left open (closed by default, and when storage is unavailable).
 * @param {() => Storage} storage
 */
export function readChatOpen(storage) {
  try {
    return storage().getItem(CHAT_OPEN_KEY) === '1'
  } catch {
    return false
  }
}

/**
 * @param {() => Storage} storage
 * @param {boolean} open
 */
export function writeChatOpen(storage, open) {
  try {
    storage().setItem(CHAT_OPEN_KEY, open ? '1' : '0')
  } catch {
    // Not remembered: the panel still opens or closes on this page.
  }
}
