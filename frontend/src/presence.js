/**
 * Presence: who is in the note now, who is typing, who is idle.
 *
 * Each tab publishes an awareness state `{ user: { id, name, color, colorLight }, typing, idle }`.
 * `user` is what y-codemirror.next reads to label remote cursors. The bar shows each person once,
 * however many tabs they have open (grouped by `user.id`).
 *
 * `typing` is a counter bumped on local edits (at most once a second). Receivers note the local
 * time they saw it change, so clocks on different machines never need to agree.
 */

/** How long someone counts as typing after their last edit we saw. */
export const TYPING_MS = 3000
/** No input for this long, or a hidden tab, makes a tab idle. */
export const IDLE_MS = 60000

/**
 * @typedef {object} PresenceUser
 * @property {number} id
 * @property {string} name
 * @property {string} color
 * @property {string} colorLight
 */

/**
 * @typedef {object} Person
 * @property {string} key
 * @property {string} name
 * @property {string} color
 * @property {boolean} self
 * @property {number} tabs
 * @property {boolean} typing
 * @property {boolean} idle
 */

/**
 * A translucent version of an `hsl(...)` or `#rrggbb` colour, for remote selections.
 * @param {string} color
 */
export function lightColor(color) {
  const hsl = /^hsl\(\s*([\d.]+)(?:deg)?[\s,]+([\d.]+)%[\s,]+([\d.]+)%\s*\)$/i.exec(color)
  if (hsl) return `hsla(${hsl[1]}, ${hsl[2]}%, ${hsl[3]}%, 0.25)`
  if (/^#[0-9a-f]{6}$/i.test(color)) return `${color}40`
  return 'rgba(128, 128, 128, 0.25)'
}

/**
 * One or two letters for an avatar: the first letters of the first two words.
 * @param {string} name
 */
export function initials(name) {
  const words = name.trim().split(/[\s._@-]+/).filter(Boolean)
  const letters = words.slice(0, 2).map((word) => Array.from(word)[0])
  return (letters.join('') || '?').toUpperCase()
}

/**
 * Group awareness states into people.
 * @param {Map<number, any>} states
 * @param {number} selfId the local user's id
 * @param {(clientId: number) => boolean} isTyping
 * @returns {Person[]}
 */
export function groupPeople(states, selfId, isTyping) {
  /** @type {Map<string, Person>} */
  const people = new Map()
  for (const [clientId, state] of states) {
    const user = state && state.user
    if (!user || typeof user.name !== 'string') continue
    const key = user.id != null ? `u${user.id}` : `c${clientId}`
    const self = user.id === selfId
    const typing = !self && isTyping(clientId)
    const idle = Boolean(state.idle)
    const person = people.get(key)
    if (person) {
      person.tabs += 1
      person.typing = person.typing || typing
      person.idle = person.idle && idle
    } else {
      people.set(key, {
        key, name: user.name, color: String(user.color || ''), self, tabs: 1, typing, idle,
      })
    }
  }
  return [...people.values()].sort((a, b) =>
    Number(b.self) - Number(a.self) || a.name.localeCompare(b.name) || a.key.localeCompare(b.key))
}

/**
 * A sentence for the people typing now.
 * @param {Person[]} people
 */
export function typingSentence(people) {
  const names = people.filter((p) => p.typing).map((p) => p.name)
  if (names.length === 0) return ''
  if (names.length === 1) return `${names[0]} is typing…`
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`
  return `${names.length} people are typing…`
}

export class Presence {
  /**
   * @param {object} options
   * @param {import('y-protocols/awareness').Awareness} options.awareness
   * @param {{ id: number, name: string, color: string }} options.user
   * @param {HTMLElement} options.list    the <ul> of avatars
   * @param {HTMLElement} options.typing  where "x is typing…" goes
   * @param {Document} options.document
   */
  constructor({ awareness, user, list, typing, document }) {
    this.awareness = awareness
    this.selfId = user.id
    this.list = list
    this.typingEl = typing
    this.document = document
    /** @type {Map<number, unknown>} the last `typing` value seen per client */
    this._seenTyping = new Map()
    /** @type {Map<number, number>} local time until which a client counts as typing */
    this._typingUntil = new Map()
    /** @type {Map<string, HTMLLIElement>} */
    this._items = new Map()
    this._typingCount = 0
    this._lastTypingSent = 0
    this._lastActivity = Date.now()
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._expiry = null

    awareness.setLocalState({
      user: /** @type {PresenceUser} */ ({
        id: user.id, name: user.name, color: user.color, colorLight: lightColor(user.color),
      }),
      typing: 0,
      idle: this._computeIdle(),
    })
    awareness.on('change', (/** @type {any} */ changes) => this._onChange(changes))

    const active = () => this._activity()
    for (const type of ['keydown', 'pointerdown', 'focusin']) {
      document.addEventListener(type, active, { passive: true })
    }
    let lastMove = 0
    document.addEventListener('pointermove', () => {
      const now = Date.now()
      if (now - lastMove > 5000) { lastMove = now; active() }
    }, { passive: true })
    document.addEventListener('visibilitychange', () => this._updateIdle())
    setInterval(() => this._updateIdle(), 5000)
    this.render()
  }

  /** Called for each edit made in this tab. */
  noteLocalEdit() {
    this._activity()
    const now = Date.now()
    if (now - this._lastTypingSent < 1000) return
    this._lastTypingSent = now
    this.awareness.setLocalStateField('typing', ++this._typingCount)
  }

  _activity() {
    this._lastActivity = Date.now()
    this._updateIdle()
  }

  _computeIdle() {
    return this.document.hidden || Date.now() - this._lastActivity > IDLE_MS
  }

  _updateIdle() {
    const state = this.awareness.getLocalState()
    const idle = this._computeIdle()
    if (state && Boolean(state.idle) !== idle) this.awareness.setLocalStateField('idle', idle)
  }

  /** @param {{ added: number[], updated: number[], removed: number[] }} changes */
  _onChange({ added, updated, removed }) {
    const now = Date.now()
    for (const id of added) {
      const state = this.awareness.getStates().get(id)
      this._seenTyping.set(id, state && state.typing)
    }
    for (const id of updated) {
      const state = this.awareness.getStates().get(id)
      const value = state && state.typing
      if (this._seenTyping.has(id) && this._seenTyping.get(id) !== value) {
        this._typingUntil.set(id, now + TYPING_MS)
      }
      this._seenTyping.set(id, value)
    }
    for (const id of removed) {
      this._seenTyping.delete(id)
      this._typingUntil.delete(id)
    }
    this.render()
  }

  /** Redraw the bar, reusing each person's element so nothing flickers. */
  render() {
    const now = Date.now()
    const people = groupPeople(this.awareness.getStates(), this.selfId, (id) => {
      const until = this._typingUntil.get(id)
      return until !== undefined && until > now
    })
    const keep = new Set(people.map((p) => p.key))
    for (const [key, item] of this._items) {
      if (!keep.has(key)) { item.remove(); this._items.delete(key) }
    }
    people.forEach((person, index) => {
      let item = this._items.get(person.key)
      if (!item) {
        item = this.document.createElement('li')
        item.className = 'avatar'
        item.dataset.user = person.key
        this._items.set(person.key, item)
      }
      this._fill(item, person)
      if (this.list.children[index] !== item) this.list.insertBefore(item, this.list.children[index] || null)
    })
    const sentence = typingSentence(people)
    if (this.typingEl.textContent !== sentence) this.typingEl.textContent = sentence

    // Wake up when the earliest typing indicator runs out.
    if (this._expiry) clearTimeout(this._expiry)
    this._expiry = null
    const pending = [...this._typingUntil.values()].filter((t) => t > now)
    if (pending.length) this._expiry = setTimeout(() => this.render(), Math.min(...pending) - now + 20)
  }

  /**
   * @param {HTMLLIElement} item
   * @param {Person} person
   */
  _fill(item, person) {
    const parts = [person.name + (person.self ? ' (you)' : '')]
    if (person.tabs > 1) parts.push(`${person.tabs} tabs`)
    if (person.typing) parts.push('typing')
    if (person.idle) parts.push('idle')
    const label = parts.join(', ')
    if (!item.firstChild) {
      const letters = this.document.createElement('span')
      letters.setAttribute('aria-hidden', 'true')
      const spoken = this.document.createElement('span')
      spoken.className = 'visually-hidden'
      item.append(letters, spoken)
    }
    const [letters, spoken] = /** @type {HTMLElement[]} */ ([...item.children])
    const text = initials(person.name)
    if (letters.textContent !== text) letters.textContent = text
    if (spoken.textContent !== label) spoken.textContent = label
    item.title = label
    item.dataset.name = person.name
    item.dataset.tabs = String(person.tabs)
    item.style.setProperty('--user-color', person.color)
    item.classList.toggle('is-self', person.self)
    item.classList.toggle('is-typing', person.typing)
    item.classList.toggle('is-idle', person.idle)
  }
}
