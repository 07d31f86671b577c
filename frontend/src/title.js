/**
 * The note's title: shown as the page heading, renamed inline, live for everyone.
 *
 * The title lives in the shared document as `meta.title`; the server persists it. Until the
 * document has one, the title the page was rendered with is shown. Editors get an input styled
 * as the heading: Enter or leaving the field commits, Escape cancels. Viewers get plain text.
 */

export const TITLE_MAX_LENGTH = 200
const SITE_NAME = 'Collab Notes'

/**
 * The title to commit for what was typed, or null if nothing should change.
 * @param {string} typed
 * @param {string} current
 */
export function titleToCommit(typed, current) {
  const title = typed.replace(/\s+/g, ' ').trim().slice(0, TITLE_MAX_LENGTH)
  return title === '' || title === current ? null : title
}

export class Title {
  /**
   * @param {object} options
   * @param {HTMLElement} options.heading  the <h1>
   * @param {import('yjs').Map<unknown>} options.meta
   * @param {string} options.initial
   * @param {Document} options.document
   */
  constructor({ heading, meta, initial, document }) {
    this.heading = heading
    this.meta = meta
    this.document = document
    this.current = initial
    /** @type {HTMLInputElement | null} */
    this.input = null
    // Writing before the first sync could lose to the stored title, which we have not seen.
    this.writable = false
    meta.observe(() => this._fromDocument())
  }

  /**
   * Show an input (editors) or plain text (viewers).
   * @param {boolean} canEdit
   */
  setCanEdit(canEdit) {
    if (canEdit && !this.input) {
      this.input = this._createInput()
      this.heading.replaceChildren(this.input)
    } else if (!canEdit && this.input) {
      this.input = null
      this.heading.textContent = this.current
    }
    this._applyWritable()
  }

  /**
   * Whether the input accepts changes now (synced and not closed).
   * @param {boolean} writable
   */
  setWritable(writable) {
    this.writable = writable
    this._applyWritable()
  }

  _applyWritable() {
    if (this.input) this.input.readOnly = !this.writable
  }

  _createInput() {
    const input = this.document.createElement('input')
    input.type = 'text'
    input.className = 'title-input'
    input.id = 'note-title-input'
    input.value = this.current
    input.maxLength = TITLE_MAX_LENGTH
    input.autocomplete = 'off'
    input.setAttribute('aria-label', 'Note title (press Enter to rename)')
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault()
        this.commit()
        input.blur()
      } else if (event.key === 'Escape') {
        event.preventDefault()
        input.value = this.current
        input.blur()
      }
    })
    input.addEventListener('blur', () => this.commit())
    return input
  }

  /** Write the typed title to the shared document. */
  commit() {
    const input = this.input
    if (!input || input.readOnly) return
    const title = titleToCommit(input.value, this.current)
    if (title === null) {
      input.value = this.current
      return
    }
    this.current = title
    input.value = title
    this.meta.set('title', title)
    this._showDocumentTitle()
  }

  /** Called when the shared title may have changed (another user renamed, or the first sync). */
  _fromDocument() {
    const value = this.meta.get('title')
    if (typeof value !== 'string' || value === this.current) return
    this.current = value
    if (this.input) {
      // Never overwrite what this user is typing; their Enter or Escape decides.
      if (this.document.activeElement !== this.input) this.input.value = value
    } else {
      this.heading.textContent = value
    }
    this._showDocumentTitle()
  }

  _showDocumentTitle() {
    this.document.title = `${this.current} · ${SITE_NAME}`
  }
}
