// The chat's pure parts: the markdown-lite renderer (with hostile input) and the message list
// that merges pages with live events. `npm test` (node --test), no browser.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import { ChatLog, isNewerVersion, parseChatEvent } from '../src/chatlog.js'
import { LINK_REL, parseChat, renderChat, safeHref } from '../src/chatmarkup.js'
import { counterText } from '../src/chat.js'

// --- a minimal DOM: just what the renderer may use -------------------------------------------

class FakeNode {
  /** @param {string} name */
  constructor(name) {
    this.nodeName = name
    /** @type {FakeNode[]} */
    this.childNodes = []
    /** @type {Record<string, string>} */
    this.attributes = {}
    this.data = ''
  }

  /** @param {...FakeNode} nodes */
  append(...nodes) {
    for (const node of nodes) {
      if (node.nodeName === '#fragment') this.childNodes.push(...node.childNodes)
      else this.childNodes.push(node)
    }
  }

  /** @param {string} name @param {string} value */
  setAttribute(name, value) {
    this.attributes[name] = String(value)
  }

  set textContent(text) {
    const node = new FakeNode('#text')
    node.data = String(text)
    this.childNodes = [node]
  }

  get textContent() {
    return this.nodeName === '#text' ? this.data : this.childNodes.map((n) => n.textContent).join('')
  }
}

const fakeDocument = /** @type {Document} */ (/** @type {unknown} */ ({
  createDocumentFragment: () => new FakeNode('#fragment'),
  /** @param {string} tag */
  createElement: (tag) => new FakeNode(tag.toUpperCase()),
  /** @param {string} data */
  createTextNode: (data) => Object.assign(new FakeNode('#text'), { data }),
}))

/** Serialise a fake tree as HTML, escaping text as a browser would. */
function html(/** @type {FakeNode} */ node) {
  if (node.nodeName === '#text') {
    return node.data.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  }
  const inner = node.childNodes.map(html).join('')
  if (node.nodeName === '#fragment') return inner
  const tag = node.nodeName.toLowerCase()
  const attrs = Object.entries(node.attributes).map(([k, v]) => ` ${k}="${v.replace(/"/g, '&quot;')}"`)
  return `<${tag}${attrs.join('')}>${inner}</${tag}>`
}

/** All element names in a tree. */
function tags(/** @type {FakeNode} */ node) {
  /** @type {string[]} */
  const names = node.nodeName.startsWith('#') ? [] : [node.nodeName]
  for (const child of node.childNodes) names.push(...tags(child))
  return names
}

/** All <a> elements in a tree. */
function links(/** @type {FakeNode} */ node) {
  /** @type {FakeNode[]} */
  const found = node.nodeName === 'A' ? [node] : []
  for (const child of node.childNodes) found.push(...links(child))
  return found
}

/** @param {string} text */
const render = (text) => /** @type {FakeNode} */ (/** @type {unknown} */ (renderChat(text, fakeDocument)))

// --- markdown-lite ---------------------------------------------------------------------------

test('plain text stays one text token, newlines included', () => {
  assert.deepEqual(parseChat('hello\nworld'), [{ type: 'text', text: 'hello\nworld' }])
  assert.deepEqual(parseChat(''), [])
  assert.deepEqual(parseChat('2 * 3 * 4'), [{ type: 'text', text: '2 * 3 * 4' }])
})

test('inline code, strong, emphasis and nesting', () => {
  assert.equal(html(render('use `npm test` now')), 'use <code>npm test</code> now')
  assert.equal(html(render('**bold** and *soft*')), '<strong>bold</strong> and <em>soft</em>')
  assert.equal(html(render('**very *much* so**')), '<strong>very <em>much</em> so</strong>')
  // Markup inside code is literal.
  assert.equal(html(render('`**not bold**`')), '<code>**not bold**</code>')
  // Unmatched markers stay as typed.
  assert.equal(html(render('a ** b and `c')), 'a ** b and `c')
})

test('fenced code blocks keep their text verbatim and drop the info string', () => {
  const tokens = parseChat('before\n```js\nconst a = "*x*" < 2\n  indented\n```\nafter')
  assert.deepEqual(tokens, [
    { type: 'text', text: 'before' },
    { type: 'codeblock', text: 'const a = "*x*" < 2\n  indented' },
    { type: 'text', text: 'after' },
  ])
  assert.equal(html(render('```\nline one\nline two```')), '<pre><code>line one\nline two</code></pre>')
  assert.equal(html(render('```one line```')), '<pre><code>one line</code></pre>')
  // An unclosed fence is plain text.
  assert.equal(html(render('```\nnot closed')), '```\nnot closed')
})

test('bare and bracketed http(s) links, safely attributed, punctuation left outside', () => {
  const node = render('see https://example.com/a_(b)?q=1&r=2. or (https://x.org/y)!')
  assert.equal(
    html(node),
    `see <a href="https://example.com/a_(b)?q=1&r=2" rel="${LINK_REL}" target="_blank">` +
      'https://example.com/a_(b)?q=1&amp;r=2</a>. or ' +
      `(<a href="https://x.org/y" rel="${LINK_REL}" target="_blank">https://x.org/y</a>)!`,
  )
  assert.equal(
    html(render('[the *docs*](http://docs.example.com/)')),
    `<a href="http://docs.example.com/" rel="${LINK_REL}" target="_blank">the *docs*</a>`,
  )
  assert.equal(html(render('**read https://a.b/c**')),
    `<strong>read <a href="https://a.b/c" rel="${LINK_REL}" target="_blank">https://a.b/c</a></strong>`)
})

test('only http and https become links', () => {
  assert.equal(safeHref('https://example.com'), 'https://example.com/')
  assert.equal(safeHref('HTTP://EXAMPLE.com/x'), 'http://example.com/x')
  for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<b>x</b>',
    'vbscript:x', '/relative', '//evil.example', 'not a url', 'file:///etc/passwd']) {
    assert.equal(safeHref(bad), null, bad)
  }
  for (const text of ['[click](javascript:alert(1))', '[x](javascript:alert%281%29)',
    '[x](data:text/html;base64,PHNjcmlwdD4=)', 'javascript:alert(1)', '[x](//evil.example)']) {
    const node = render(text)
    assert.deepEqual(tags(node), [], text)
    assert.equal(node.textContent, text)
  }
})

test('HTML in a message is text, never elements', () => {
  const payloads = [
    '<img src=x onerror=alert(1)>',
    '<script>alert(1)</script>',
    '**<img src=x onerror=alert(1)>**',
    '`<b>x</b>`',
    '```\n<iframe src="javascript:alert(1)"></iframe>\n```',
    '[<img src=x onerror=alert(1)>](https://example.com)',
    'https://example.com/"><img src=x onerror=alert(1)>',
    '<a href="javascript:alert(1)">x</a>',
  ]
  for (const payload of payloads) {
    const node = render(payload)
    for (const tag of tags(node)) {
      assert.ok(['A', 'CODE', 'PRE', 'STRONG', 'EM'].includes(tag), `${payload}: made <${tag}>`)
    }
    assert.ok(!html(node).includes('<img'), payload)
    assert.ok(!html(node).includes('<script'), payload)
    for (const link of links(node)) assert.match(link.attributes.href, /^https?:\/\//, payload)
  }
  assert.equal(render('<img src=x onerror=alert(1)>').textContent, '<img src=x onerror=alert(1)>')
  // A link never takes the quote and what follows into its href.
  const link = render('https://example.com/"><img src=x onerror=alert(1)>').childNodes[0]
  assert.equal(link.attributes.href, 'https://example.com/')
})

// --- the message list ----------------------------------------------------------------------

const ME = 1
const BOB = 2
/**
 * @param {number} id
 * @param {object} [extra]
 * @returns {import('../src/chatlog.js').ChatMessage}
 */
function msg(id, { author = BOB, text = `message ${id}`, edited = /** @type {string | null} */ (null) } = {}) {
  return { id, author: { id: author, name: author === ME ? 'Me' : 'Bob', color: 'hsl(1, 65%, 45%)' },
    text, created: '2025-03-01T10:00:00+00:00', edited }
}
/** @param {ChatLog} log */
const ids = (log) => log.messages().map((m) => m.id)
/** @param {number} from @param {number} to */
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i))

test('pages and live events merge by id, oldest first, without duplicates', () => {
  const log = new ChatLog(ME)
  assert.equal(log.loaded, false)
  const request = log.newestRequest()
  log.applyEvent({ kind: 'message', message: msg(5) }) // arrives while the page is on its way
  log.applyPage(request, { messages: [msg(3), msg(4), msg(5)], more: true })
  log.applyEvent({ kind: 'message', message: msg(6) })
  log.applyMessage(msg(6)) // our own POST's answer and its event both arrive
  assert.deepEqual(ids(log), [3, 4, 5, 6])
  assert.equal(log.hasOlder, true)
  assert.deepEqual(log.olderRequest(), { before: 3, knownMax: 6 })
  log.applyPage(/** @type {any} */ (log.olderRequest()), { messages: [msg(1), msg(2)], more: false })
  assert.deepEqual(ids(log), [1, 2, 3, 4, 5, 6])
  assert.equal(log.hasOlder, false)
  assert.equal(log.olderRequest(), null)
})

test('a later edit wins over an older copy, whichever arrives last', () => {
  const log = new ChatLog(ME)
  const request = log.newestRequest()
  log.applyEvent({ kind: 'edited', message: msg(1, { text: 'fixed', edited: '2025-03-01T10:05:00.5+00:00' }) })
  log.applyPage(request, { messages: [msg(1, { text: 'typo' })], more: false }) // fetched before the edit
  assert.equal(log.get(1)?.text, 'fixed')
  log.applyEvent({ kind: 'edited', message: msg(1, { text: 'older edit', edited: '2025-03-01T10:04:00+00:00' }) })
  assert.equal(log.get(1)?.text, 'fixed')
  log.applyEvent({ kind: 'edited', message: msg(1, { text: 'again', edited: '2025-03-01T10:06:00+00:00' }) })
  assert.equal(log.get(1)?.text, 'again')
  assert.equal(log.get(1)?.edited, '2025-03-01T10:06:00+00:00')
  assert.ok(isNewerVersion(msg(1), msg(1)))
  assert.ok(!isNewerVersion(msg(1, { edited: '2025-03-01T10:00:00+00:00' }), msg(1)))
})

test('a deleted message never comes back from a page fetched before the delete', () => {
  const log = new ChatLog(ME)
  const request = log.newestRequest()
  log.applyEvent({ kind: 'deleted', id: 2 })
  log.applyPage(request, { messages: [msg(1), msg(2), msg(3)], more: false })
  assert.deepEqual(ids(log), [1, 3])
  log.applyEvent({ kind: 'deleted', id: 3 })
  log.applyEvent({ kind: 'edited', message: msg(3, { edited: '2025-03-01T11:00:00+00:00' }) })
  assert.deepEqual(ids(log), [1])
})

test('the newest page after a reconnect removes what was deleted meanwhile and adds what was missed', () => {
  const log = new ChatLog(ME)
  log.applyPage(log.newestRequest(), { messages: range(1, 5), more: false })
  // Disconnected: 2 and 4 are deleted, 6 and 7 are posted, 5 is edited.
  const request = log.newestRequest()
  log.applyEvent({ kind: 'message', message: msg(8) }) // live, after the refetch was made
  const edited = msg(5, { text: 'changed', edited: '2025-03-01T10:10:00+00:00' })
  log.applyPage(request, { messages: [msg(1), msg(3), edited, msg(6), msg(7)], more: false })
  assert.deepEqual(ids(log), [1, 3, 5, 6, 7, 8])
  assert.equal(log.get(5)?.text, 'changed')
})

test('a newest page that holds only part of the history removes only within its range', () => {
  const log = new ChatLog(ME)
  log.applyPage(log.newestRequest(), { messages: range(11, 20), more: true })
  log.applyPage(/** @type {any} */ (log.olderRequest()), { messages: range(1, 10), more: false })
  const request = log.newestRequest()
  log.applyPage(request, { messages: range(16, 20).filter((m) => m.id !== 18), more: true })
  assert.deepEqual(ids(log), [...range(1, 17), msg(19), msg(20)].map((m) => m.id))
  assert.equal(log.hasOlder, false, 'what was loaded already reaches the first message')
})

test('a newest page that does not reach what was held replaces it, so scrolling up fills the gap', () => {
  const log = new ChatLog(ME)
  log.applyPage(log.newestRequest(), { messages: range(1, 5), more: false })
  // Away for a long time: 200 messages later the newest page starts at 106.
  log.applyPage(log.newestRequest(), { messages: range(106, 205), more: true })
  assert.equal(ids(log)[0], 106)
  assert.equal(log.messages().length, 100)
  assert.equal(log.hasOlder, true)
  assert.deepEqual(log.olderRequest(), { before: 106, knownMax: 205 })
})

test('unread counts messages from others that arrived while the panel was closed', () => {
  const log = new ChatLog(ME)
  log.applyPage(log.newestRequest(), { messages: range(1, 3), more: false })
  assert.equal(log.unreadCount(), 0, 'history at load counts as read')
  log.applyEvent({ kind: 'message', message: msg(4) })
  log.applyEvent({ kind: 'message', message: msg(5, { author: ME }) })
  log.applyEvent({ kind: 'message', message: msg(6) })
  assert.equal(log.unreadCount(), 2, 'my own message is not unread')
  log.applyEvent({ kind: 'edited', message: msg(2, { edited: '2025-03-01T11:00:00+00:00' }) })
  assert.equal(log.unreadCount(), 2, 'an edit is not a new message')
  log.applyEvent({ kind: 'deleted', id: 6 })
  assert.equal(log.unreadCount(), 1, 'a deleted message is no longer unread')
  log.setOpen(true)
  assert.equal(log.unreadCount(), 0)
  log.applyEvent({ kind: 'message', message: msg(7) })
  assert.equal(log.unreadCount(), 0, 'seen while open')
  log.setOpen(false)
  assert.equal(log.unreadCount(), 0)
  // Missed while disconnected, then brought by the refetch.
  log.applyPage(log.newestRequest(), { messages: [...range(1, 5), msg(7), msg(8), msg(9)], more: false })
  assert.equal(log.unreadCount(), 2)
})

test('in a chat that was empty at load, every message from others is unread', () => {
  const log = new ChatLog(ME)
  log.applyPage(log.newestRequest(), { messages: [], more: false })
  assert.equal(log.unreadCount(), 0)
  log.applyEvent({ kind: 'message', message: msg(1) })
  assert.equal(log.unreadCount(), 1)
})

test('a panel open from the start has nothing unread', () => {
  const log = new ChatLog(ME)
  log.setOpen(true)
  log.applyPage(log.newestRequest(), { messages: range(1, 3), more: false })
  log.applyEvent({ kind: 'message', message: msg(4) })
  log.setOpen(false)
  assert.equal(log.unreadCount(), 0)
  log.applyEvent({ kind: 'message', message: msg(5) })
  assert.equal(log.unreadCount(), 1)
})

test('chat events are parsed strictly', () => {
  assert.deepEqual(parseChatEvent('{"kind":"deleted","id":3}'), { kind: 'deleted', id: 3 })
  const message = msg(4)
  assert.deepEqual(parseChatEvent(JSON.stringify({ kind: 'message', message })), { kind: 'message', message })
  for (const bad of ['', 'nope', 'null', '{"kind":"deleted","id":"3"}', '{"kind":"message"}',
    '{"kind":"other","id":1}', '{"kind":"edited","message":{"id":1,"text":"x"}}']) {
    assert.equal(parseChatEvent(bad), null, bad)
  }
})

test('the counter shows only near the limit', () => {
  assert.equal(counterText(10), '')
  assert.equal(counterText(3499), '')
  assert.equal(counterText(3500), '3,500 / 4,000')
  assert.equal(counterText(4001), '4,001 / 4,000')
})
