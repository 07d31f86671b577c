// A synthetic editing trace the size of the B4 benchmark (Kleppmann's LaTeX paper: about
// 260,000 single-character operations leaving about 100,000 characters), replayed into a
// Y.Text one operation per transaction, as a typist produces them.
//
// The typist types in runs (a few words), deletes in shorter runs (backspacing over a typo or
// a phrase), and now and then moves the cursor elsewhere; run lengths are set so the text ends
// near `chars` after `ops` operations. Deterministic for a given seed.

const LETTERS = 'abcdefghijklmnopqrstuvwxyz      \n.,'

/** A small seeded PRNG (mulberry32): the same trace on every run. */
function random (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Replay the trace into `text` (a Y.Text of `doc`); returns { ops, inserts, deletes }. */
export function replayTypingTrace (doc, text, { ops = 260000, chars = 100000, seed = 4 } = {}) {
  const next = random(seed)
  const meanDeleteRun = 8
  // inserts - deletes = chars and inserts + deletes = ops, in runs of these mean lengths:
  const meanInsertRun = meanDeleteRun * (ops + chars) / (ops - chars)
  const runLength = (mean) => 1 + Math.floor(-Math.log(1 - next()) * (mean - 1))
  let cursor = 0
  let inserts = 0
  let deletes = 0
  let typing = true
  while (inserts + deletes < ops) {
    if (next() < 0.02) cursor = Math.floor(next() * (text.length + 1)) // move elsewhere
    let run = Math.min(runLength(typing ? meanInsertRun : meanDeleteRun), ops - inserts - deletes)
    for (; run > 0; run--) {
      if (!typing && cursor > 0) {
        doc.transact(() => text.delete(cursor - 1, 1))
        cursor--
        deletes++
      } else {
        doc.transact(() => text.insert(cursor, LETTERS[Math.floor(next() * LETTERS.length)]))
        cursor++
        inserts++
      }
    }
    typing = !typing
  }
  return { ops: inserts + deletes, inserts, deletes }
}
