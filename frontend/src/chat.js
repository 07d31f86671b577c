/**
 * The chat panel beside the note: the messages (ChatLog), live events from the connection, and
 * the HTTP calls that read and write them (GET a page, POST, PATCH, DELETE on `chatUrl`).
 *
 * Open or closed is remembered (layout.js); while closed, a badge counts unread messages. The
 * newest page loads with the page and again whenever the connection comes back, so messages
 * missed while disconnected appear. Older pages load on scrolling to the top (or the button).
 * New messages from others are announced in a polite live region, not through the list itself,
 * so loading older pages stays silent.
 */

import { ChatLog } from './chatlog.js'
import { renderChat } from './chatmarkup.js'
import { writeChatOpen } from './layout.js'

/** The server refuses longer messages (notes.models.CHAT_MESSAGE_MAX_CHARS). */
export const CHAT_MAX_CHARS = 4000
/** The character counter appears from this length. */
export const COUNTER_FROM = 3500
/** Scrolling this close to the top loads older messages; this close to the bottom follows new ones. */
const EDGE_PX = 48

/**
 * The counter's text for a draft of `length` characters ('' while far from the limit).
 * @param {number} length
 */
export function counterText(length) {
  if (length < COUNTER_FROM) return ''
  return `${length.toLocaleString('en')} / ${CHAT_MAX_CHARS.toLocaleString('en')}`
}

/**
 * A short local time for a message: "14:05" today, "3 Mar 14:05" otherwise.
 * @param {string} iso
 * @param {Date} now
 */
export function shortTime(iso, now) {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return ''
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  if (date.toDateString() === now.toDateString()) return time
  return `${date.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${time}`
}

/** A failed chat request, with a sentence for the user. */
export class ChatRequestError extends Error {}

/**
 * @typedef {object} ChatElements
 * @property {HTMLButtonElement} toggle
 * @property {HTMLElement} unread       the badge; its `.chat-unread-count` holds the number
 * @property {HTMLElement} scroller     the scrolling list area
 * @property {HTMLButtonElement} older
 * @property {HTMLElement} state        "Loading…", "No messages yet", or why loading failed
 * @property {HTMLOListElement} list
 * @property {HTMLElement} announce     a polite live region
 * @property {HTMLFormElement} form
 * @property {HTMLTextAreaElement} input
 * @property {HTMLElement} counter
 * @property {HTMLElement} error
 */

/**
 * @typedef {object} Item  one message's <li>, and what it shows
 * @property {HTMLLIElement} li
 * @property {string} version  what the view was built from
 * @property {'view' | 'edit' | 'confirm'} mode
 */

export class ChatPanel {
  /**
   * @param {object} options
   * @param {ChatElements} options.elements
   * @param {HTMLElement} options.root      carries `data-chat="open" | "closed"`
   * @param {string} options.url            the note's chat URL
   * @param {string} options.csrfToken
   * @param {{ id: number }} options.user
   * @param {boolean} options.canManage     the owner deletes anyone's messages
   * @param {import('./connection.js').Connection} options.connection
   * @param {() => Storage} options.storage
   * @param {Document} options.document
   */
  constructor({ elements, root, url, csrfToken, user, canManage, connection, storage, document }) {
    this.el = elements
    this.root = root
    this.url = url
    this.csrfToken = csrfToken
    this.selfId = user.id
    this.canManage = canManage
    this.storage = storage
    this.document = document
    this.log = new ChatLog(user.id)
    /** @type {Map<number, Item>} */
    this._items = new Map()
    this._loadingNewest = false
    this._newestAgain = false
    this._loadingOlder = false
    /** @type {string} why the last load failed, shown until one succeeds */
    this._loadError = ''
    this._sending = false

    this.log.setOpen(root.dataset.chat === 'open')
    elements.toggle.addEventListener('click', () => this.setOpen(!this.log.open, true))
    elements.older.addEventListener('click', () => this.loadOlder())
    elements.scroller.addEventListener('scroll', () => {
      if (elements.scroller.scrollTop < EDGE_PX) this.loadOlder()
    }, { passive: true })
    elements.form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.send()
    })
    elements.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault()
        this.send()
      }
    })
    elements.input.addEventListener('input', () => this._showCounter())

    connection.onChat((event) => this._onEvent(event))
    let connected = connection.status.kind === 'connected'
    connection.subscribe(() => {
      const now = connection.status.kind === 'connected'
      if (now && !connected) this.loadNewest()
      connected = now
    })
    this._applyOpen(false)
    this.loadNewest()
  }

  /**
   * Open or close the panel.
   * @param {boolean} open
   * @param {boolean} focus  move focus into the composer when opening
   */
  setOpen(open, focus) {
    writeChatOpen(this.storage, open)
    this.root.dataset.chat = open ? 'open' : 'closed'
    this.log.setOpen(open)
    this._applyOpen(focus)
  }

  /** @param {boolean} focus */
  _applyOpen(focus) {
    this.el.toggle.setAttribute('aria-expanded', String(this.log.open))
    this.render()
    if (this.log.open) {
      this._scrollToBottom()
      if (focus) this.el.input.focus()
    }
  }

  /** Fetch the newest page (at start, and after every reconnect). */
  async loadNewest() {
    if (this._loadingNewest) {
      this._newestAgain = true
      return
    }
    this._loadingNewest = true
    try {
      do {
        this._newestAgain = false
        const request = this.log.newestRequest()
        const follow = this._nearBottom()
        try {
          const page = await this._request('GET', this.url)
          this._loadError = ''
          this.log.applyPage(request, page)
        } catch (error) {
          this._loadError = `Could not load the chat: ${errorText(error)}`
        }
        this.render()
        if (follow) this._scrollToBottom()
      } while (this._newestAgain)
    } finally {
      this._loadingNewest = false
    }
  }

  /** Fetch the page before the oldest message shown, keeping the view where it was. */
  async loadOlder() {
    const request = this.log.olderRequest()
    if (this._loadingOlder || !request) return
    this._loadingOlder = true
    this.el.older.disabled = true
    const scroller = this.el.scroller
    const fromBottom = scroller.scrollHeight - scroller.scrollTop
    try {
      const page = await this._request('GET', `${this.url}?before=${request.before}`)
      this.log.applyPage(request, page)
      this._loadError = ''
    } catch (error) {
      this._loadError = `Could not load older messages: ${errorText(error)}`
    } finally {
      this._loadingOlder = false
      this.el.older.disabled = false
    }
    this.render()
    scroller.scrollTop = scroller.scrollHeight - fromBottom
  }

  /** Post the composer's text; on failure keep it and say why. */
  async send() {
    if (this._sending) return
    const input = this.el.input
    this._sending = true
    input.readOnly = true
    try {
      const message = await this._request('POST', this.url, { text: input.value })
      input.value = ''
      this._showError(this.el.error, '')
      this._showCounter()
      this.log.applyMessage(message)
      this.render()
      this._scrollToBottom()
    } catch (error) {
      this._showError(this.el.error, errorText(error))
    } finally {
      this._sending = false
      input.readOnly = false
    }
  }

  /** @param {import('./chatlog.js').ChatEvent} event */
  _onEvent(event) {
    const follow = this._nearBottom()
    const isNew = event.kind === 'message' && !this.log.get(event.message.id)
    this.log.applyEvent(event)
    this.render()
    if (follow) this._scrollToBottom()
    if (isNew && event.kind === 'message' && event.message.author.id !== this.selfId) {
      const { author, text } = event.message
      this.el.announce.textContent = `New chat message from ${author.name}: ${text.slice(0, 300)}`
    }
  }

  /** Bring the list, the badge and the older-messages button up to date. */
  render() {
    const messages = this.log.messages()
    const keep = new Set(messages.map((m) => m.id))
    for (const [id, item] of this._items) {
      if (!keep.has(id)) {
        item.li.remove()
        this._items.delete(id)
      }
    }
    const now = new Date()
    messages.forEach((message, index) => {
      let item = this._items.get(message.id)
      if (!item) {
        item = { li: this.document.createElement('li'), version: '', mode: 'view' }
        item.li.className = 'chat-message'
        item.li.dataset.id = String(message.id)
        this._items.set(message.id, item)
      }
      const version = `${item.mode}\u0000${message.edited}\u0000${message.text}`
      if (item.version !== version && item.mode !== 'edit') this._fill(item, message, now)
      item.version = version
      const list = this.el.list
      if (list.children[index] !== item.li) list.insertBefore(item.li, list.children[index] || null)
    })

    const unread = this.log.unreadCount()
    this.el.unread.hidden = unread === 0
    this.el.unread.dataset.count = String(unread)
    const count = this.el.unread.querySelector('.chat-unread-count')
    if (count) count.textContent = String(unread)
    this.el.toggle.title = unread ? `${unread} unread` : ''

    this.el.older.hidden = !this.log.hasOlder
    const state = this._loadError ||
      (!this.log.loaded ? 'Loading…' : messages.length === 0 ? 'No messages yet. Say hello!' : '')
    this.el.state.textContent = state
    this.el.state.hidden = !state
    this.el.state.classList.toggle('error', Boolean(this._loadError))
  }

  /**
   * Build a message's view: who, when, (edited), its actions, and its text.
   * @param {Item} item
   * @param {import('./chatlog.js').ChatMessage} message
   * @param {Date} now
   */
  _fill(item, message, now) {
    const doc = this.document
    const li = item.li
    const own = message.author.id !== null && message.author.id === this.selfId
    li.classList.toggle('is-own', own)
    li.dataset.author = message.author.name

    const meta = doc.createElement('div')
    meta.className = 'chat-meta'
    const author = doc.createElement('span')
    author.className = 'chat-author'
    author.textContent = message.author.name
    if (message.author.color) author.style.color = message.author.color
    const time = doc.createElement('time')
    time.dateTime = message.created
    time.textContent = shortTime(message.created, now)
    time.title = new Date(message.created).toLocaleString()
    meta.append(author, ' ', time)
    if (message.edited) {
      const edited = doc.createElement('span')
      edited.className = 'chat-edited'
      edited.textContent = '(edited)'
      edited.title = `Edited ${new Date(message.edited).toLocaleString()}`
      meta.append(' ', edited)
    }
    const actions = doc.createElement('span')
    actions.className = 'chat-actions'
    const when = time.textContent
    if (item.mode === 'confirm') {
      const question = doc.createElement('span')
      question.textContent = 'Delete this message?'
      const yes = this._button('Delete', `Confirm: delete the message from ${when}`, () =>
        this._delete(item, message))
      yes.classList.add('danger-link')
      const no = this._button('Cancel', 'Keep the message', () => this._setMode(item, message, 'view', 'delete'))
      actions.append(question, ' ', yes, ' ', no)
      queueMicrotask(() => yes.focus())
    } else {
      if (own) {
        actions.append(this._button('Edit', `Edit your message from ${when}`, () =>
          this._setMode(item, message, 'edit')))
      }
      if (own || this.canManage) {
        const whose = own ? 'your message' : `${message.author.name}'s message`
        actions.append(this._button('Delete', `Delete ${whose} from ${when}`, () =>
          this._setMode(item, message, 'confirm')))
      }
    }
    if (actions.childNodes.length) meta.append(actions)

    const body = doc.createElement('div')
    body.className = 'chat-text'
    body.append(renderChat(message.text, doc))
    const error = doc.createElement('p')
    error.className = 'error chat-item-error'
    error.setAttribute('role', 'alert')
    error.hidden = true
    li.replaceChildren(meta, body, error)
  }

  /**
   * @param {string} label
   * @param {string} spoken
   * @param {() => void} onClick
   */
  _button(label, spoken, onClick) {
    const button = this.document.createElement('button')
    button.type = 'button'
    button.className = 'link-button chat-action'
    button.textContent = label
    button.setAttribute('aria-label', spoken)
    button.dataset.action = label.toLowerCase()
    button.addEventListener('click', onClick)
    return button
  }

  /**
   * @param {Item} item
   * @param {import('./chatlog.js').ChatMessage} message
   * @param {Item['mode']} mode
   * @param {string} [focusAction]  the action button to focus afterwards
   */
  _setMode(item, message, mode, focusAction) {
    item.mode = mode
    message = this.log.get(message.id) || message
    if (mode === 'edit') {
      this._editForm(item, message)
      return
    }
    item.version = ''
    this.render()
    if (focusAction) {
      const button = item.li.querySelector(`.chat-action[data-action="${focusAction}"]`)
      if (button instanceof HTMLElement) button.focus()
    }
  }

  /**
   * Swap the message's text for an editing form. Enter saves, Shift+Enter is a new line,
   * Escape cancels.
   * @param {Item} item
   * @param {import('./chatlog.js').ChatMessage} message
   */
  _editForm(item, message) {
    const doc = this.document
    const form = doc.createElement('form')
    form.className = 'chat-edit'
    const id = `chat-edit-${message.id}`
    const label = doc.createElement('label')
    label.className = 'visually-hidden'
    label.htmlFor = id
    label.textContent = 'Edit message'
    const input = doc.createElement('textarea')
    input.id = id
    input.rows = 2
    input.value = message.text
    const save = doc.createElement('button')
    save.type = 'submit'
    save.className = 'small'
    save.textContent = 'Save'
    const cancel = this._button('Cancel', 'Cancel editing', () => this._setMode(item, message, 'view', 'edit'))
    const error = doc.createElement('p')
    error.className = 'error chat-item-error'
    error.setAttribute('role', 'alert')
    error.hidden = true
    const buttons = doc.createElement('div')
    buttons.className = 'chat-edit-buttons'
    buttons.append(save, cancel)
    form.append(label, input, buttons, error)
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      this._saveEdit(item, message, input, error)
    })
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault()
        this._saveEdit(item, message, input, error)
      } else if (event.key === 'Escape') {
        event.preventDefault()
        this._setMode(item, message, 'view', 'edit')
      }
    })
    const body = item.li.querySelector('.chat-text')
    if (body) body.replaceWith(form)
    else item.li.append(form)
    input.focus()
    input.setSelectionRange(input.value.length, input.value.length)
  }

  /**
   * @param {Item} item
   * @param {import('./chatlog.js').ChatMessage} message
   * @param {HTMLTextAreaElement} input
   * @param {HTMLElement} error
   */
  async _saveEdit(item, message, input, error) {
    if (input.readOnly) return
    input.readOnly = true
    try {
      const updated = await this._request('PATCH', `${this.url}${message.id}/`, { text: input.value })
      this.log.applyMessage(updated)
      this._setMode(item, updated, 'view', 'edit')
    } catch (failure) {
      this._showError(error, errorText(failure))
    } finally {
      input.readOnly = false
    }
  }

  /**
   * @param {Item} item
   * @param {import('./chatlog.js').ChatMessage} message
   */
  async _delete(item, message) {
    try {
      await this._request('DELETE', `${this.url}${message.id}/`)
      this.log.applyEvent({ kind: 'deleted', id: message.id })
      this.render()
      this.el.input.focus()
    } catch (failure) {
      const error = item.li.querySelector('.chat-item-error')
      if (error instanceof HTMLElement) this._showError(error, errorText(failure))
    }
  }

  /**
   * One JSON request to the chat; throws ChatRequestError with the server's sentence.
   * @param {'GET' | 'POST' | 'PATCH' | 'DELETE'} method
   * @param {string} url
   * @param {object} [body]
   */
  async _request(method, url, body) {
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json' }
    if (method !== 'GET') headers['X-CSRFToken'] = this.csrfToken
    if (body) headers['Content-Type'] = 'application/json'
    let response
    try {
      response = await fetch(url, {
        method,
        headers,
        credentials: 'same-origin',
        body: body ? JSON.stringify(body) : undefined,
      })
    } catch {
      throw new ChatRequestError('Could not reach the server. Check your connection and try again.')
    }
    let data = null
    try {
      data = await response.json()
    } catch {
      // Not JSON (a proxy's error page, Django's CSRF page): say what we know.
    }
    if (!response.ok) {
      const said = data && typeof data.error === 'string' ? data.error : ''
      throw new ChatRequestError(said || `The server refused (HTTP ${response.status}). Try reloading the page.`)
    }
    return data
  }

  /**
   * @param {HTMLElement} element
   * @param {string} text  '' hides it
   */
  _showError(element, text) {
    element.textContent = text
    element.hidden = !text
  }

  _showCounter() {
    const length = this.el.input.value.length
    const text = counterText(length)
    this.el.counter.textContent = text
    this.el.counter.hidden = !text
    this.el.counter.classList.toggle('is-over', length > CHAT_MAX_CHARS)
  }

  _nearBottom() {
    const s = this.el.scroller
    return s.scrollHeight - s.scrollTop - s.clientHeight < EDGE_PX
  }

  _scrollToBottom() {
    this.el.scroller.scrollTop = this.el.scroller.scrollHeight
  }
}

/** @param {unknown} error */
function errorText(error) {
  return error instanceof ChatRequestError ? error.message : String(error)
}
