/**
 * Markdown-lite for chat messages: ```code blocks```, `inline code`, **strong**, *emphasis*,
 * [text](https://…) and bare http(s) links. Nothing else is markup.
 *
 * Parsing yields plain data (tokens); rendering builds DOM nodes from them with createElement
 * and text nodes only, so whatever a message contains (`<img onerror=…>`, `javascript:` links)
 * can only ever show as text. Links are made only for http and https URLs.
 */

/**
 * @typedef {{ type: 'text', text: string }
 *   | { type: 'code', text: string }
 *   | { type: 'codeblock', text: string }
 *   | { type: 'link', href: string, children: Token[] }
 *   | { type: 'strong' | 'em', children: Token[] }} Token
 */

export const LINK_REL = 'noopener noreferrer nofollow'

const FENCE = /```([\s\S]*?)```/g
/** The rest of the opening fence's line: blank, or an info string ("```js") that is not shown. */
const FENCE_LINE = /^(?:[^\S\n]*|[\w+#.-]+)\n/

/** Inline patterns, earliest match first; on a tie, the one listed first. */
const INLINE = /** @type {const} */ ([
  ['code', /`([^`\n]+)`/],
  ['mdlink', /\[([^\]\n]+)\]\(([^()\s]+)\)/],
  ['url', /\bhttps?:\/\/[^\s<>"]+/i],
  ['strong', /\*\*(\S(?:[^\n]*?\S)?)\*\*/],
  ['em', /\*([^*\s](?:[^*\n]*[^*\s])?)\*/],
])

/**
 * The http(s) URL a link may point at, normalised, or null for anything else
 * (`javascript:`, `data:`, relative paths, garbage).
 * @param {string} raw
 * @returns {string | null}
 */
export function safeHref(raw) {
  let url
  try {
    url = new URL(raw)
  } catch {
    return null
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null
}

/**
 * A bare URL without the punctuation that usually follows one in a sentence ("see https://x.org.")
 * and without a closing parenthesis it did not open ("(https://x.org)").
 * @param {string} url
 */
function trimUrl(url) {
  for (;;) {
    const last = url[url.length - 1]
    if (/[.,;:!?'*]/.test(last)) {
      url = url.slice(0, -1)
    } else if (last === ')' && url.split('(').length < url.split(')').length) {
      url = url.slice(0, -1)
    } else {
      return url
    }
  }
}

/**
 * @param {Token[]} tokens
 * @param {string} text
 */
function pushText(tokens, text) {
  if (!text) return
  const last = tokens[tokens.length - 1]
  if (last && last.type === 'text') last.text += text
  else tokens.push({ type: 'text', text })
}

/**
 * Inline markup of a stretch of text with no code blocks in it.
 * @param {string} text
 * @returns {Token[]}
 */
function parseInline(text) {
  /** @type {Token[]} */
  const tokens = []
  let rest = text
  while (rest) {
    /** @type {{ kind: string, match: RegExpExecArray } | null} */
    let best = null
    for (const [kind, pattern] of INLINE) {
      const match = pattern.exec(rest)
      if (match && (!best || match.index < best.match.index)) best = { kind, match }
    }
    if (!best) break
    const { kind, match } = best
    pushText(tokens, rest.slice(0, match.index))
    let consumed = match[0].length
    if (kind === 'code') {
      tokens.push({ type: 'code', text: match[1] })
    } else if (kind === 'mdlink') {
      const href = safeHref(match[2])
      if (href) tokens.push({ type: 'link', href, children: [{ type: 'text', text: match[1] }] })
      else pushText(tokens, match[0])
    } else if (kind === 'url') {
      const url = trimUrl(match[0])
      consumed = url.length
      const href = safeHref(url)
      if (href) tokens.push({ type: 'link', href, children: [{ type: 'text', text: url }] })
      else pushText(tokens, url)
    } else {
      tokens.push({ type: kind === 'strong' ? 'strong' : 'em', children: parseInline(match[1]) })
    }
    rest = rest.slice(match.index + consumed)
  }
  pushText(tokens, rest)
  return tokens
}

/**
 * A message's markup as tokens. An unclosed fence is plain text.
 * @param {string} text
 * @returns {Token[]}
 */
export function parseChat(text) {
  /** @type {Token[]} */
  const tokens = []
  let at = 0
  for (const match of text.matchAll(FENCE)) {
    const index = /** @type {number} */ (match.index)
    tokens.push(...parseInline(text.slice(at, index).replace(/\n$/, '')))
    const code = match[1].replace(FENCE_LINE, '').replace(/\n$/, '')
    tokens.push({ type: 'codeblock', text: code })
    at = index + match[0].length
    if (text[at] === '\n') at += 1
  }
  tokens.push(...parseInline(text.slice(at)))
  return tokens
}

/**
 * DOM nodes for tokens.
 * @param {Token[]} tokens
 * @param {Document} document
 * @returns {DocumentFragment}
 */
export function renderTokens(tokens, document) {
  const fragment = document.createDocumentFragment()
  for (const token of tokens) {
    if (token.type === 'text') {
      fragment.append(document.createTextNode(token.text))
    } else if (token.type === 'code') {
      const code = document.createElement('code')
      code.textContent = token.text
      fragment.append(code)
    } else if (token.type === 'codeblock') {
      const pre = document.createElement('pre')
      const code = document.createElement('code')
      code.textContent = token.text
      pre.append(code)
      fragment.append(pre)
    } else if (token.type === 'link') {
      const link = document.createElement('a')
      link.setAttribute('href', token.href)
      link.setAttribute('rel', LINK_REL)
      link.setAttribute('target', '_blank')
      link.append(renderTokens(token.children, document))
      fragment.append(link)
    } else {
      const element = document.createElement(token.type)
      element.append(renderTokens(token.children, document))
      fragment.append(element)
    }
  }
  return fragment
}

/**
 * A message's text as DOM nodes.
 * @param {string} text
 * @param {Document} document
 */
export function renderChat(text, document) {
  return renderTokens(parseChat(text), document)
}
