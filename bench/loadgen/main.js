#!/usr/bin/env node
// Load generator coordinator: `node loadgen/main.js scenario.json [--out result.json]`.
//
// Spreads the scenario's clients over worker processes, walks them through
// connect → warm-up → measure → quiesce → evaluate → late join → close, and prints one JSON
// result. The scenario file names the target server (URLs per note, session cookies, Origin)
// and the load; see bench/scenarios.py, which writes these files.

import { fork } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ChatPoster } from './chat.js'
import { now } from './client.js'
import { summarize } from './stats.js'

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url))
const CLIENT_ID_BASE = 100000
const CALIBRATION_ROUNDS = 7

// Above these, the generator's own lateness is large enough to distort what it measures.
const LAG_WARN = { editLatenessP99Ms: 10, timerLatenessP99Ms: 10, cpuPercent: 85 }

const defaults = {
  workers: 2,
  authorsPerNote: 1,
  readersPerNote: 0,
  rate: 5,
  editChars: 3,
  atEnd: false,
  mode: 'timed',
  warmupMs: 3000,
  measureMs: 15000,
  quiesceTimeoutMs: 10000,
  connectTimeoutMs: 20000,
  connectConcurrency: 16,
  connectSpreadMs: 0,
  awareness: true,
  lateJoinNotes: 10,
  pingPongStallMs: 1000,
  fullClientsPerNote: Infinity,
  // Whether a note's full replicas are its last clients rather than its first (see planClients).
  fullClientsLast: false,
  // How the other clients follow the note: 'meta' (update clock ranges) or 'arrival' (only
  // when the server's answer arrives; for scenarios without authors). See client.js.
  otherClientsTrack: 'meta',
  // Also return every latency sample (ms, to the µs), for a runner that pools several runs.
  keepLatencySamples: false,
  // 'ws': a raw WebSocket per client; 'http': the HTTP transport (server-sent events and POSTs,
  // docs/protocol.md), which only our server has. See client.js and http.js.
  transport: 'ws',
  // Open every client with ?acks=1, as the editor does: it then also receives our own messages
  // (saved, access, chat: docs/protocol.md). Our server only.
  acks: false,
  // Chat messages a second POSTed to the first note while the clients type (chat.js); 0: none.
  // Our server only, and it needs `acks` to deliver them.
  chatPerSecond: 0
}

const warn = (line) => process.stderr.write(`WARNING: ${line}\n`)

const headersFor = (target, i) => {
  const headers = {}
  if (target.cookies && target.cookies.length) headers.Cookie = `sessionid=${target.cookies[i % target.cookies.length]}`
  if (target.origin) headers.Origin = target.origin
  return headers
}

function planClients (scenario) {
  const { target, authorsPerNote, readersPerNote, workers } = scenario
  const perWorker = Array.from({ length: workers }, () => [])
  let index = 0
  let authorTurn = 0
  let readerTurn = 0
  const perNote = authorsPerNote + readersPerNote
  const total = target.urls.length * perNote
  // A full replica integrates everything it is sent. In a join storm that is a large note:
  // tens of milliseconds of its worker's time (about 200 ms on a worker's first, unoptimised
  // run), during which that worker's other joiners see nothing. Joining last, the replicas
  // still check the text but no longer delay the joins being timed.
  const isFull = scenario.fullClientsLast
    ? (k) => k >= perNote - scenario.fullClientsPerNote
    : (k) => k < scenario.fullClientsPerNote
  // A note's URL may be a list (one per server process): its clients take turns over it.
  target.urls.forEach((urls, noteIndex) => {
    const choices = Array.isArray(urls) ? urls : [urls]
    for (let k = 0; k < perNote; k++) {
      const role = k < authorsPerNote ? 'author' : 'reader'
      const worker = role === 'author' ? authorTurn++ % workers : readerTurn++ % workers
      perWorker[worker].push({
        index,
        clientID: CLIENT_ID_BASE + index,
        noteIndex,
        url: scenario.acks ? `${choices[k % choices.length]}?acks=1` : choices[k % choices.length],
        headers: headersFor(target, index),
        role,
        // fullClientsPerNote clients of a note keep a real replica; see client.js.
        track: isFull(k) ? 'doc' : scenario.otherClientsTrack,
        rate: scenario.rate,
        pingPongStarter: scenario.mode === 'pingpong' && index === 0,
        spreadOffsetMs: scenario.connectSpreadMs > 0 ? (index / total) * scenario.connectSpreadMs : 0
      })
      index++
    }
  })
  return perWorker
}

class Worker {
  constructor (id) {
    this.id = id
    this.child = fork(WORKER, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.waiting = new Map()
    this.child.on('message', (message) => {
      const resolve = this.waiting.get(message.type)
      if (resolve) {
        this.waiting.delete(message.type)
        resolve(message)
      }
    })
    this.exited = new Promise((resolve) => this.child.on('exit', resolve))
  }

  /** Send `message` and wait (bounded) for the reply of type `replyType`. */
  ask (message, replyType, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(replyType)
        reject(new Error(`worker ${this.id}: no '${replyType}' within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiting.set(replyType, (m) => {
        clearTimeout(timer)
        resolve(m)
      })
      this.child.send(message)
    })
  }
}

async function calibrate (worker) {
  let best = null
  for (let i = 0; i < CALIBRATION_ROUNDS; i++) {
    const t0 = now()
    const { t } = await worker.ask({ type: 'clock' }, 'clock', 5000)
    const t1 = now()
    if (!best || t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: t - (t0 + t1) / 2 }
  }
  return best
}

function lagWarnings (lag) {
  const lines = []
  lag.forEach((l, i) => {
    if (l.editLatenessMs.p99 !== null && l.editLatenessMs.p99 > LAG_WARN.editLatenessP99Ms) {
      lines.push(`generator worker ${i}: edit timers late p99 ${l.editLatenessMs.p99} ms (max ${l.editLatenessMs.max} ms)`)
    }
    if (l.timerLatenessMs.p99 !== null && l.timerLatenessMs.p99 > LAG_WARN.timerLatenessP99Ms) {
      lines.push(`generator worker ${i}: probe timer late p99 ${l.timerLatenessMs.p99} ms (max ${l.timerLatenessMs.max} ms)`)
    }
    if (l.cpuPercent > LAG_WARN.cpuPercent) lines.push(`generator worker ${i}: ${l.cpuPercent}% of a core`)
  })
  return lines
}

function convergence (digests, lateJoins) {
  const byNote = new Map()
  for (const d of digests) {
    if (!byNote.has(d.noteIndex)) byNote.set(d.noteIndex, new Set())
    byNote.get(d.noteIndex).add(d.sha1)
  }
  const diverged = [...byNote.entries()].filter(([, set]) => set.size > 1).map(([note, set]) => ({ note, variants: set.size }))
  const lateMismatch = lateJoins.filter((j) => !j.ok || !byNote.get(j.noteIndex) || !byNote.get(j.noteIndex).has(j.sha1) || byNote.get(j.noteIndex).size !== 1)
  return {
    converged: diverged.length === 0,
    divergedNotes: diverged,
    lateJoiners: lateJoins.length,
    lateJoinersMatching: lateJoins.length - lateMismatch.length,
    lateJoinFailures: lateMismatch.slice(0, 5)
  }
}

export async function run (scenario) {
  scenario = { ...defaults, ...scenario }
  if (!['ws', 'http'].includes(scenario.transport)) throw new Error(`unknown transport '${scenario.transport}'`)
  if (scenario.chatPerSecond > 0 && !scenario.acks) throw new Error('chatPerSecond needs acks: only editors with ?acks=1 receive chat')
  if (scenario.otherClientsTrack === 'arrival' && scenario.authorsPerNote > 0) {
    // Such clients never read edits, so every delivery to them would count as lost.
    throw new Error("otherClientsTrack 'arrival' is for scenarios without authors")
  }
  const plan = planClients(scenario)
  const workers = plan.map((_, i) => new Worker(i))
  const result = { name: scenario.name, target: scenario.target.kind, scenario: { ...scenario, target: { kind: scenario.target.kind, notes: scenario.target.urls.length } } }
  try {
    const clocks = await Promise.all(workers.map(calibrate))
    result.clockOffsetMaxMs = Math.max(...clocks.map((c) => Math.abs(c.offset)))

    if (scenario.prefill) {
      const first = scenario.target.urls[0]
      const reply = await workers[0].ask({
        type: 'prefill',
        scenario,
        url: Array.isArray(first) ? first[0] : first,
        headers: headersFor(scenario.target, 0),
        clientID: CLIENT_ID_BASE - 1000,
        ...scenario.prefill
      }, 'prefilled', 300000)
      result.prefill = reply
      if (!reply.ok) throw new Error(`prefill failed: ${reply.error}`)
    }

    const connectBudget = scenario.connectTimeoutMs + scenario.connectSpreadMs + 120000
    const connected = (await Promise.all(workers.map((w, i) => w.ask({ type: 'init', scenario, clients: plan[i] }, 'connected', connectBudget))))
      .flatMap((m) => m.results)
    const ok = connected.filter((c) => c.ok)
    const failures = connected.filter((c) => !c.ok)
    result.connect = {
      clients: connected.length,
      ok: ok.length,
      failed: failures.length,
      failureSamples: failures.slice(0, 5),
      connectMs: summarize(ok.map((c) => c.connectMs)),
      syncMs: summarize(ok.map((c) => c.syncMs))
    }
    if (failures.length) warn(`${failures.length} of ${connected.length} clients failed to connect, e.g. ${failures[0].error}`)
    if (ok.length === 0) throw new Error('no client connected')

    const startAt = now() + 500
    const window = { type: 'start', startAt, warmupUntil: startAt + scenario.warmupMs, measureUntil: startAt + scenario.warmupMs + scenario.measureMs }
    result.window = { startAt: window.startAt, warmupUntil: window.warmupUntil, measureUntil: window.measureUntil }
    // The coordinator posts the chat, so the workers' timers and CPU figures stay typing-20's.
    const chat = scenario.chatPerSecond > 0 ? new ChatPoster(scenario, window) : null
    const editReplies = await Promise.all(workers.map((w) => w.ask(window, 'edits', scenario.warmupMs + scenario.measureMs + 60000)))
    const chatPosts = chat ? await chat.finished() : []

    const targets = {}
    const editsByNote = {}
    let measuredEdits = 0
    let allEdits = 0
    for (const reply of editReplies) {
      for (const e of reply.edits) {
        const clock = reply.finalClocks[e.clientID]
        ;(targets[e.noteIndex] ||= []).push([e.clientID, clock])
        const keep = []
        e.measured.forEach((m, i) => { if (m) keep.push(i) })
        allEdits += e.clocks.length
        measuredEdits += keep.length
        ;(editsByNote[e.noteIndex] ||= []).push({
          clientID: e.clientID,
          clocks: Float64Array.from(keep, (i) => e.clocks[i]),
          times: Float64Array.from(keep, (i) => e.times[i])
        })
      }
    }
    const authorCount = ok.length && scenario.target.urls.length * scenario.authorsPerNote
    result.edits = {
      total: allEdits,
      measured: measuredEdits,
      targetRatePerSecond: scenario.mode === 'pingpong' ? null : authorCount * scenario.rate,
      achievedRatePerSecond: Math.round((measuredEdits / scenario.measureMs) * 1000 * 10) / 10,
      pingPongServes: editReplies.map((r) => r.pingPongServes).filter((x) => x !== null)
    }

    const chatIds = chatPosts.map((p) => p.id)
    const quiesced = await Promise.all(workers.map((w) => w.ask({ type: 'quiesce', targets, chatIds, timeoutMs: scenario.quiesceTimeoutMs }, 'quiesced', scenario.quiesceTimeoutMs + 30000)))
    result.quiescence = { ms: Math.round(Math.max(...quiesced.map((q) => q.ms))), clientsBehind: quiesced.reduce((n, q) => n + q.behind.length, 0) }

    const evaluated = await Promise.all(workers.map((w) => w.ask({ type: 'evaluate', editsByNote, chatPosts }, 'results', 120000)))
    const latencies = []
    let expected = 0
    let delivered = 0
    const counters = {}
    const closes = {}
    for (const r of evaluated) {
      expected += r.expected
      delivered += r.delivered
      for (const x of r.latencies) latencies.push(x)
      for (const [k, v] of Object.entries(r.counters)) counters[k] = (counters[k] || 0) + v
      for (const [k, v] of Object.entries(r.unexpectedCloses)) closes[k] = (closes[k] || 0) + v
    }
    result.latencyMs = summarize(latencies)
    if (scenario.keepLatencySamples) result.latencySamplesMs = latencies.map((x) => Math.round(x * 1000) / 1000)
    result.delivered = delivered
    result.expected = expected
    result.deliveredRatio = expected ? Math.round((delivered / expected) * 1e6) / 1e6 : null
    result.counters = counters
    result.unexpectedCloses = closes
    result.clientErrors = evaluated.flatMap((r) => r.errors).slice(0, 10)
    if (chat) {
      result.chat = chat.summary(evaluated.map((r) => r.chat), scenario.keepLatencySamples)
      if (result.chat.acknowledged < result.chat.sent) warn(`chat: ${result.chat.acknowledged} of ${result.chat.sent} messages answered 201 (${JSON.stringify(result.chat.statuses)})`)
      if (result.chat.delivered < result.chat.expected) warn(`chat: delivered ${result.chat.delivered} of ${result.chat.expected} (message, client) pairs`)
    }

    // One fresh client per note (on the last server process) must see the clients' text.
    const joiners = scenario.target.urls.slice(0, scenario.lateJoinNotes).map((urls, noteIndex) => ({
      index: -1 - noteIndex,
      clientID: CLIENT_ID_BASE - 1 - noteIndex,
      noteIndex,
      url: Array.isArray(urls) ? urls[urls.length - 1] : urls,
      headers: headersFor(scenario.target, noteIndex)
    }))
    const late = await workers[0].ask({ type: 'latejoin', joiners }, 'latejoin', 60000 + joiners.length * scenario.connectTimeoutMs)
    result.correctness = convergence(evaluated.flatMap((r) => r.digests), late.digests)
    if (!result.correctness.converged) warn(`documents diverged on ${result.correctness.divergedNotes.length} note(s)`)
    if (result.correctness.lateJoinersMatching !== result.correctness.lateJoiners) warn('a late joiner saw a different text from the clients')
    if (delivered < expected) warn(`delivered ${delivered} of ${expected} (edit, receiver) pairs`)

    result.generator = { workers: editReplies.map((r) => r.lag) }
    result.generator.warnings = lagWarnings(result.generator.workers)
    result.generator.warnings.forEach(warn)
  } finally {
    await Promise.all(workers.map((w) => w.ask({ type: 'close' }, 'closed', 10000).catch(() => null)))
    await Promise.all(workers.map((w) => Promise.race([w.exited, new Promise((resolve) => setTimeout(resolve, 3000))])))
    workers.forEach((w) => { if (w.child.exitCode === null) w.child.kill('SIGKILL') })
  }
  return result
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, flag, out] = process.argv.slice(2)
  if (!file) {
    process.stderr.write('usage: node loadgen/main.js scenario.json [--out result.json]\n')
    process.exit(2)
  }
  const result = await run(JSON.parse(readFileSync(file, 'utf8')))
  const text = JSON.stringify(result, null, 2)
  if (flag === '--out' && out) writeFileSync(out, text + '\n')
  else process.stdout.write(text + '\n')
}
