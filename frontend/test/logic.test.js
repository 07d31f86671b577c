// The editor's pure logic, without a browser: `npm test` (node --test).
// Real frames are built with the same lib0/y-protocols encoders y-websocket uses.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'

import { SaveTracker, classifyOutgoing, savedMessageHandler } from '../src/saves.js'
import { closeReason, reconnectDelay, shouldReconnect } from '../src/connection.js'
import { groupPeople, initials, lightColor, typingSentence } from '../src/presence.js'
import { titleToCommit } from '../src/title.js'
import { connectionText } from '../src/status.js'

/** @param {(encoder: encoding.Encoder) => void} write */
function frame(write) {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 0)
  write(encoder)
  return encoding.toUint8Array(encoder)
}

const doc = new Y.Doc()
doc.getText('content').insert(0, 'hello')
const step1 = frame((e) => syncProtocol.writeSyncStep1(e, doc))
const fullStep2 = frame((e) => syncProtocol.writeSyncStep2(e, doc))
const emptyStep2 = frame((e) => syncProtocol.writeSyncStep2(e, doc, Y.encodeStateVector(doc)))
const update = frame((e) => syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(doc)))

test('outgoing frames are classified as the server counts them', () => {
  assert.equal(classifyOutgoing(step1), null)
  assert.equal(classifyOutgoing(fullStep2), 'step2')
  assert.equal(classifyOutgoing(emptyStep2), 'empty-step2')
  assert.equal(classifyOutgoing(update), 'update')
  assert.equal(classifyOutgoing(new Uint8Array([1, 0])), null) // awareness
  assert.equal(classifyOutgoing('text'), null)
})

test('saved only once every message that carried content is acknowledged', () => {
  const tracker = new SaveTracker()
  const socket = {}
  tracker._current = socket
  const live = { connected: true, synced: true }
  tracker.sent(socket, step1)
  tracker.sent(socket, emptyStep2) // the answer to the server's step 1: nothing to store
  assert.equal(tracker.state(live), 'saved')
  tracker.localChange()
  assert.equal(tracker.state(live), 'unsaved')
  tracker.sent(socket, update)
  assert.equal(tracker.state(live), 'saving')
  assert.ok(tracker.hasPending())
  tracker.acked(socket, 1) // counts the empty step 2 only
  assert.equal(tracker.state(live), 'saving')
  tracker.acked(socket, 2)
  assert.equal(tracker.state(live), 'saved')
  assert.ok(!tracker.hasPending())
  assert.equal(tracker.state({ connected: true, synced: false }), 'idle')
  assert.equal(tracker.state({ connected: false, synced: false }), 'idle')
})

test('edits made offline stay unsaved until a new socket answers with its step 2', () => {
  const tracker = new SaveTracker()
  const first = {}
  tracker._current = first
  tracker.sent(first, fullStep2)
  tracker.localChange()
  tracker.sent(first, update) // sent, never acknowledged
  tracker.socketClosed(first)
  assert.equal(tracker.state({ connected: false, synced: false }), 'unsaved')
  tracker.localChange() // typed while offline
  const second = {}
  tracker._current = second
  tracker.sent(second, update) // a live edit before the step 2 does not cover older ones
  assert.equal(tracker.state({ connected: true, synced: false }), 'unsaved')
  tracker.sent(second, fullStep2)
  assert.equal(tracker.state({ connected: true, synced: true }), 'saving')
  tracker.acked(second, 2)
  assert.equal(tracker.state({ connected: true, synced: true }), 'saved')
})

test('a viewer counts nothing, as the server counts nothing from a viewer', () => {
  const tracker = new SaveTracker()
  const socket = {}
  tracker._current = socket
  tracker.counting = false
  tracker.sent(socket, fullStep2)
  assert.equal(tracker._count(socket).sent, 0)
  assert.ok(tracker.currentSocketCarried())
})

test('the saved(n) handler reads n and writes no reply', () => {
  const tracker = new SaveTracker()
  const socket = {}
  tracker._current = socket
  tracker.sent(socket, fullStep2)
  const message = encoding.createEncoder()
  encoding.writeVarUint(message, 100)
  encoding.writeVarUint(message, 1)
  const decoder = decoding.createDecoder(encoding.toUint8Array(message))
  decoding.readVarUint(decoder) // the provider reads the type first
  const reply = encoding.createEncoder()
  savedMessageHandler(tracker)(reply, decoder, { ws: /** @type {any} */ (socket) })
  assert.equal(encoding.length(reply), 0)
  assert.equal(tracker.state({ connected: true, synced: true }), 'saved')
})

test('the reconnect countdown follows y-websocket backoff', () => {
  assert.equal(reconnectDelay(0, 10000), 200)
  assert.equal(reconnectDelay(3, 10000), 1600)
  assert.equal(reconnectDelay(10, 10000), 10000)
  assert.deepEqual(connectionText({ kind: 'reconnecting', at: 3500, reason: '' }, 1000, true),
    { label: 'Reconnecting', detail: ' in 3 s…' })
  assert.equal(closeReason(4404, ''), 'This note was deleted')
  assert.equal(closeReason(4403, 'Your access to this note was removed'),
    'Your access to this note was removed')
})

test('limits are final closes with a message of their own', () => {
  for (const code of [1009, 4400, 4413, 4429]) assert.equal(shouldReconnect({ code }), false)
  for (const code of [1000, 1006, 1011, 4500]) assert.equal(shouldReconnect({ code }), true)
  assert.match(closeReason(1009, ''), /too large to send/)
  assert.match(closeReason(4413, ''), /too large to save/)
  assert.match(closeReason(4429, ''), /Too many/)
})

test('presence shows each person once, however many tabs', () => {
  const alice = { id: 1, name: 'Alice Martin', color: 'hsl(10, 65%, 45%)' }
  const bob = { id: 2, name: 'bob', color: 'hsl(200, 65%, 45%)' }
  const states = new Map([
    [11, { user: alice, idle: false }],
    [12, { user: alice, idle: true }],
    [21, { user: bob, idle: true }],
    [31, {}], // a client that has not published a user yet
  ])
  const people = groupPeople(states, 1, (client) => client === 21)
  assert.deepEqual(people.map((p) => [p.name, p.self, p.tabs, p.idle, p.typing]), [
    ['Alice Martin', true, 2, false, false],
    ['bob', false, 1, true, true],
  ])
  assert.equal(typingSentence(people), 'bob is typing…')
  assert.equal(initials('Alice Martin'), 'AM')
  assert.equal(initials('bob'), 'B')
  assert.equal(initials('élodie.durand'), 'ÉD')
  assert.equal(lightColor('hsl(10, 65%, 45%)'), 'hsla(10, 65%, 45%, 0.25)')
})

test('a title commits trimmed, bounded, and only when it changed', () => {
  assert.equal(titleToCommit('  New   name ', 'Old'), 'New name')
  assert.equal(titleToCommit('Old', 'Old'), null)
  assert.equal(titleToCommit('   ', 'Old'), null)
  assert.equal(titleToCommit('x'.repeat(300), 'Old')?.length, 200)
})
