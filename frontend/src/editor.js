/**
 * The CodeMirror 6 editor, bound to the shared `content` text by y-codemirror.next.
 *
 * Undo and redo go through a Y.UndoManager scoped to this tab's own edits, so undo never reverts
 * what someone else typed. CodeMirror's own history is deliberately not loaded.
 */

import { Compartment, EditorState, Prec } from '@codemirror/state'
import {
  EditorView, drawSelection, dropCursor, highlightSpecialChars, keymap, placeholder,
} from '@codemirror/view'
import { defaultKeymap } from '@codemirror/commands'
import { HighlightStyle, LanguageSupport, syntaxHighlighting } from '@codemirror/language'
import { markdownKeymap, markdownLanguage, pasteURLAsLink } from '@codemirror/lang-markdown'
import { tags } from '@lezer/highlight'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'

/** Markdown colours from the page's CSS variables, so dark mode needs nothing extra. */
const markdownHighlight = HighlightStyle.define([
  { tag: tags.heading1, fontWeight: '700', fontSize: '1.3em' },
  { tag: tags.heading2, fontWeight: '700', fontSize: '1.15em' },
  { tag: [tags.heading3, tags.heading4, tags.heading5, tags.heading6], fontWeight: '700' },
  { tag: tags.strong, fontWeight: '700' },
  { tag: tags.emphasis, fontStyle: 'italic' },
  { tag: tags.strikethrough, textDecoration: 'line-through' },
  { tag: [tags.link, tags.url], color: 'var(--accent)' },
  { tag: tags.monospace, fontFamily: 'var(--mono)', color: 'var(--md-code)' },
  { tag: tags.quote, color: 'var(--muted)', fontStyle: 'italic' },
  { tag: [tags.processingInstruction, tags.meta, tags.contentSeparator], color: 'var(--muted)' },
  { tag: tags.labelName, color: 'var(--md-mark)' },
  { tag: [tags.angleBracket, tags.tagName, tags.attributeName], color: 'var(--md-mark)' },
  { tag: tags.comment, color: 'var(--muted)' },
])

const theme = EditorView.theme({
  '&': { height: '100%', backgroundColor: 'var(--surface)', color: 'var(--text)' },
  '&.cm-focused': { outline: 'none' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.6', overflow: 'auto' },
  // Room above the first line for remote cursor labels.
  '.cm-content': { padding: '1.4em 0 40vh', caretColor: 'var(--text)' },
  '.cm-line': { padding: '0 16px' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--text)' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground':
    { backgroundColor: 'var(--selection)' },
  '.cm-placeholder': { color: 'var(--muted)', fontStyle: 'italic' },
})

/** yUndoManagerKeymap calls the undo manager directly; a read-only editor must not change. */
const guardedUndoKeymap = yUndoManagerKeymap.map((binding) => ({
  ...binding,
  run: (/** @type {EditorView} */ view) => view.state.readOnly || Boolean(binding.run && binding.run(view)),
}))

/**
 * @typedef {object} Editor
 * @property {EditorView} view
 * @property {(editable: boolean) => void} setEditable
 */

/**
 * @param {object} options
 * @param {HTMLElement} options.parent
 * @param {import('yjs').Text} options.ytext
 * @param {import('y-protocols/awareness').Awareness} options.awareness
 * @param {import('yjs').UndoManager} options.undoManager
 * @param {boolean} options.editable
 * @returns {Editor}
 */
export function createEditor({ parent, ytext, awareness, undoManager, editable }) {
  const access = new Compartment()
  /** @param {boolean} on */
  const accessExtensions = (on) => [EditorState.readOnly.of(!on), EditorView.editable.of(on)]

  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: ytext.toString(),
      extensions: [
        new LanguageSupport(markdownLanguage),
        syntaxHighlighting(markdownHighlight),
        Prec.high(keymap.of(markdownKeymap)),
        keymap.of([...guardedUndoKeymap, ...defaultKeymap]),
        pasteURLAsLink,
        highlightSpecialChars(),
        drawSelection(),
        dropCursor(),
        EditorView.lineWrapping,
        placeholder('Start writing…'),
        EditorView.contentAttributes.of({
          'aria-label': 'Note text (Markdown)',
          'aria-describedby': 'editor-help',
          spellcheck: 'true',
        }),
        theme,
        access.of(accessExtensions(editable)),
        yCollab(ytext, awareness, { undoManager }),
      ],
    }),
  })
  return {
    view,
    setEditable(on) {
      view.dispatch({ effects: access.reconfigure(accessExtensions(on)) })
    },
  }
}
