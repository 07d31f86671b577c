/**
 * The live Markdown preview: rendered by markdown-it, sanitised by DOMPurify, patched in place.
 *
 * Raw HTML in a note is allowed through markdown-it and then sanitised, so nothing in a note can
 * run script, style the page or post a form. Updates are coalesced (at most one render per
 * animation frame and per RENDER_INTERVAL_MS) and only the top-level blocks that changed are
 * replaced, so images do not reload and the pane does not jump while others type.
 */

import MarkdownIt from 'markdown-it'
import DOMPurify from 'dompurify'

export const RENDER_INTERVAL_MS = 100

const markdown = new MarkdownIt({ html: true, linkify: true, typographer: false })

// GitHub-style task lists ("- [ ] todo", "- [x] done"), shown as ballot boxes: checkboxes
// would be inputs, which the sanitiser removes (a preview is not a form).
markdown.core.ruler.push('task_lists', (state) => {
  const tokens = state.tokens
  for (let i = 2; i < tokens.length; i++) {
    const inline = tokens[i]
    if (inline.type !== 'inline' || tokens[i - 1].type !== 'paragraph_open'
      || tokens[i - 2].type !== 'list_item_open') continue
    const first = inline.children && inline.children[0]
    const match = first && first.type === 'text' ? /^\[([ xX])\]\s/.exec(first.content) : null
    if (!first || !match) continue
    const done = match[1] !== ' '
    first.content = (done ? '\u2611 ' : '\u2610 ') + first.content.slice(match[0].length)
    tokens[i - 2].attrJoin('class', done ? 'task task-done' : 'task')
  }
  return true
})

/** DOMPurify settings: HTML only (no SVG or MathML), no styling, no forms. */
const PURIFY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'select', 'option', 'textarea'],
  FORBID_ATTR: ['style'],
  // `id` and `name` from a note must not collide with the page's own elements.
  SANITIZE_NAMED_PROPS: true,
  RETURN_DOM_FRAGMENT: true,
}

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.hasAttribute('href')) {
    node.setAttribute('target', '_blank')
    node.setAttribute('rel', 'noopener noreferrer nofollow')
  }
})

/**
 * Render Markdown to a sanitised fragment.
 * @param {string} text
 * @returns {DocumentFragment}
 */
export function renderMarkdown(text) {
  return /** @type {DocumentFragment} */ (/** @type {unknown} */ (
    DOMPurify.sanitize(markdown.render(text), PURIFY)))
}

/**
 * Make `container`'s children equal to `fragment`'s, touching only the nodes that differ.
 * @param {HTMLElement} container
 * @param {DocumentFragment} fragment
 */
export function patchChildren(container, fragment) {
  const next = [...fragment.childNodes]
  const current = [...container.childNodes]
  let start = 0
  while (start < next.length && start < current.length && current[start].isEqualNode(next[start])) {
    start++
  }
  let endNext = next.length
  let endCurrent = current.length
  while (endNext > start && endCurrent > start
    && current[endCurrent - 1].isEqualNode(next[endNext - 1])) {
    endNext--
    endCurrent--
  }
  const anchor = current[endCurrent] || null
  for (let i = start; i < endCurrent; i++) current[i].remove()
  for (let i = start; i < endNext; i++) container.insertBefore(next[i], anchor)
}

export class Preview {
  /**
   * @param {HTMLElement} container
   * @param {() => string} getText
   * @param {Window} window
   */
  constructor(container, getText, window) {
    this.container = container
    this.getText = getText
    this.window = window
    this.visible = true
    this._dirty = true
    this._scheduled = false
    this._lastRender = 0
  }

  /** Called when the text changed: render soon, if the pane is visible. */
  schedule() {
    this._dirty = true
    if (this._scheduled || !this.visible) return
    this._scheduled = true
    const wait = Math.max(0, this._lastRender + RENDER_INTERVAL_MS - Date.now())
    this.window.setTimeout(() => {
      this.window.requestAnimationFrame(() => {
        this._scheduled = false
        this.renderNow()
      })
    }, wait)
  }

  /** @param {boolean} visible */
  setVisible(visible) {
    this.visible = visible
    if (visible && this._dirty) this.schedule()
  }

  renderNow() {
    this._dirty = false
    this._lastRender = Date.now()
    const text = this.getText()
    patchChildren(this.container, renderMarkdown(text))
    this.container.classList.toggle('is-empty', text.trim() === '')
  }
}
