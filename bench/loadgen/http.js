// The HTTP transport for bench clients (docs/protocol.md, "The HTTP transport"): the editor's
// own HttpSocket (frontend/src/httpsocket.js), so the bench measures the client users get, not
// a second implementation of it. It speaks Node 20's built-in fetch; what this module adds is
// the connection pool each client's requests go through, the CSRF cookie, and a clean end.
//
// One undici Agent per client. A bench client stands for one person's browser, and a browser
// keeps its own connections: its stream holds one for the whole session and its POSTs reuse a
// second, kept alive. With the process-wide default pool, the 10 to 250 clients of a worker
// would share their POST connections. That pool has no cap (undici's default `connections:
// null`: a request that finds every connection busy, streams included, opens another), so nothing
// would queue behind the streams; but the server would see fewer connections than the same number
// of browsers open, and an idle session would look cheaper than it is. The Agent's own pool is
// left uncapped as well: a stream being replaced, or a POST retried while its answer is lost,
// briefly needs a third connection.
//
// undici (npm) is pinned to the version Node 20.20.2 bundles, so its Agent is the dispatcher
// the built-in fetch expects.

import { randomBytes } from 'node:crypto'
import { Agent } from 'undici'
import { HttpSocket } from '../../frontend/src/httpsocket.js'

const CLOSED = 3
// How long a closed client's last POST (X-Notes-End) may take before its connections are cut.
const END_WAIT_MS = 5000
const POLL_MS = 25

export class HttpTransport {
  /**
   * Open the session's stream. `headers` are the WebSocket client's (Cookie with the Django
   * session, Origin); the CSRF cookie and token are made here: Django accepts any 32 letters
   * and digits as both, as long as they match.
   */
  constructor (url, headers) {
    this.agent = new Agent()
    this.postsInFlight = 0
    this.released = false
    const csrf = randomBytes(16).toString('hex')
    const cookie = [headers.Cookie, `csrftoken=${csrf}`].filter(Boolean).join('; ')
    this.socket = new HttpSocket(url, {
      csrfToken: csrf,
      headers: { ...headers, Cookie: cookie },
      fetch: (input, init) => this.fetch(input, init)
    })
  }

  fetch (input, init) {
    const request = fetch(input, { ...init, dispatcher: this.agent })
    if (init && init.method === 'POST') {
      this.postsInFlight++
      request.then(() => this.postsInFlight--, () => this.postsInFlight--)
    }
    return request
  }

  get readyState () {
    return this.socket.readyState
  }

  get bufferedAmount () {
    return this.socket.bufferedAmount
  }

  send (bytes) {
    this.socket.send(bytes)
  }

  /** End the session (the socket posts X-Notes-End), then drop this client's connections. */
  close (code) {
    this.socket.close(code)
    const deadline = Date.now() + END_WAIT_MS
    const release = () => {
      // Checked from a timer, after every pending promise callback: no POST is in flight and
      // none is about to start.
      if (this.postsInFlight > 0 && Date.now() < deadline) setTimeout(release, POLL_MS)
      else this.terminate()
    }
    setTimeout(release, 0)
  }

  /** Whether the session is over and this client holds no connection any more. */
  get finished () {
    return this.socket.readyState === CLOSED && this.released
  }

  /** Cut every connection at once. */
  terminate () {
    if (this.released) return
    this.released = true
    if (this.socket.readyState !== CLOSED) this.socket.close(1006)
    this.agent.destroy().catch(() => {})
  }
}
