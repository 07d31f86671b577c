// The Yjs WebSocket protocol (y-protocols v1), as much of it as a load generator needs.
//
//   message      := varUint(type) • body
//   sync(m)      := varUint(0) • syncBody
//   syncBody     := varUint(0) • varUint8Array(stateVector)   step 1
//                 | varUint(1) • varUint8Array(update)        step 2
//                 | varUint(2) • varUint8Array(update)        update
//   awareness(a) := varUint(1) • varUint8Array(entries)
//   entries      := varUint(n) • (varUint(clientID) • varUint(clock) • varString(json)){n}
//   chat(e)      := varUint(102) • varString(json(e))                 ours, only with ?acks=1
//
// Any other type (our server's durable-save ack is type 100) is reported as UNKNOWN and ignored.
// A chat event (docs/protocol.md) is decoded, so a scenario that chats can count who got what.

import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

export const MESSAGE_SYNC = 0
export const MESSAGE_AWARENESS = 1
export const MESSAGE_CHAT = 102

export const SYNC_STEP1 = 0
export const SYNC_STEP2 = 1
export const SYNC_UPDATE = 2

const encodeSync = (subType, payload) => {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MESSAGE_SYNC)
  encoding.writeVarUint(encoder, subType)
  encoding.writeVarUint8Array(encoder, payload)
  return encoding.toUint8Array(encoder)
}

export const encodeStep1 = (stateVector) => encodeSync(SYNC_STEP1, stateVector)
export const encodeStep2 = (update) => encodeSync(SYNC_STEP2, update)
export const encodeUpdate = (update) => encodeSync(SYNC_UPDATE, update)

/** Encode one awareness entry; `state` null announces that the client has gone. */
export const encodeAwareness = (clientID, clock, state) => {
  const inner = encoding.createEncoder()
  encoding.writeVarUint(inner, 1)
  encoding.writeVarUint(inner, clientID)
  encoding.writeVarUint(inner, clock)
  encoding.writeVarString(inner, JSON.stringify(state))
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS)
  encoding.writeVarUint8Array(encoder, encoding.toUint8Array(inner))
  return encoding.toUint8Array(encoder)
}

/**
 * Decode a frame into { type, subType?, payload? }. Awareness payloads are left undecoded:
 * the generator never needs their contents. Throws on a truncated frame.
 */
export const decodeMessage = (data) => {
  const decoder = decoding.createDecoder(data)
  const type = decoding.readVarUint(decoder)
  if (type === MESSAGE_SYNC) {
    const subType = decoding.readVarUint(decoder)
    return { type, subType, payload: decoding.readVarUint8Array(decoder) }
  }
  if (type === MESSAGE_CHAT) return { type, event: JSON.parse(decoding.readVarString(decoder)) }
  return { type }
}
