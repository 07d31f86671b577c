// Chat beside the typing: the coordinator POSTs messages to the note's chat at a steady rate
// (ChatPoster), as people talking while others type would, and every worker counts which of
// them reached each of its clients as a `chat` frame (chatDeliveries). Our server only.
//
//   POST http://<host>/notes/<uuid>/chat/  {"text": ...}  → 201 {"id": ..., ...}
//
// with the session cookie, a CSRF cookie and its X-CSRFToken header, and the server's Origin:
// what the editor's chat panel sends. Every editor open on the note with ?acks=1 then receives
//   chat(e) := varUint(102) • varString(json(e)),  e = {"kind": "message", "message": {"id": ...}}

import { randomBytes } from 'node:crypto'
import { now } from './client.js'
import { summarize } from './stats.js'

const POST_TIMEOUT_MS = 10000
// About one line of chat.
const FILLER = 'the heading reads better now, shall we move the list under it?'

/** The chat URL of the note a client URL opens: ws://h/ws/notes/<id>/[?...] → http://h/notes/<id>/chat/. */
export function chatUrl (url) {
  const u = new URL(Array.isArray(url) ? url[0] : url)
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:'
  u.pathname = u.pathname.replace(/^\/ws\/notes\//, '/notes/').replace(/\/?$/, '/chat/')
  u.search = ''
  return u.href
}

export class ChatPoster {
  /**
   * Start posting chatPerSecond messages a second to the scenario's first note, from the
   * window's start (warm-up included) to the end of its measured phase, at a fixed period with a
   * random phase. Messages take turns over the scenario's sessions.
   */
  constructor (scenario, window) {
    const { target } = scenario
    this.url = chatUrl(target.urls[0])
    this.cookies = target.cookies && target.cookies.length ? target.cookies : [null]
    this.origin = target.origin
    this.posts = []
    this.inFlight = new Set()
    const period = 1000 / scenario.chatPerSecond
    let due = window.startAt + Math.random() * period
    const fire = () => {
      if (now() >= window.measureUntil) return
      this.post(this.posts.length)
      due += period
      this.timer = setTimeout(fire, Math.max(0, due - now()))
    }
    this.timer = setTimeout(fire, Math.max(0, due - now()))
    this.ended = new Promise((resolve) => setTimeout(resolve, Math.max(0, window.measureUntil - now()) + 5))
  }

  post (n) {
    const csrf = randomBytes(16).toString('hex')
    const session = this.cookies[n % this.cookies.length]
    const headers = {
      'Content-Type': 'application/json',
      Cookie: [session && `sessionid=${session}`, `csrftoken=${csrf}`].filter(Boolean).join('; '),
      'X-CSRFToken': csrf
    }
    if (this.origin) headers.Origin = this.origin
    const record = { n, t: now(), ms: null, status: null, id: null, error: null }
    this.posts.push(record)
    const request = fetch(this.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ text: `bench chat ${n}: ${FILLER}` }),
      signal: AbortSignal.timeout(POST_TIMEOUT_MS)
    })
      .then(async (res) => {
        record.status = res.status
        const body = await res.json().catch(() => null)
        record.ms = now() - record.t
        if (res.status === 201 && body) record.id = body.id
        else record.error = (body && body.error) || `HTTP ${res.status}`
      })
      .catch((err) => {
        record.error = String(err.message || err)
      })
      .finally(() => this.inFlight.delete(request))
    this.inFlight.add(request)
  }

  /** Once the window is over and every POST has been answered: the acknowledged messages. */
  async finished () {
    await this.ended
    clearTimeout(this.timer)
    while (this.inFlight.size) await Promise.all([...this.inFlight])
    return this.posts.filter((p) => p.id !== null).map((p) => ({ id: p.id, t: p.t }))
  }

  /** The figures, from the posts and the workers' chatDeliveries. */
  summary (fromWorkers, keepSamples) {
    const statuses = {}
    for (const p of this.posts) {
      const key = p.status === null ? 'failed' : String(p.status)
      statuses[key] = (statuses[key] || 0) + 1
    }
    const latencies = fromWorkers.flatMap((w) => Array.from(w.latencies))
    const out = {
      sent: this.posts.length,
      acknowledged: this.posts.filter((p) => p.id !== null).length,
      statuses,
      errorSamples: [...new Set(this.posts.filter((p) => p.error).map((p) => p.error))].slice(0, 5),
      postMs: summarize(this.posts.filter((p) => p.ms !== null).map((p) => p.ms)),
      clients: fromWorkers.reduce((n, w) => n + w.clients, 0),
      expected: fromWorkers.reduce((n, w) => n + w.expected, 0),
      delivered: fromWorkers.reduce((n, w) => n + w.delivered, 0),
      clientsMissingAny: fromWorkers.reduce((n, w) => n + w.clientsMissingAny, 0),
      framesIn: fromWorkers.reduce((n, w) => n + w.framesIn, 0),
      // From the start of the POST to the frame's arrival, for every (message, client).
      latencyMs: summarize(latencies)
    }
    if (keepSamples) {
      const round = (x) => Math.round(x * 1000) / 1000
      out.latencySamplesMs = latencies.map(round)
      out.postSamplesMs = this.posts.filter((p) => p.ms !== null).map((p) => round(p.ms))
    }
    return out
  }
}

/** Which acknowledged `posts` ({id, t}) reached each of `clients` (synced ones only). */
export function chatDeliveries (clients, posts) {
  const out = { clients: 0, expected: 0, delivered: 0, clientsMissingAny: 0, framesIn: 0, latencies: [] }
  for (const client of clients) {
    if (!client.synced) continue
    out.clients++
    out.framesIn += client.counters.chatIn
    let missing = 0
    for (const { id, t } of posts) {
      out.expected++
      const at = client.chatSeen.get(id)
      if (at === undefined) {
        missing++
        continue
      }
      out.delivered++
      out.latencies.push(at - t)
    }
    if (missing) out.clientsMissingAny++
  }
  out.latencies = Float64Array.from(out.latencies)
  return out
}

/** Whether `client` has received every chat message in `ids`. */
export const chatReached = (client, ids) => ids.every((id) => client.chatSeen.has(id))
