"""
Structural checks of Yjs v1 updates, made before an update from a client touches a document.

Pure: no Django, no I/O. Yrs (behind pycrdt) trusts the structure of what it decodes. An update
that Yjs itself never produces can decode without error and still break the document for
good: a zero-length struct makes every later encode of the document panic, so every joiner's
sync and every reload of the stored log would fail. (Yrs itself writes zero-length *deleted*
items, so only gc and skip structs must have a length.) Other shapes would leave the server and
JavaScript clients with different documents: client ids JavaScript cannot represent, clocks
Yrs cannot hold, text that is not UTF-8. `check_update` refuses them all with a
ProtocolError, which closes only the offending socket. docs/protocol.md lists the rules.

The format (yjs UpdateEncoderV1), as read here:

    update      := varUint(n) • client_run^n • delete_set
    client_run  := varUint(structs) • varUint(client) • varUint(clock) • struct^structs
    struct      := uint8(info) • (gc | skip | item)      ; by info & 0x1F: 0 gc, 10 skip
    item        := [id if info & 0x80] • [id if info & 0x40]
                   • [parent • [varString if info & 0x20] if info & 0xC0 == 0] • content
    parent      := varUint(1) • varString(root name) | varUint(0) • id
    id          := varUint(client) • varUint(clock)
    delete_set  := varUint(n) • (varUint(client) • varUint(ranges) • delete_range^ranges)^n
    delete_range := varUint(clock) • varUint(len)
"""

from dataclasses import dataclass

from realtime.protocol import (
    ProtocolError,
    read_var_bytes,
    read_var_string,
    read_var_uint,
    write_var_uint,
)

# Yrs keeps clocks as u32; JavaScript clients keep client ids below 2**53 (read_var_uint
# refuses anything larger).
MAX_CLOCK = 2**32 - 1
MAX_ANY_DEPTH = 32

# Struct kinds: info & 0x1F.
GC = 0
SKIP = 10
CONTENT_DELETED = 1
CONTENT_JSON = 2
CONTENT_BINARY = 3
CONTENT_STRING = 4
CONTENT_EMBED = 5
CONTENT_FORMAT = 6
CONTENT_TYPE = 7
CONTENT_ANY = 8
CONTENT_DOC = 9

HAS_ORIGIN = 0x80
HAS_RIGHT_ORIGIN = 0x40
HAS_PARENT_SUB = 0x20

# Shared type references (ContentType); the XML element and hook carry a name.
TYPE_REFS = range(7)
NAMED_TYPE_REFS = {3, 5}

# lib0's `any` encoding: the tag byte of each value.
ANY_UNDEFINED, ANY_NULL, ANY_INT, ANY_FLOAT32 = 127, 126, 125, 124
ANY_FLOAT64, ANY_BIGINT, ANY_FALSE, ANY_TRUE = 123, 122, 121, 120
ANY_STRING, ANY_OBJECT, ANY_ARRAY, ANY_BYTES = 119, 118, 117, 116
_FIXED_ANY_SIZES = {ANY_UNDEFINED: 0, ANY_NULL: 0, ANY_FALSE: 0, ANY_TRUE: 0}
_FIXED_ANY_SIZES |= {ANY_FLOAT32: 4, ANY_FLOAT64: 8, ANY_BIGINT: 8}


@dataclass(frozen=True)
class UpdateShape:
    """What an update carries, per client: where its structs start and end, and where its
    deletes end."""

    starts: dict[int, int]
    ends: dict[int, int]
    delete_ends: dict[int, int]

    def is_known_to(self, state_vector: dict[int, int]) -> bool:
        """Whether a document with this state vector already holds everything here: every
        struct within it and nothing to delete (a duplicate, safe to drop)."""
        return not self.delete_ends and all(
            end <= state_vector.get(client, 0) for client, end in self.ends.items()
        )

    def integrated_exactly(self, before: dict[int, int], after: dict[int, int]) -> bool:
        """Whether applying this to a document at `before` led to `after` by integrating all of
        it and nothing else: no struct left waiting for a dependency, no earlier waiting
        struct brought in, every delete on a struct the document holds."""
        for client in before.keys() | after.keys() | self.ends.keys():
            old, new = before.get(client, 0), after.get(client, 0)
            if client not in self.ends:
                if new != old:
                    return False
            elif self.starts[client] > old or new != max(old, self.ends[client]):
                return False
        return all(end <= after.get(client, 0) for client, end in self.delete_ends.items())


def check_update(update: bytes) -> UpdateShape:
    """Raise ProtocolError unless `update` is a well-formed Yjs v1 update Yrs can hold safely;
    return its shape."""
    starts, ends, pos = _check_structs(update, 0)
    delete_ends, pos = _check_delete_set(update, pos)
    if pos != len(update):
        raise ProtocolError(f"{len(update) - pos} unexpected trailing bytes after the update")
    return UpdateShape(starts=starts, ends=ends, delete_ends=delete_ends)


def decode_state_vector(state_vector: bytes) -> dict[int, int]:
    """A state vector (`varUint(n) • (varUint(client) • varUint(clock))^n`) as a dict."""
    count, pos = read_var_uint(state_vector, 0)
    clocks = {}
    for _ in range(count):
        client, pos = read_var_uint(state_vector, pos)
        clocks[client], pos = read_var_uint(state_vector, pos)
    if pos != len(state_vector):
        raise ProtocolError("trailing bytes after the state vector")
    return clocks


def encode_state_vector(clocks: dict[int, int]) -> bytes:
    """The state vector `decode_state_vector` reads (entries in any order)."""
    parts = [write_var_uint(len(clocks))]
    for client, clock in clocks.items():
        parts += (write_var_uint(client), write_var_uint(clock))
    return b"".join(parts)


def _check_structs(data: bytes, pos: int) -> tuple[dict[int, int], dict[int, int], int]:
    runs, pos = read_var_uint(data, pos)
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    for _ in range(runs):
        count, pos = read_var_uint(data, pos)
        client, pos = read_var_uint(data, pos)
        clock, pos = read_var_uint(data, pos)
        if count:
            starts[client] = min(clock, starts.get(client, clock))
        for _ in range(count):
            length, pos = _check_struct(data, pos)
            clock += length
            if clock > MAX_CLOCK:
                raise ProtocolError("struct clock out of range")
        if count:
            ends[client] = max(clock, ends.get(client, 0))
    return starts, ends, pos


def _check_struct(data: bytes, pos: int) -> tuple[int, int]:
    """Check one struct; return (its length in clock ticks, next position)."""
    if pos >= len(data):
        raise ProtocolError("truncated struct")
    info = data[pos]
    pos += 1
    kind = info & 0x1F
    if kind in (GC, SKIP):
        length, pos = read_var_uint(data, pos)
        if length < 1:
            raise ProtocolError("zero-length gc or skip struct")
        return length, pos
    if info & HAS_ORIGIN:
        pos = _check_id(data, pos)
    if info & HAS_RIGHT_ORIGIN:
        pos = _check_id(data, pos)
    if not info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN):
        named, pos = read_var_uint(data, pos)
        if named == 1:
            _, pos = read_var_string(data, pos)
        elif named == 0:
            pos = _check_id(data, pos)
        else:
            raise ProtocolError("bad parent reference")
        if info & HAS_PARENT_SUB:
            _, pos = read_var_string(data, pos)
    return _check_content(data, pos, kind)


def _check_content(data: bytes, pos: int, kind: int) -> tuple[int, int]:
    if kind == CONTENT_DELETED:
        return read_var_uint(data, pos)
    if kind == CONTENT_JSON:
        count, pos = read_var_uint(data, pos)
        for _ in range(count):
            _, pos = read_var_string(data, pos)
        return count, pos
    if kind == CONTENT_BINARY:
        _, pos = read_var_bytes(data, pos)
        return 1, pos
    if kind == CONTENT_STRING:
        text, pos = read_var_string(data, pos)
        return len(text.encode("utf-16-le")) // 2, pos  # clocks count UTF-16 code units
    if kind == CONTENT_EMBED:
        _, pos = read_var_string(data, pos)
        return 1, pos
    if kind == CONTENT_FORMAT:
        _, pos = read_var_string(data, pos)
        _, pos = read_var_string(data, pos)
        return 1, pos
    if kind == CONTENT_TYPE:
        ref, pos = read_var_uint(data, pos)
        if ref not in TYPE_REFS:
            raise ProtocolError(f"unknown shared type {ref}")
        if ref in NAMED_TYPE_REFS:
            _, pos = read_var_string(data, pos)
        return 1, pos
    if kind == CONTENT_ANY:
        count, pos = read_var_uint(data, pos)
        for _ in range(count):
            pos = _check_any(data, pos, 0)
        return count, pos
    if kind == CONTENT_DOC:
        _, pos = read_var_string(data, pos)
        return 1, _check_any(data, pos, 0)
    raise ProtocolError(f"unknown struct kind {kind}")


def _check_id(data: bytes, pos: int) -> int:
    _, pos = read_var_uint(data, pos)
    clock, pos = read_var_uint(data, pos)
    if clock > MAX_CLOCK:
        raise ProtocolError("id clock out of range")
    return pos


def _check_any(data: bytes, pos: int, depth: int) -> int:
    # Yrs reads nested values recursively: bound the depth before it does.
    if depth > MAX_ANY_DEPTH:
        raise ProtocolError("value nested too deeply")
    if pos >= len(data):
        raise ProtocolError("truncated value")
    tag = data[pos]
    pos += 1
    if tag in _FIXED_ANY_SIZES:
        end = pos + _FIXED_ANY_SIZES[tag]
        if end > len(data):
            raise ProtocolError("truncated value")
        return end
    if tag == ANY_INT:
        return _skip_var_int(data, pos)
    if tag == ANY_STRING:
        return read_var_string(data, pos)[1]
    if tag == ANY_BYTES:
        return read_var_bytes(data, pos)[1]
    if tag == ANY_ARRAY:
        count, pos = read_var_uint(data, pos)
        for _ in range(count):
            pos = _check_any(data, pos, depth + 1)
        return pos
    if tag == ANY_OBJECT:
        count, pos = read_var_uint(data, pos)
        for _ in range(count):
            _, pos = read_var_string(data, pos)
            pos = _check_any(data, pos, depth + 1)
        return pos
    raise ProtocolError(f"unknown value tag {tag}")


def _skip_var_int(data: bytes, pos: int) -> int:
    """lib0's signed varInt: 6 value bits and a sign bit first, then 7 bits a byte."""
    for i in range(8):
        if pos + i >= len(data):
            raise ProtocolError("truncated varInt")
        if data[pos + i] < 0x80:
            return pos + i + 1
    raise ProtocolError("varInt too long")


def _check_delete_set(data: bytes, pos: int) -> tuple[dict[int, int], int]:
    clients, pos = read_var_uint(data, pos)
    ends: dict[int, int] = {}
    for _ in range(clients):
        client, pos = read_var_uint(data, pos)
        ranges, pos = read_var_uint(data, pos)
        for _ in range(ranges):
            clock, pos = read_var_uint(data, pos)
            length, pos = read_var_uint(data, pos)
            if clock + length > MAX_CLOCK:
                raise ProtocolError("bad delete range")
            ends[client] = max(clock + length, ends.get(client, 0))
    return ends, pos
