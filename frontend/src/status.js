/**
 * The status line: connection, save state and access, always visible.
 *
 * The connection status is a polite live region; its countdown digits are hidden from screen
 * readers so they are not announced every second. The save state is shown, not announced,
 * because it changes with every keystroke.
 */

/** "Saving…" stays up at least this long, so typing does not make it flicker. */
export const MIN_SAVING_MS = 600

/**
 * The words for a connection status.
 * @param {import('./connection.js').ConnectionStatus} status
 * @param {number} now
 * @param {boolean} canEdit
 * @returns {{ label: string, detail: string }}
 */
export function connectionText(status, now, canEdit) {
  switch (status.kind) {
    case 'connected':
      return { label: status.http ? 'Connected over HTTP' : 'Connected', detail: '' }
    case 'connecting':
      return { label: 'Connecting…', detail: '' }
    case 'reconnecting': {
      const seconds = Math.ceil((status.at - now) / 1000)
      const why = status.reason ? ` (${status.reason})` : ''
      return { label: 'Reconnecting', detail: seconds > 0 ? ` in ${seconds} s…${why}` : `…${why}` }
    }
    case 'offline':
      return {
        label: canEdit ? 'Offline — edits are kept and will sync' : 'Offline',
        detail: '',
      }
    case 'closed':
      return { label: `Closed: ${status.reason}`, detail: '' }
  }
}

/** @type {Record<import('./saves.js').SaveState, string>} */
const SAVE_TEXT = { saved: 'Saved', saving: 'Saving…', unsaved: 'Unsaved changes', idle: '' }

export class StatusView {
  /**
   * @param {object} options
   * @param {HTMLElement} options.connection  role=status element with .conn-label and .conn-detail
   * @param {HTMLElement} options.save
   * @param {HTMLButtonElement} options.retry
   * @param {HTMLElement} options.access
   * @param {boolean} options.canEdit
   */
  constructor({ connection, save, retry, access, canEdit }) {
    this.connectionEl = connection
    this.labelEl = /** @type {HTMLElement} */ (connection.querySelector('.conn-label'))
    this.detailEl = /** @type {HTMLElement} */ (connection.querySelector('.conn-detail'))
    this.saveEl = save
    this.retry = retry
    this.canEdit = canEdit
    /** @type {import('./saves.js').SaveState} */
    this._shownSave = 'idle'
    this._savingSince = 0
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._saveTimer = null
    this.accessEl = access
    this.setCanEdit(canEdit)
  }

  /**
   * Viewers see "View only" and no save state.
   * @param {boolean} canEdit
   */
  setCanEdit(canEdit) {
    this.canEdit = canEdit
    this.accessEl.hidden = canEdit
  }

  /**
   * @param {import('./connection.js').ConnectionStatus} status
   * @param {number} now
   */
  showConnection(status, now) {
    const { label, detail } = connectionText(status, now, this.canEdit)
    if (this.labelEl.textContent !== label) this.labelEl.textContent = label
    if (this.detailEl.textContent !== detail) this.detailEl.textContent = detail
    this.connectionEl.dataset.state = status.kind
    this.retry.hidden = status.kind !== 'reconnecting'
  }

  /**
   * Show the save state; "Saving…" is held for MIN_SAVING_MS before giving way to "Saved"
   * (showing "Saving…" a little longer than true is safe; showing "Saved" early would not be).
   * @param {import('./saves.js').SaveState} state
   * @param {() => import('./saves.js').SaveState} current  to re-check after the hold
   */
  showSave(state, current) {
    if (!this.canEdit) state = 'idle'
    const now = Date.now()
    if (state === 'saving' && this._shownSave !== 'saving') this._savingSince = now
    if (state === 'saved' && this._shownSave === 'saving') {
      const wait = this._savingSince + MIN_SAVING_MS - now
      if (wait > 0) {
        if (this._saveTimer === null) {
          this._saveTimer = setTimeout(() => {
            this._saveTimer = null
            this.showSave(current(), current)
          }, wait)
        }
        return
      }
    }
    this._shownSave = state
    this.saveEl.dataset.state = state
    if (this.saveEl.textContent !== SAVE_TEXT[state]) this.saveEl.textContent = SAVE_TEXT[state]
  }
}
