#!/usr/bin/env python3
"""Malformed input from the outside, written from SPEC.md §3-§4,
docs/protocol.md and proto/ alone: a real portald (`--payments simulated`)
gets a little real data (a service, a day of blocks with capacity, clients
with portal logins, a session, a booking) and then, over real TCP, thousands
of mutated requests — every method of the proto services (Health, Portal,
Admin) with a mutated payload and valid credentials, mutated envelopes on
throwaway connections, and envelope edge values.

What is checked (the contract's promises): the server never dies; every
request with a parseable envelope and a non-zero id is answered exactly once
with that id; codes are 0-16; a non-OK answer has an UPPER_SNAKE_CASE reason
and an empty payload, an OK one a payload of the method's response type;
nothing is INTERNAL or UNKNOWN; an undecodable payload and a string field with
invalid UTF-8 or a NUL are INVALID_ARGUMENT / MALFORMED_PAYLOAD; an
unparseable envelope gets an id-0 MALFORMED_FRAME frame and a close; a
bystander connection keeps getting the same GetDay of a date the fuzz never
names; portald's stderr has no crash lines and no secrets.

Where the contract leaves a choice (a known field with the wrong wire type,
groups, varints over 64 bits, invalid UTF-8 in the envelope's own strings, an
invalid string overwritten by a later copy) both outcomes are accepted and
only the general rules apply.

Wire-level parseability is judged by a small wire parser below and cross-
checked with Python's protobuf: a case where the two disagree is treated as
ambiguous.

Usage: fuzz_interop.py PATH_TO_PORTALD [SEED] — deterministic for a seed;
one line per check, then 'N passed, N failed'; exits 1 if any check failed.
Set FUZZ_DUMP=FILE to also write every failing case in full there (the
console shows inputs over 512 bytes shortened, with their sha256).
"""
import ctypes
import datetime
import hashlib
import os
import random
import re
import signal
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_check import Checks, Connection, generate_messages, request, kill_if_running, start_portald, wait_for_port  # noqa: E402

DEFAULT_SEED = 20251008
BATCHES = 12
PER_METHOD = 22           # payload mutations per method per batch
SLOW = {"portal.v1.Portal/Login": 2, "portal.v1.Admin/CreatePortalLogin": 2}  # password hashing is slow in debug
ENVELOPES_PER_BATCH = 100  # mutated envelopes per batch, each on its own connection
KEY = "fuzz-interop-admin-key-7c1e5b93d0a4"
PASSWORD = "fuzz-interop-password-41d2"
HEALTH = "portal.v1.Health/Check"
REASON = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
M64 = (1 << 64) - 1
CRASH = re.compile(r"fatal error|panic|segmentation fault|assertion failed|precondition failed|stack dump|"
                   r"backtrace|swift runtime failure|SIGSEGV|SIGABRT|SIGBUS|SIGILL|SIGTRAP|\bcritical\b|"
                   r"double free|heap-use-after-free|malloc\(\)|corrupted", re.I)

# --------------------------------------------------------------------------------------------------
# Wire encoding


def varint(value, size=0):
    """`value` (mod 2^64) as a varint of at least `size` bytes (padding makes it overlong)."""
    value &= M64
    groups = []
    while True:
        groups.append(value & 0x7F)
        value >>= 7
        if not value:
            break
    while len(groups) < size:
        groups.append(0)
    return bytes([g | 0x80 for g in groups[:-1]] + [groups[-1]])


def tag(number, wire, size=0):
    return varint((number << 3) | wire, size)


def field(number, wire, value):
    """One field; `value` is an int for wire types 0/1/5, bytes for 2 and 3 (a group's inner bytes)."""
    if wire == 0:
        return tag(number, 0) + varint(value)
    if wire == 1:
        return tag(number, 1) + struct.pack("<Q", value & M64)
    if wire == 5:
        return tag(number, 5) + struct.pack("<I", value & 0xFFFFFFFF)
    if wire == 2:
        return tag(number, 2) + varint(len(value)) + value
    if wire == 3:
        return tag(number, 3) + value + tag(number, 4)
    raise ValueError(wire)


def frame(body):
    body = body if isinstance(body, bytes) else body.SerializeToString()
    return struct.pack(">I", len(body)) + body


# --------------------------------------------------------------------------------------------------
# Wire parsing: is a byte string a message of a given type, and which string fields are bad?

class Undecodable(Exception):
    pass


def read_varint(data, pos):
    """(value mod 2^64, new position, bytes used, over 64 bits?)"""
    value = shift = 0
    start = pos
    while True:
        if pos >= len(data):
            raise Undecodable("truncated varint at byte %d" % start)
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value & M64, pos, pos - start, value > M64
        if pos - start >= 10:
            raise Undecodable("varint longer than 10 bytes at byte %d" % start)


def read_field(data, pos, notes):
    """One field at `pos`: (number, wire type, value, new position). Groups are skipped (value None)."""
    key, pos, used, over = read_varint(data, pos)
    number, wire = key >> 3, key & 7
    if used > 5 or over or key > 0xFFFFFFFF or number > (1 << 29) - 1:
        notes.add("tag varint of %d bytes / field number %d" % (used, number))
    if number == 0:
        raise Undecodable("field number 0")
    if wire == 0:
        value, pos, used, over = read_varint(data, pos)
        if over:
            notes.add("varint over 64 bits")
        return number, 0, value, pos
    if wire in (1, 5):
        size = 8 if wire == 1 else 4
        if pos + size > len(data):
            raise Undecodable("truncated fixed%d" % (size * 8))
        return number, wire, data[pos:pos + size], pos + size
    if wire == 2:
        length, pos, used, over = read_varint(data, pos)
        if over or pos + length > len(data):
            raise Undecodable("length %d past the end" % length)
        if used > 5:
            notes.add("length prefix of %d bytes" % used)  # valid varint; protobuf-c reads at most 5
        return number, 2, data[pos:pos + length], pos + length
    if wire == 3:
        notes.add("group")
        stack = [number]
        while stack:
            if pos >= len(data):
                raise Undecodable("unterminated group")
            key, pos, used, over = read_varint(data, pos)
            inner, w = key >> 3, key & 7
            if inner == 0:
                raise Undecodable("field number 0 in a group")
            if w == 3:
                stack.append(inner)
            elif w == 4:
                if stack.pop() != inner:
                    raise Undecodable("mismatched end group")
            elif w == 0:
                pos = read_varint(data, pos)[1]
            elif w in (1, 5):
                pos += 8 if w == 1 else 4
                if pos > len(data):
                    raise Undecodable("truncated fixed in a group")
            elif w == 2:
                length, pos, used, over = read_varint(data, pos)
                if over or pos + length > len(data):
                    raise Undecodable("length past the end in a group")
                pos += length
            else:
                raise Undecodable("wire type %d in a group" % w)
        return number, 3, None, pos
    if wire == 4:
        raise Undecodable("end group without a start")
    raise Undecodable("wire type %d" % wire)


def expected_wires(f):
    t = f.type
    if t in (f.TYPE_STRING, f.TYPE_BYTES, f.TYPE_MESSAGE, f.TYPE_GROUP):
        return {2}
    wires = {1} if t in (f.TYPE_DOUBLE, f.TYPE_FIXED64, f.TYPE_SFIXED64) else \
        {5} if t in (f.TYPE_FLOAT, f.TYPE_FIXED32, f.TYPE_SFIXED32) else {0}
    if f.label == f.LABEL_REPEATED:
        wires.add(2)  # packed and unpacked are both valid for a repeated scalar
    return wires


class Scan:
    def __init__(self):
        self.notes = set()     # reasons the outcome is a free choice of the decoder
        self.strings = {}      # path -> values in wire order (the last one wins)
        self.entries = 0


def walk(data, desc, prefix, scan):
    pos = 0
    while pos < len(data):
        number, wire, value, pos = read_field(data, pos, scan.notes)
        f = desc.fields_by_number.get(number) if desc is not None else None
        if f is None or wire == 3:
            continue
        name = prefix + f.name
        if wire not in expected_wires(f):
            scan.notes.add("wire type %d for %s" % (wire, name))
            continue
        if f.type == f.TYPE_STRING:
            scan.strings.setdefault(name, []).append(value)
        elif f.type == f.TYPE_MESSAGE:
            if f.message_type.GetOptions().map_entry:
                scan.entries += 1
                walk(value, f.message_type, "%s[%d]." % (name, scan.entries), scan)
            else:
                walk(value, f.message_type, name + ".", scan)
        elif f.type == f.TYPE_BYTES:
            pass
        elif wire == 2:  # a packed repeated scalar
            if 0 in expected_wires(f):
                inner = 0
                while inner < len(value):
                    _, inner, _, over = read_varint(value, inner)
                    if over:
                        scan.notes.add("varint over 64 bits")
            elif len(value) % (8 if 1 in expected_wires(f) else 4):
                raise Undecodable("packed fixed field of a broken length")


def good_string(value):
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in value


def python_may_parse(data):
    """False for a map entry holding a group: Python's upb protobuf (4.21) crashes on those (SIGSEGV)."""
    for number, wire, value, _, _ in top_fields(data):
        if wire == 2 and number == 3:
            pos, notes = 0, set()
            try:
                while pos < len(value):
                    pos = read_field(value, pos, notes)[3]
            except Undecodable:
                return False
            if "group" in notes:
                return False
    return True


def classify(data, desc, cls):
    """('undecodable' | 'ambiguous' | 'bad_string' | 'clean', why, bad string paths)."""
    scan = Scan()
    bad = []
    try:
        walk(data, desc, "", scan)
        kind, why = "clean", ""
    except Undecodable as error:
        kind, why = "undecodable", str(error)
    if kind == "clean":
        for name, values in scan.strings.items():
            if not good_string(values[-1]):
                bad.append(name)
            elif any(not good_string(v) for v in values[:-1]):
                scan.notes.add("invalid string overwritten by a later copy of " + name)
        if scan.notes:
            kind, why = "ambiguous", "; ".join(sorted(scan.notes))
        elif bad:
            kind, why = "bad_string", ", ".join(bad)
    if not any(f.message_type and f.message_type.GetOptions().map_entry for f in desc.fields) \
            or python_may_parse(data):
        try:
            cls.FromString(data)
            python_parses = True
        except Exception:
            python_parses = False
    else:
        python_parses = kind != "undecodable"  # not asked: keep the wire parser's verdict
    if kind == "undecodable" and python_parses:
        kind, why = "ambiguous", why + "; but Python's protobuf parses it"
    if kind == "clean" and not python_parses:
        kind, why = "ambiguous", "Python's protobuf does not parse it"
    return kind, why, bad


def top_fields(data):
    """The top-level fields of `data` as (number, wire, value, start, end), as far as they parse."""
    out, pos, notes = [], 0, set()
    while pos < len(data):
        start = pos
        try:
            number, wire, value, pos = read_field(data, pos, notes)
        except Undecodable:
            break
        out.append((number, wire, value, start, pos))
    return out


# --------------------------------------------------------------------------------------------------
# Mutations

BAD_STRINGS = [b"\xc3\x28", b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82",
               b"\x80", b"\x00", b"a\x00", b"\xf8\x88\x80\x80\x80", b"\xef\xbf\xbe\xc3"]
UNKNOWN_NUMBERS = [6, 7, 15, 16, 99, 100, 2047, 2048, 18999, 19000, 19999, 262143, (1 << 29) - 1]
ODD_VALUES = [2, 255, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 63 - 1, 2 ** 63, M64, -1, -(2 ** 31)]
HUGE_LENGTHS = [2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 63, M64, 0x7FFFFFFFFFFF]


def leaves(desc, path=(), depth=0):
    """Every field of `desc`, nested messages included, as a tuple of FieldDescriptors."""
    for f in desc.fields:
        yield path + (f,)
        if f.type == f.TYPE_MESSAGE and depth < 2:
            yield from leaves(f.message_type, path + (f,), depth + 1)


def wrap(path, leaf):
    """`leaf` (the bytes of the path's last field) inside one occurrence of each enclosing message."""
    for f in reversed(path[:-1]):
        leaf = field(f.number, 2, leaf)
    return leaf


def base_string(message, path):
    for f in path:
        if f.containing_type.GetOptions().map_entry or f.label == f.LABEL_REPEATED and len(path) > 1:
            return b""
        message = getattr(message, f.name)
    return message.encode() if isinstance(message, str) else b""


class Mutator:
    def __init__(self, rng):
        self.rng = rng
        self.kinds = ["bitflip", "bitflip", "truncate", "extra", "insert", "bytes", "wrong_wire", "unknown_field",
                      "overlong", "huge_length", "deep_nest", "bad_utf8", "bad_utf8", "repeat", "out_of_range",
                      "packed", "garbage", "empty", "splice"]

    def place(self, base, extra):
        """`extra` appended (usually), prepended, or inserted at a field boundary of `base`."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.6 or not base:
            return base + extra
        if roll < 0.8:
            return extra + base
        cuts = [end for *_, end in top_fields(base)]
        cut = rng.choice(cuts) if cuts else 0
        return base[:cut] + extra + base[cut:]

    def mutate(self, base, desc, message, depth=0):
        """(mutated bytes, label)"""
        rng = self.rng
        kind = rng.choice(self.kinds if depth == 0 else self.kinds[:-1])
        paths = list(leaves(desc))
        scalars = [p for p in paths if p[-1].type not in (p[-1].TYPE_STRING, p[-1].TYPE_BYTES, p[-1].TYPE_MESSAGE)]
        strings = [p for p in paths if p[-1].type == p[-1].TYPE_STRING]
        lens = [p for p in paths if p[-1].type in (p[-1].TYPE_STRING, p[-1].TYPE_BYTES, p[-1].TYPE_MESSAGE)]
        if kind == "bitflip":
            data = bytearray(base or b"\x00")
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            return bytes(data), kind
        if kind == "truncate":
            if not base:
                return b"", kind
            cut = rng.randrange(len(base))
            return (base[:cut], kind) if rng.random() < 0.75 else (base[cut + 1:], "truncate_front")
        if kind == "extra":
            return base + rng.randbytes(rng.randint(1, 24)), kind
        if kind == "insert":
            at = rng.randint(0, len(base))
            return base[:at] + rng.randbytes(rng.randint(1, 12)) + base[at:], kind
        if kind == "bytes":
            data = bytearray(base or b"\x00")
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.choice([0x00, 0xFF, 0x80, 0x7F, 0x08, 0x0A, 0x12])
            return bytes(data), kind
        if kind == "wrong_wire" and paths:
            path = rng.choice(paths)
            wire = rng.choice(sorted({0, 1, 2, 3, 5} - expected_wires(path[-1])))
            value = rng.randbytes(rng.randint(0, 8)) if wire == 2 else \
                field(rng.choice(UNKNOWN_NUMBERS), 0, 1) if wire == 3 else rng.choice(ODD_VALUES)
            if wire == 3:
                leaf = field(path[-1].number, 3, value if rng.random() < 0.5 else b"")
            else:
                leaf = field(path[-1].number, wire, value)
            return self.place(base, wrap(path, leaf)), "wrong_wire:%s=%d" % (path[-1].name, wire)
        if kind in ("unknown_field", "wrong_wire"):
            number = rng.choice(UNKNOWN_NUMBERS)
            while desc.fields_by_number.get(number) is not None:
                number += 1
            wire = rng.choice([0, 1, 2, 5, 2, 3])
            value = {0: rng.choice(ODD_VALUES), 1: rng.getrandbits(64), 5: rng.getrandbits(32),
                     2: rng.randbytes(rng.randint(0, 40)), 3: field(1, 0, 5) + field(2, 2, b"x")}[wire]
            return self.place(base, field(number, wire, value)), "unknown_field:%d/%d" % (number, wire)
        if kind == "overlong":
            roll = rng.random()
            path = rng.choice(scalars) if scalars else None
            value = rng.choice([0, 1, 5, 300, 2 ** 40]) if path else 1
            if roll < 0.3:
                size, label = rng.randint(2, 10), "overlong_valid_varint"
                body = varint(value, size)
            elif roll < 0.6:
                size = rng.randint(11, 20)
                body, label = varint(value, size), "varint_%d_bytes" % size
            elif roll < 0.75:
                body, label = b"\xff" * 9 + bytes([rng.choice([0x02, 0x7F, 0x40])]), "varint_over_64_bits"
            else:
                size = rng.choice([6, 7, 10, 11, 12])
                leaf = tag(path[-1].number if path else 1, 0, size) + varint(value)
                return self.place(base, wrap(path, leaf) if path else leaf), "overlong_tag_%d_bytes" % size
            leaf = (tag(path[-1].number, 0) if path else tag(rng.choice(UNKNOWN_NUMBERS), 0)) + body
            if rng.random() < 0.3 and lens:
                lpath = rng.choice(lens)
                content = b"walk" if lpath[-1].type != lpath[-1].TYPE_MESSAGE else b""
                size = rng.randint(2, 10)
                leaf, path, label = tag(lpath[-1].number, 2) + varint(len(content), size) + content, lpath, \
                    "overlong_length_%d_bytes" % size
            return self.place(base, wrap(path, leaf) if path else leaf), label
        if kind == "huge_length":
            path = lens and rng.choice(lens)
            number = path[-1].number if path else rng.choice(UNKNOWN_NUMBERS)
            length = rng.choice(HUGE_LENGTHS + [rng.randint(1, 64)])
            leaf = tag(number, 2) + varint(length) + rng.randbytes(rng.randint(0, 8))
            if path and len(path) > 1 and rng.random() < 0.5:
                leaf = wrap(path, leaf)
            return base + leaf, "huge_length:%d" % length
        if kind == "deep_nest":
            depth_ = rng.choice([10, 100, 1000, 3000])
            inner = rng.randbytes(rng.randint(0, 6))
            groups = rng.random() < 0.2
            for _ in range(min(depth_, 200) if groups else depth_):
                n = rng.choice([1, 2, 3, 5, 9])
                inner = field(n, 3, inner) if groups else field(n, 2, inner)
            target = rng.choice(lens + [None]) if lens else None
            leaf = wrap(target, field(target[-1].number, 2, inner)) if target else \
                field(rng.choice(UNKNOWN_NUMBERS[:6]), 2, inner)
            return self.place(base, leaf), "deep_nest:%d%s%s" % (
                depth_, " groups" if groups else "", (" in " + ".".join(f.name for f in target)) if target else "")
        if kind == "bad_utf8" and strings:
            path = rng.choice(strings)
            if rng.random() < 0.4:
                original = base_string(message, path) or b"x"
                at = rng.randint(0, len(original))
                value = original[:at] + rng.choice([b"\x00", b"\x00evil", b"\xff", b"\xc3"]) + original[at:]
            else:
                value = rng.choice(BAD_STRINGS)
                if rng.random() < 0.3:
                    value = base_string(message, path) + value
            leaf = wrap(path, field(path[-1].number, 2, value))
            return self.place(base, leaf), "bad_utf8:" + ".".join(f.name for f in path)
        if kind == "repeat":
            fields_ = top_fields(base)
            if not fields_ or rng.random() < 0.25:
                return base * rng.randint(2, 5), "repeat_message"
            number, wire, value, start, end = rng.choice(fields_)
            if rng.random() < 0.5:
                copy = base[start:end]
            elif wire == 0:
                copy = field(number, 0, rng.choice(ODD_VALUES + [0, 1, 7]))
            elif wire == 2:
                copy = field(number, 2, rng.choice([b"", b"walk", b"2031-01-01", b"09:00", value[::-1] or b"z"]))
            else:
                copy = base[start:end]
            return self.place(base, copy * rng.randint(1, 3)), "repeat_field:%d" % number
        if kind in ("out_of_range", "packed", "bad_utf8", "repeat") and scalars:
            path = rng.choice(scalars)
            f = path[-1]
            if kind == "packed":
                values = [rng.choice(ODD_VALUES + [1, 2, 3, 999999]) for _ in range(rng.randint(0, 4))]
                roll = rng.random()
                if roll < 0.5:
                    packed = b"".join(varint(v) for v in values)
                    if rng.random() < 0.2:
                        packed += b"\x80"  # a truncated varint inside the packed run
                    leaf = field(f.number, 2, packed)
                    label = "packed"
                elif roll < 0.8:
                    leaf = b"".join(field(f.number, 0, v) for v in values)
                    label = "unpacked"
                else:
                    leaf = field(f.number, 2, b"".join(varint(v) for v in values)) + b"".join(
                        field(f.number, 0, v) for v in values)
                    label = "packed+unpacked"
                return self.place(base, wrap(path, leaf)), "%s:%s" % (label, f.name)
            value = rng.choice(ODD_VALUES)
            return self.place(base, wrap(path, field(f.number, 0, value))), "out_of_range:%s=%d" % (f.name, value)
        if kind == "empty":
            return b"", kind
        if kind == "splice" and depth == 0:
            data, first = self.mutate(base, desc, message, 1)
            data, second = self.mutate(data, desc, message, 1)
            return data, first + "+" + second
        return rng.randbytes(rng.randint(1, 64)), "garbage"


# --------------------------------------------------------------------------------------------------

def main():
    portald = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_SEED
    rng = random.Random(seed)
    check = Checks()
    started = time.time()
    fuzz_s = 0.0
    print("seed %d" % seed)

    with tempfile.TemporaryDirectory() as tmp:
        generate_messages(os.path.join(tmp, "gen"))
        from portal.v1 import admin_pb2, envelope_pb2, health_pb2, portal_pb2, types_pb2
        modules = {m.DESCRIPTOR.name: m for m in (admin_pb2, envelope_pb2, health_pb2, portal_pb2, types_pb2)}

        def cls(desc):
            return getattr(modules[desc.file.name], desc.name)

        # Every method of every service in the .proto files.
        METHODS = {}
        for module in (health_pb2, portal_pb2, admin_pb2):
            for service in module.DESCRIPTOR.services_by_name.values():
                for m in service.methods:
                    METHODS["%s/%s" % (service.full_name, m.name)] = (m.input_type, m.output_type)

        log_path = os.path.join(tmp, "portald.log")
        log = open(log_path, "wb")
        server, port = start_portald(
            portald, os.path.join(tmp, "data", "portal.sqlite"),
            "--admin-key", KEY, "--payments", "simulated", "--log-level", "trace", stderr=log,
            preexec_fn=lambda: ctypes.CDLL(None).prctl(1, signal.SIGKILL))  # PR_SET_PDEATHSIG: dies with us
        secrets = {"admin key": KEY, "password": PASSWORD}
        failures = {}   # check name -> list of case descriptions
        counts = {}

        def fail(category, text):
            failures.setdefault(category, []).append(text)

        def count(category, n=1):
            counts[category] = counts.get(category, 0) + n

        long_inputs = {}  # sha256 prefix -> the full bytes of an input shown shortened

        def hexed(data):
            if len(data) <= 512:
                return data.hex()
            digest = hashlib.sha256(data).hexdigest()[:16]
            long_inputs[digest] = data
            return "%s...(%d bytes, sha256 %s)" % (data[:128].hex(), len(data), digest)

        def show(r):
            return "id=%d code=%d reason=%s details=%s message=%r payload=%s" % (
                r.id, r.status.code, r.status.reason, dict(r.status.details), r.status.message[:160], hexed(r.payload))

        def generic(r, method, what):
            """The rules every answer follows. `what` names the input for a failure report."""
            s = r.status
            if not 0 <= s.code <= 16:
                fail("code", "%s -> %s" % (what, show(r)))
            if s.code in (2, 13):
                fail("internal", "%s -> %s" % (what, show(r)))
            if s.code != 0 and not REASON.match(s.reason):
                fail("reason", "%s -> %s" % (what, show(r)))
            if s.code == 0 and s.reason:
                fail("reason", "OK with a reason: %s -> %s" % (what, show(r)))
            if s.code != 0 and r.payload:
                fail("payload", "non-OK with a payload: %s -> %s" % (what, show(r)))
            if s.code == 0 and method in METHODS:
                try:
                    cls(METHODS[method][1]).FromString(r.payload)
                except Exception as error:
                    fail("payload", "OK payload is not a %s (%s): %s -> %s" % (
                        METHODS[method][1].name, error, what, show(r)))
            for name, secret in list(secrets.items()):
                if secret and secret in s.message + "".join(s.details.values()):
                    fail("secret", "%s in the status: %s -> %s" % (name, what, show(r)))

        def connect(data=b""):
            conn = Connection(port)
            conn.sock.settimeout(30)  # logins hash passwords; a debug build is slow
            conn.send_raw(data)
            return conn

        def closed(conn):
            try:
                conn.sock.settimeout(5)
                return conn.sock.recv(1) == b""
            except (ConnectionResetError, BrokenPipeError):
                return True
            except socket.timeout:
                return False

        next_id = [0]

        def fresh_id():
            next_id[0] += 1
            return next_id[0]

        def call(conn, method, message=None, token=KEY, metadata=None, id=None):
            envelope = request(fresh_id() if id is None else id, method, message, token)
            envelope.metadata.update(metadata or {})
            conn.send(envelope)
            return conn.receive()

        def ok(conn, method, message, token=KEY):
            r = call(conn, method, message, token)
            if r.status.code != 0:
                raise SystemExit("setup: %s failed: %s" % (method, show(r)))
            return cls(METHODS[method][1]).FromString(r.payload)

        def pipelined(conn, frames):
            """Sends (id, frame) pairs at once; answers by id (lists, to see duplicates)."""
            conn.send_raw(b"".join(f for _, f in frames))
            want, answers = {i for i, _ in frames}, {}
            while want - set(answers):
                r = conn.receive()
                answers.setdefault(r.id, []).append(r)
            return answers

        try:
            admin = wait_for_port(port, server, "portald")
            admin.sock.settimeout(30)

            # ---------------------------------------------------------------- a little real data
            # Fixed future dates, so that a seed gives the same inputs on any day (until then).
            D1, D2, D3 = "2031-03-10", "2031-09-22", "2031-03-11"  # the fuzz's day, the bystander's, CopyDay's target
            assert datetime.date.fromisoformat(D1) > datetime.date.today() + datetime.timedelta(days=2)
            walk_ = types_pb2.ServiceDefaults(service_code="walk", duration_minutes=60, price_cents=1500,
                                              currency="gbp", notes="fuzz")
            ok(admin, "portal.v1.Admin/UpsertService", admin_pb2.UpsertServiceRequest(service=walk_))
            blocks = []
            for start, end, label in (("09:00", "10:00", "Fuzz A"), ("11:00", "12:00", "Fuzz B"),
                                      ("13:00", "14:00", "Fuzz C"), ("15:00", "16:00", "Fuzz D")):
                blocks.append(ok(admin, "portal.v1.Admin/CreateBlock", admin_pb2.CreateBlockRequest(
                    date=D1, start_time=start, end_time=end, label=label)).block.block_id)
            for b in blocks[:3]:
                ok(admin, "portal.v1.Admin/SetCapacity", admin_pb2.SetCapacityRequest(
                    block_id=b, service_code="walk", capacity=1000, allow_overlap=True))
            B1, B2, B3, B4 = blocks
            bystander_blocks = set()
            for start, end, cap in (("08:00", "09:30", 7), ("17:00", "18:00", 3)):
                b = ok(admin, "portal.v1.Admin/CreateBlock", admin_pb2.CreateBlockRequest(
                    date=D2, start_time=start, end_time=end, label="Bystander %s" % start)).block.block_id
                ok(admin, "portal.v1.Admin/SetCapacity", admin_pb2.SetCapacityRequest(
                    block_id=b, service_code="walk", capacity=cap))
                bystander_blocks.add(b)
            clients = {}
            for name in ("fuzzmain", "fuzzbye", "fuzzuser", "fuzzvictim", "fuzznologin"):
                clients[name] = ok(admin, "portal.v1.Admin/CreateClient", admin_pb2.CreateClientRequest(
                    name="Fuzz " + name, email=name + "@example.com", phone="+44 20 7946 0000",
                    can_self_reschedule=True)).client.client_id
            answers = pipelined(admin, [(900 + n, frame(request(900 + n, "portal.v1.Admin/CreatePortalLogin",
                                        admin_pb2.CreatePortalLoginRequest(client_id=clients[name], username=name,
                                                                           password=PASSWORD), KEY)))
                                        for n, name in enumerate(("fuzzmain", "fuzzbye", "fuzzuser", "fuzzvictim"))])
            if any(v[0].status.code for v in answers.values()):
                raise SystemExit("setup: CreatePortalLogin failed: %s" % [show(v[0]) for v in answers.values()])
            answers = pipelined(admin, [(950 + n, frame(request(950 + n, "portal.v1.Portal/Login", portal_pb2.LoginRequest(
                username=name, password=PASSWORD)))) for n, name in enumerate(("fuzzmain", "fuzzbye"))])
            session = portal_pb2.LoginResponse.FromString(answers[950][0].payload).session_token
            bye_token = [portal_pb2.LoginResponse.FromString(answers[951][0].payload).session_token]
            if not session or not bye_token[0]:
                raise SystemExit("setup: Login failed")
            secrets["session token"] = session
            secrets["logout session token"] = bye_token[0]
            hold1 = ok(admin, "portal.v1.Portal/StartCheckout", portal_pb2.StartCheckoutRequest(
                service_code="walk", block_id=B1, expected_price_cents=1500), session)
            booking = ok(admin, "portal.v1.Portal/FinalizeCheckout", portal_pb2.FinalizeCheckoutRequest(
                hold_token=hold1.hold_token, payment_intent_id=hold1.payment_intent_id), session).booking.booking_id
            hold2 = ok(admin, "portal.v1.Portal/StartCheckout", portal_pb2.StartCheckoutRequest(
                service_code="walk", block_id=B2), session)
            protected_clients = {clients["fuzzmain"], clients["fuzzbye"]}
            protected_users = {"fuzzmain", "fuzzbye"}

            bases = {
                HEALTH: health_pb2.HealthCheckRequest(service="portal.v1.Admin"),
                "portal.v1.Portal/Login": portal_pb2.LoginRequest(username="fuzzuser", password=PASSWORD),
                "portal.v1.Portal/Logout": portal_pb2.LogoutRequest(),
                "portal.v1.Portal/ListBlocks": portal_pb2.ListBlocksRequest(date=D1, service_code="walk"),
                "portal.v1.Portal/StartCheckout": portal_pb2.StartCheckoutRequest(
                    service_code="walk", block_id=B3, expected_price_cents=1500),
                "portal.v1.Portal/FinalizeCheckout": portal_pb2.FinalizeCheckoutRequest(
                    hold_token=hold1.hold_token, payment_intent_id=hold1.payment_intent_id),
                "portal.v1.Portal/CancelCheckout": portal_pb2.CancelCheckoutRequest(hold_token=hold2.hold_token),
                "portal.v1.Portal/ListMyBookings": portal_pb2.ListMyBookingsRequest(from_date=D1, to_date=D3),
                "portal.v1.Portal/RescheduleBooking": portal_pb2.RescheduleBookingRequest(
                    booking_id=booking, new_block_id=B2),
                "portal.v1.Admin/UpsertService": admin_pb2.UpsertServiceRequest(service=walk_),
                "portal.v1.Admin/ListServices": admin_pb2.ListServicesRequest(),
                "portal.v1.Admin/CreateBlock": admin_pb2.CreateBlockRequest(
                    date=D1, start_time="18:00", end_time="19:30", label="Fuzz E"),
                "portal.v1.Admin/UpdateBlock": admin_pb2.UpdateBlockRequest(
                    block_id=B4, start_time="15:30", end_time="16:30", label="Fuzz D2"),
                "portal.v1.Admin/DeleteBlock": admin_pb2.DeleteBlockRequest(block_id=B4),
                "portal.v1.Admin/SetCapacity": admin_pb2.SetCapacityRequest(
                    block_id=B3, service_code="walk", capacity=900, allow_overlap=True),
                "portal.v1.Admin/RemoveCapacity": admin_pb2.RemoveCapacityRequest(block_id=B4, service_code="walk"),
                "portal.v1.Admin/GetDay": admin_pb2.GetDayRequest(date=D1),
                "portal.v1.Admin/CopyDay": admin_pb2.CopyDayRequest(from_date=D1, to_date=D3, replace=True),
                "portal.v1.Admin/ListBookings": admin_pb2.ListBookingsRequest(date=D1),
                "portal.v1.Admin/CreateClient": admin_pb2.CreateClientRequest(
                    name="Fuzz Client", email="fc@example.com", phone="+44 1632 960000", can_self_reschedule=True),
                "portal.v1.Admin/UpdateClient": admin_pb2.UpdateClientRequest(
                    client_id=clients["fuzzvictim"], name="Fuzz Victim", email="v@example.com", phone="+1 555 0100"),
                "portal.v1.Admin/GetClient": admin_pb2.GetClientRequest(client_id=clients["fuzzmain"]),
                "portal.v1.Admin/ListClients": admin_pb2.ListClientsRequest(page_size=3, page_token=""),
                "portal.v1.Admin/CreatePortalLogin": admin_pb2.CreatePortalLoginRequest(
                    client_id=clients["fuzznologin"], username="fuzznologin", password=PASSWORD),
                "portal.v1.Admin/DisablePortalLogin": admin_pb2.DisablePortalLoginRequest(
                    client_ids=[clients["fuzzvictim"], clients["fuzzuser"], 999999]),
                "portal.v1.Admin/EnablePortalLogin": admin_pb2.EnablePortalLoginRequest(
                    client_ids=[clients["fuzzvictim"], clients["fuzzuser"], 999999]),
                "portal.v1.Admin/RemovePortalLogin": admin_pb2.RemovePortalLoginRequest(
                    client_ids=[clients["fuzzvictim"]], delete_user=False),
                "portal.v1.Admin/SetCanSelfReschedule": admin_pb2.SetCanSelfRescheduleRequest(
                    client_ids=[clients["fuzzvictim"], 999999], can_self_reschedule=True),
                "portal.v1.Admin/GetMetrics": admin_pb2.GetMetricsRequest(),
            }
            missing = sorted(set(METHODS) - set(bases))
            for m in missing:  # a method added to the protos later still gets fuzzed, from its empty request
                bases[m] = cls(METHODS[m][0])()

            def token_for(method):
                if method == HEALTH or method == "portal.v1.Portal/Login":
                    return None
                if method == "portal.v1.Portal/Logout":
                    return bye_token[0]
                return session if method.startswith("portal.v1.Portal/") else KEY

            def touches_protected(method, payload):
                """Would this request, as Python's protobuf reads it, touch what the fuzz must keep?"""
                if method not in METHODS:
                    return False
                try:
                    message = cls(METHODS[method][0]).FromString(payload)
                except Exception:
                    return False  # undecodable: the server must refuse it too

                def visit(msg):
                    for f, value in msg.ListFields():
                        values = value if f.label == f.LABEL_REPEATED else [value]
                        for v in values:
                            if f.type == f.TYPE_MESSAGE:
                                if visit(v):
                                    return True
                            elif f.name in ("block_id", "new_block_id") and v in bystander_blocks:
                                return True
                            elif f.name in ("client_id", "client_ids") and v in protected_clients:
                                return True
                            elif f.type == f.TYPE_STRING and (D2 in v or v in protected_users):
                                return True
                    return False
                return visit(message)

            def envelope_touches_protected(body):
                method, payload, auth = b"", b"", []
                for number, wire, value, _, _ in top_fields(body):
                    if number == 2 and wire == 2:
                        method = value
                    elif number == 5 and wire == 2:
                        payload = value
                    elif number == 3 and wire == 2:
                        auth += [v for _, w, v, _, _ in top_fields(value) if w == 2]
                names = {method.decode("utf-8", "replace"), method.split(b"\x00")[0].decode("utf-8", "replace")}
                if any(n.endswith("/Logout") or n.endswith("/Login") for n in names):
                    return True  # keep every session of the fuzz alive, and logins fast
                return any(touches_protected(n, payload) for n in names) or any(D2.encode() in v for v in auth)

            mutator = Mutator(rng)

            def health_fresh():
                try:
                    c = connect()
                    r = call(c, HEALTH, health_pb2.HealthCheckRequest(), None)
                    c.close()
                    return r.status.code == 0 and health_pb2.HealthCheckResponse.FromString(r.payload).status == 1, show(r)
                except (OSError, EOFError) as error:
                    return False, repr(error)

            bystander = connect()
            baseline = call(bystander, "portal.v1.Admin/GetDay", admin_pb2.GetDayRequest(date=D2))
            if baseline.status.code != 0 or len(admin_pb2.GetDayResponse.FromString(baseline.payload).blocks) != 2:
                raise SystemExit("setup: bystander GetDay failed: %s" % show(baseline))

            def bystander_same(when):
                r = call(bystander, "portal.v1.Admin/GetDay", admin_pb2.GetDayRequest(date=D2))
                if r.status.code != 0 or r.payload != baseline.payload:
                    fail("bystander", "%s: %s (baseline %s)" % (when, show(r), baseline.payload.hex()))

            setup_s = time.time() - started
            check("setup: service, 4 blocks with capacity on %s, 2 bystander blocks on %s, 5 clients with 4 logins, "
                  "2 sessions, a booking and a hold (%.1f s)" % (D1, D2, setup_s), True)

            # ---------------------------------------------------------------- payload fuzz and envelope fuzz, in batches
            fuzz = connect()
            used_ids = set()
            payload_cases = 0
            envelope_cases = {"undecodable": 0, "clean": 0, "ambiguous": 0, "bad_string": 0}
            kinds_seen = {}

            def new_id():
                while True:
                    i = rng.getrandbits(64) if rng.random() < 0.5 else rng.getrandbits(rng.choice([8, 16, 32, 63]))
                    if i and i not in used_ids:
                        used_ids.add(i)
                        return i

            def until_marker(conn, answers):
                """Sends a Health/Check marker and files every answer that arrives before it in `answers` (by
                id): the marker comes back after everything sent earlier, so a duplicate answer is among them."""
                marker = new_id()
                conn.send(request(marker, HEALTH, health_pb2.HealthCheckRequest()))
                while True:
                    r = conn.receive()
                    if r.id == marker:
                        return answers
                    answers.setdefault(r.id, []).append(r)

            for batch in range(BATCHES):
                cases = {}
                for method, (in_desc, _) in METHODS.items():
                    base_msg = bases[method]
                    base = base_msg.SerializeToString()
                    for _ in range(SLOW.get(method, PER_METHOD)):
                        for _attempt in range(20):
                            data, label = mutator.mutate(base, in_desc, base_msg)
                            if method == "portal.v1.Portal/Login" and len(data) > 300:
                                continue  # keep logins to few, cheap ones
                            if not touches_protected(method, data):
                                break
                            count("skipped")
                        else:
                            continue
                        kind, why, bad = classify(data, in_desc, cls(in_desc))
                        kinds_seen[kind] = kinds_seen.get(kind, 0) + 1
                        i = new_id()
                        envelope = request(i, method, None, token_for(method))
                        envelope.payload = data
                        cases[i] = (method, data, label, kind, why, bad, frame(envelope))
                order = list(cases)
                rng.shuffle(order)
                relogin = new_id()
                frames = [cases[i][6] for i in order] + [frame(request(relogin, "portal.v1.Portal/Login",
                                                               portal_pb2.LoginRequest(username="fuzzbye",
                                                                                       password=PASSWORD)))]
                payload_cases += len(cases)
                answers = {}
                try:
                    fuzz.send_raw(b"".join(frames))
                    bystander_same("batch %d, while the fuzz was in flight" % batch)
                    want = set(cases) | {relogin}
                    while want - set(answers):
                        r = fuzz.receive()
                        answers.setdefault(r.id, []).append(r)
                    until_marker(fuzz, answers)
                except (OSError, EOFError) as error:
                    fail("answered", "batch %d: the fuzz connection failed: %r (after %d answers)" % (
                        batch, error, len(answers)))
                    fuzz = connect()
                for i, got in answers.items():
                    if i not in cases and i != relogin:
                        fail("answered", "an answer with an id never sent: %s" % show(got[0]))
                r = answers.get(relogin, [None])[0]
                if r is not None and r.status.code == 0:
                    bye_token[0] = portal_pb2.LoginResponse.FromString(r.payload).session_token
                    secrets["logout session token %d" % batch] = bye_token[0]
                for i, (method, data, label, kind, why, bad, _) in cases.items():
                    got = answers.get(i, [])
                    what = "%s payload %s [%s; %s%s]" % (method, hexed(data), label, kind, (": " + why) if why else "")
                    if len(got) != 1:
                        fail("answered", "%d answers: %s -> %s" % (len(got), what, [show(r) for r in got]))
                        if not got:
                            continue
                    r = got[0]
                    generic(r, method, what)
                    count("payload OK" if r.status.code == 0 else "payload refused")
                    if r.status.code == 0 and method == "portal.v1.Portal/Login":
                        secrets["fuzz login session %d" % i] = portal_pb2.LoginResponse.FromString(r.payload).session_token
                    logout_ended = method == "portal.v1.Portal/Logout" and r.status.code == 16 \
                        and r.status.reason == "INVALID_CREDENTIALS"  # its session ended earlier in the batch
                    if kind == "undecodable":
                        count("undecodable")
                        if not (r.status.code == 3 and r.status.reason == "MALFORMED_PAYLOAD") and not logout_ended:
                            fail("undecodable", "%s -> %s" % (what, show(r)))
                    if kind == "bad_string":
                        count("bad_string")
                        field_ok = len(bad) != 1 or r.status.details.get("field") == bad[0]
                        if not (r.status.code == 3 and r.status.reason == "MALFORMED_PAYLOAD" and field_ok) \
                                and not logout_ended:
                            fail("bad_string", "%s -> %s" % (what, show(r)))

                # Mutated envelopes, each on a throwaway connection.
                env_desc = envelope_pb2.RequestEnvelope.DESCRIPTOR
                names = sorted(METHODS)
                for _ in range(ENVELOPES_PER_BATCH):
                    for _attempt in range(30):
                        method = rng.choice(names)
                        base_env = request(new_id(), method, bases[method], token_for(method))
                        if rng.random() < 0.3:
                            base_env.timeout_ms = rng.choice([1000, 60000, 2 ** 32 - 1])
                        if rng.random() < 0.3:
                            base_env.metadata["x-trace"] = "fuzz"
                        data, label = mutator.mutate(base_env.SerializeToString(), env_desc, base_env)
                        if not envelope_touches_protected(data) and len(data) < 60000:
                            break
                        count("envelope skipped")
                    else:
                        continue
                    kind, why, bad = classify(data, env_desc, envelope_pb2.RequestEnvelope)
                    if not data:
                        kind, why = "undecodable", "zero length"
                    envelope_cases[kind] += 1
                    ids = [v for n, w, v, _, _ in top_fields(data) if n == 1 and w == 0]
                    the_id = ids[-1] if ids else 0
                    eff_method = [v for n, w, v, _, _ in top_fields(data) if n == 2 and w == 2]
                    eff_method = eff_method[-1].decode("utf-8", "replace") if eff_method else ""
                    what = "envelope %s [%s; %s%s]" % (hexed(data), label, kind, (": " + why) if why else "")
                    try:
                        conn = connect(frame(data))
                        r = conn.receive()
                    except (OSError, EOFError) as error:
                        fail("envelope_" + ("undecodable" if kind == "undecodable" else "clean"),
                             "%s -> no answer (%r)" % (what, error))
                        continue
                    generic(r, eff_method, what)
                    fatal = r.id == 0 and r.status.code == 3 and r.status.reason == "MALFORMED_FRAME" and not r.payload
                    if kind == "undecodable":
                        if not (fatal and closed(conn)):
                            fail("envelope_undecodable", "%s -> %s" % (what, show(r)))
                    else:
                        if kind == "clean" or not fatal:
                            expect_id = the_id if kind == "clean" else None
                            good = (r.id == the_id if kind == "clean" else r.id in set(ids) | {0}) and not fatal
                            if r.id == 0:
                                good = good and r.status.reason == "INVALID_REQUEST_ID"
                            if good:  # the connection carries on
                                try:
                                    after = call(conn, HEALTH, health_pb2.HealthCheckRequest(), None, id=7)
                                    good = after.id == 7 and after.status.code == 0
                                except (OSError, EOFError):
                                    good = False
                            if not good:
                                fail("envelope_clean" if kind == "clean" else "envelope_ambiguous",
                                     "%s (id %s) -> %s" % (what, expect_id, show(r)))
                        elif not closed(conn):
                            fail("envelope_ambiguous", "%s -> fatal frame but not closed: %s" % (what, show(r)))
                    conn.close()

                # After each batch: alive, a fresh connection is served, the bystander sees the same day.
                if server.poll() is not None:
                    fail("alive", "after batch %d: portald exited with %s" % (batch, server.returncode))
                    break
                healthy, detail = health_fresh()
                if not healthy:
                    fail("health", "after batch %d: %s" % (batch, detail))
                try:
                    bystander_same("after batch %d" % batch)
                except (OSError, EOFError) as error:
                    fail("bystander", "after batch %d: %r" % (batch, error))
                    bystander = connect()
                r = call(admin, "portal.v1.Portal/ListMyBookings", portal_pb2.ListMyBookingsRequest(), session)
                if r.status.code != 0:
                    fail("session", "after batch %d: the fuzz's session no longer works: %s" % (batch, show(r)))

            def report(category, name, n=None):
                cases_ = failures.get(category, [])
                detail = "\n    " + "\n    ".join(cases_[:60]) + ("\n    ... %d more" % (len(cases_) - 60)
                                                                  if len(cases_) > 60 else "") if cases_ else ""
                check(name + (" (%d failing)" % len(cases_) if cases_ else ""), not cases_, detail)

            fuzz_s = time.time() - started - setup_s
            report("answered", "%d mutated payloads over all %d methods of the proto services (%d batches; %s), "
                   "sent with valid credentials (%d answered OK; %d candidates touching the bystander's data or the fuzz's "
                   "sessions not sent): each answered exactly once, with its id"
                   % (payload_cases, len(METHODS), BATCHES,
                      ", ".join("%d %s" % (v, k) for k, v in sorted(kinds_seen.items())),
                      counts.get("payload OK", 0), counts.get("skipped", 0)))
            report("undecodable", "the %d structurally undecodable payloads -> INVALID_ARGUMENT MALFORMED_PAYLOAD"
                   % counts.get("undecodable", 0))
            report("bad_string", "the %d payloads whose string field holds invalid UTF-8 or a NUL -> INVALID_ARGUMENT "
                   "MALFORMED_PAYLOAD, details.field = the (dotted) field" % counts.get("bad_string", 0))
            report("envelope_undecodable", "%d unparseable envelopes (throwaway connections) -> one id-0 frame "
                   "INVALID_ARGUMENT MALFORMED_FRAME, then closed" % envelope_cases["undecodable"])
            report("envelope_clean", "%d mutated but parseable envelopes -> one answer with their id (id 0: "
                   "INVALID_REQUEST_ID), the connection carries on" % envelope_cases["clean"])
            report("envelope_ambiguous", "%d envelopes the contract leaves open (wrong wire types, invalid UTF-8 in "
                   "method/metadata, groups, >64-bit varints) -> the fatal MALFORMED_FRAME and a close, or an answer "
                   "that keeps the connection" % (envelope_cases["ambiguous"] + envelope_cases["bad_string"]))
            report("alive", "portald kept running through every batch")
            report("health", "after each batch, Health/Check on a fresh connection -> SERVING")
            report("bystander", "a bystander connection's GetDay(%s), during and after each batch, is byte-identical "
                   "to before the fuzz" % D2)
            report("session", "the fuzz's own session keeps working after each batch")

            # ---------------------------------------------------------------- envelope edge values
            edge = connect()

            def exchange(conn, frames):
                """(id, frame) pairs at once; every answer, by id, until each id has had one (id 0: as many as
                were sent) and a marker sent afterwards has come back (to catch duplicates)."""
                conn.send_raw(b"".join(f for _, f in frames))
                want = {}
                for i, _ in frames:
                    want[i] = want.get(i, 0) + 1
                got = {}
                while any(len(got.get(i, [])) < n for i, n in want.items()):
                    r = conn.receive()
                    got.setdefault(r.id, []).append(r)
                return until_marker(conn, got)

            def names_of_clients():
                out, token = set(), ""
                while True:
                    page = ok(admin, "portal.v1.Admin/ListClients", admin_pb2.ListClientsRequest(
                        page_size=500, page_token=token))
                    out |= {c.name for c in page.clients}
                    token = page.next_page_token
                    if not token:
                        return out

            def day_labels(date):
                return {b.block.label for b in ok(admin, "portal.v1.Admin/GetDay", admin_pb2.GetDayRequest(date=date)).blocks}

            def edge_base(method, marker):
                if method == "portal.v1.Admin/CreateClient":
                    return admin_pb2.CreateClientRequest(name=marker)
                if method == "portal.v1.Admin/CreateBlock":
                    return admin_pb2.CreateBlockRequest(date=D1, start_time="20:00", end_time="21:00", label=marker)
                if method == "portal.v1.Admin/UpsertService":
                    return admin_pb2.UpsertServiceRequest(service=types_pb2.ServiceDefaults(
                        service_code=marker, duration_minutes=30, price_cents=100, currency="gbp"))
                return bases[method]

            # E1. id 0 on every method.
            frames = []
            for method in sorted(METHODS):
                envelope = request(0, method, edge_base(method, "edge-id-zero"), token_for(method))
                frames.append((0, frame(envelope)))
            got = exchange(edge, frames).get(0, [])
            for r in got:
                generic(r, "", "id 0")
            ran = ("edge-id-zero" in names_of_clients(), "edge-id-zero" in day_labels(D1))
            check("id 0 on each of the %d methods (writes included, pipelined): %d answers, all id 0 INVALID_ARGUMENT "
                  "INVALID_REQUEST_ID; none ran" % (len(METHODS), len(got)),
                  len(got) == len(METHODS) and all(r.status.code == 3 and r.status.reason == "INVALID_REQUEST_ID"
                                                    for r in got) and not any(ran),
                  ([show(r) for r in got if r.status.reason != "INVALID_REQUEST_ID"][:5], "ran (client, block):", ran))

            # E2. Extreme ids, and ids as overlong varints, on every method.
            frames, expect = [], {}
            for k, method in enumerate(sorted(METHODS)):
                if method in SLOW:
                    continue
                for i, size in ((M64 - k, 0), (2 ** 63 + k, 0), (1000 + k, 10), (2000 + k, 3)):
                    envelope = request(0, method, bases[method], token_for(method))
                    body = tag(1, 0) + varint(i, size) + envelope.SerializeToString()
                    frames.append((i, frame(body)))
                    expect[i] = (method, body)
            got = exchange(edge, frames)
            bad = []
            for i, (method, body) in expect.items():
                answers_ = got.get(i, [])
                for r in answers_:
                    generic(r, method, "envelope %s" % hexed(body))
                if len(answers_) != 1:
                    bad.append("%s id %d: %d answers" % (method, i, len(answers_)))
            bad += ["stray answer id %d" % i for i in got if i not in expect]
            check("ids 2^64-1-k, 2^63+k and small ids as 10- and 3-byte overlong varints on every method "
                  "(%d calls): each answered once with its id" % len(expect), not bad, bad[:10])

            def single(body):
                """`body` as the only frame of a new connection: (first answer or None, closed after a fatal frame)."""
                conn = connect()
                try:
                    conn.send_raw(frame(body))
                    r = conn.receive()
                except (OSError, EOFError):
                    conn.close()
                    return None, True
                fatal = r.id == 0 and r.status.reason == "MALFORMED_FRAME"
                gone = fatal and closed(conn)
                conn.close()
                return r, gone

            # E3. Method names outside the contract: UNKNOWN_METHOD (docs §3), and nothing runs.
            odd_names = ["", "portal.v1.admin/CreateClient", "PORTAL.V1.ADMIN/CREATECLIENT", "portal.v1.Admin/createClient",
                         "portal.v1.Admin/CreateClient ", " portal.v1.Admin/CreateClient", "portal.v1.Admin/CreateClient/",
                         "portal.v1.Admin//CreateClient", "/portal.v1.Admin/CreateClient", "portal.v1.Admin.CreateClient",
                         "portal.v1.Admin/", "portal.v1.Admin", "portal.v1.Admin/CreateClient\u200b",
                         "portal.v1.Admin/CreateClient\n", "portal.v1.Portal/CreateClient", "portal.v1.Admin/CreateClient\t",
                         "portal.v1.Admin/CreateClient" + "x" * 70000, "portal.v1.Admin/" + "\u00e9" * 100000,
                         "portal.v1.Admin/CreateClient" + "y" * 4000000,
                         # with a NUL: a C string would read only the part before it
                         "\x00", "portal.v1.Admin/CreateClient\x00", "portal.v1.Admin/CreateClient\x00x",
                         "\x00portal.v1.Admin/CreateClient", "portal.v1.Admin\x00/CreateClient",
                         "portal.v1.Admin/CreateClient" + "\x00" * 3000000]
            outcomes, wrong, nul_wrong = [], [], []
            for n, name in enumerate(odd_names):
                marker = "edge-method-%d" % n
                body = request(5000 + n, name, admin_pb2.CreateClientRequest(name=marker), KEY).SerializeToString()
                r, gone = single(body)
                shown = repr(name if len(name) < 60 else name[:40] + "...(%d chars)" % len(name))
                if r is not None:
                    generic(r, "", "method " + shown)
                outcomes.append((shown, r, gone))
                if "\x00" in name:
                    # docs/protocol.md "Value conventions": an envelope string with a NUL makes the frame
                    # not a request envelope: the fatal MALFORMED_FRAME naming the field, then closed.
                    documented = r is not None and r.id == 0 and r.status.code == 3 \
                        and r.status.reason == "MALFORMED_FRAME" and r.status.details.get("field") == "method" and gone
                else:
                    documented = r is not None and r.id == 5000 + n and r.status.code == 12 \
                        and r.status.reason == "UNKNOWN_METHOD"
                if not documented:
                    (nul_wrong if "\x00" in name else wrong).append("method %s (envelope %s) -> %s%s" % (
                        shown, hexed(body), show(r) if r else "no answer", ", then closed" if gone else ""))
            created = names_of_clients()
            ran = ["method %r ran: client %s created" % (o[0], "edge-method-%d" % n)
                   for n, o in enumerate(outcomes) if "edge-method-%d" % n in created]
            check("no method name outside the contract runs (%d names: empty, case, spaces, slashes, 70 kB-4 MB, "
                  "and NUL inside/after/before a real name)" % len(odd_names), not ran, ran)
            check("%d method names outside the contract without a NUL (empty, case, spaces, slashes, 70 kB, 200 kB, "
                  "4 MB) -> UNIMPLEMENTED UNKNOWN_METHOD" % (len(odd_names) - 6), not wrong, "\n    " + "\n    ".join(wrong))
            check("6 method names with a NUL (a real name + NUL, NUL + a real name, 3 MB of NULs) -> id 0 "
                  "MALFORMED_FRAME, details.field = method, then closed (docs: envelope strings)", not nul_wrong,
                  "\n    " + "\n    ".join(nul_wrong))

            # A method that is not valid UTF-8: the fatal MALFORMED_FRAME, or UNKNOWN_METHOD; never runs.
            bad = []
            for n, raw in enumerate((b"portal.v1.Admin/CreateClient\xff", b"portal.v1.Admin/Create\xc3\x28Client",
                                     b"\xed\xa0\x80")):
                body = tag(1, 0) + varint(6000 + n) + field(2, 2, raw) + request(
                    0, "", admin_pb2.CreateClientRequest(name="edge-utf8-%d" % n), KEY).SerializeToString()
                r, gone = single(body)
                if r is not None:
                    generic(r, "", "envelope " + hexed(body))
                if r is None or not ((r.id == 0 and r.status.code == 3 and gone) or
                                     (r.id == 6000 + n and r.status.code == 12 and r.status.reason == "UNKNOWN_METHOD")) \
                        or "edge-utf8-%d" % n in names_of_clients():
                    bad.append("envelope %s -> %s" % (body.hex(), show(r) if r else "no answer"))
            check("a method name that is not UTF-8 (3 kinds) -> the fatal MALFORMED_FRAME or UNKNOWN_METHOD; never runs",
                  not bad, bad)

            # E4. Metadata, each case on its own connection.
            day = admin_pb2.GetDayRequest(date=D1)
            mine = portal_pb2.ListMyBookingsRequest()
            md_secret = "md-secret-%016x" % rng.getrandbits(64)
            secrets["metadata value"] = md_secret
            wrong_key = "Bearer wrong-" + KEY[::-1]
            cases_md = [  # (what, method, message, metadata entries as (key, value) in wire order, code, reason)
                ("a 1 MiB unknown key", "portal.v1.Admin/GetDay", day,
                 [("x-" + "k" * 2 ** 20, "v"), ("authorization", "Bearer " + KEY)], 0, ""),
                ("a 1 MiB unknown value", "portal.v1.Admin/GetDay", day,
                 [("authorization", "Bearer " + KEY), ("x-big", "v" * 2 ** 20)], 0, ""),
                ("20000 unknown entries", "portal.v1.Admin/GetDay", day,
                 [("x-%d" % n, md_secret) for n in range(20000)] + [("authorization", "Bearer " + KEY)], 0, ""),
                ("non-lower-case keys with wrong credentials beside the right ones", "portal.v1.Admin/GetDay", day,
                 [("AUTHORIZATION", wrong_key), ("authorization", "Bearer " + KEY), ("Authorization", wrong_key),
                  ("X-Secret", md_secret), ("aUTHORIZATION", "")], 0, ""),
                ("only non-lower-case authorization keys", "portal.v1.Admin/GetDay", day,
                 [("AUTHORIZATION", "Bearer " + KEY), ("AuThOrIzAtIoN", "Bearer " + KEY)], 16, "MISSING_CREDENTIALS"),
                ("a 1 MiB authorization value", "portal.v1.Admin/GetDay", day,
                 [("authorization", "Bearer " + "A" * 2 ** 20)], 16, "INVALID_CREDENTIALS"),
                ("'Bearer <key> ' (trailing space)", "portal.v1.Admin/GetDay", day,
                 [("authorization", "Bearer " + KEY + " ")], 16, "INVALID_CREDENTIALS"),
                ("key 'authorization '", "portal.v1.Admin/GetDay", day, [("authorization ", "Bearer " + KEY)],
                 16, "MISSING_CREDENTIALS"),
                ("an authorization entry without a value", "portal.v1.Admin/GetDay", day, [("authorization", None)],
                 16, "INVALID_CREDENTIALS"),
                ("an entry with the right value but no key", "portal.v1.Admin/GetDay", day, [(None, "Bearer " + KEY)],
                 16, "MISSING_CREDENTIALS"),
                ("two authorization entries, the right one last (map: the last wins)", "portal.v1.Admin/GetDay", day,
                 [("authorization", wrong_key), ("authorization", "Bearer " + KEY)], 0, ""),
                ("two authorization entries, a wrong one last (map: the last wins)", "portal.v1.Admin/GetDay", day,
                 [("authorization", "Bearer " + KEY), ("authorization", wrong_key)], 16, "INVALID_CREDENTIALS"),
                ("the session token last, after the admin key, on Admin", "portal.v1.Admin/GetDay", day,
                 [("authorization", "Bearer " + KEY), ("authorization", "Bearer " + session)], 7, "WRONG_CREDENTIAL_KIND"),
                # with a NUL: a C string would read only the part before it
                ("'Bearer <key>\\0'", "portal.v1.Admin/GetDay", day, [("authorization", "Bearer " + KEY + "\x00")],
                 16, "INVALID_CREDENTIALS"),
                ("'Bearer <key>\\0junk'", "portal.v1.Admin/GetDay", day,
                 [("authorization", "Bearer " + KEY + "\x00junk")], 16, "INVALID_CREDENTIALS"),
                ("'Bearer \\0<key>'", "portal.v1.Admin/GetDay", day, [("authorization", "Bearer \x00" + KEY)],
                 16, "INVALID_CREDENTIALS"),
                ("'Bearer <session>\\0'", "portal.v1.Portal/ListMyBookings", mine,
                 [("authorization", "Bearer " + session + "\x00")], 16, "INVALID_CREDENTIALS"),
                ("key 'authorization\\0'", "portal.v1.Admin/GetDay", day, [("authorization\x00", "Bearer " + KEY)],
                 16, "MISSING_CREDENTIALS"),
                ("an unknown key with a NUL ('x-a\\0b' = 'c'), the right credentials", "portal.v1.Admin/GetDay", day,
                 [("x-a\x00b", "c"), ("authorization", "Bearer " + KEY)], 0, ""),
            ]
            wrong, nul_wrong, let_in = [], [], []
            for n, (what, method, message, entries, code, reason) in enumerate(cases_md):
                body = tag(1, 0) + varint(7000 + n) + field(2, 2, method.encode())
                for k, v in entries:
                    entry = (field(1, 2, k.encode()) if k is not None else b"") + \
                            (field(2, 2, v.encode()) if v is not None else b"")
                    body += field(3, 2, entry)
                body += field(5, 2, message.SerializeToString())
                r, gone = single(body)
                if r is not None:
                    generic(r, method, "metadata case %r" % what)
                if code != 0 and r is not None and r.status.code == 0:
                    let_in.append("%s on %s -> OK; envelope %s" % (what, method, hexed(body)))
                has_nul = any("\x00" in (k or "") + (v or "") for k, v in entries)
                if has_nul:
                    # docs/protocol.md "Value conventions": the fatal MALFORMED_FRAME naming the field, closed.
                    nul_field = "metadata.key" if any("\x00" in (k or "") for k, _ in entries) else "metadata.value"
                    if not (r is not None and r.id == 0 and r.status.code == 3 and r.status.reason == "MALFORMED_FRAME"
                            and r.status.details.get("field") == nul_field and gone):
                        nul_wrong.append("%s on %s -> %s%s (docs: id 0 MALFORMED_FRAME field=%s, closed); envelope %s" % (
                            what, method, show(r) if r else "no answer", ", then closed" if gone else "", nul_field,
                            hexed(body)))
                elif r is None or r.id != 7000 + n or r.status.code != code or r.status.reason != reason:
                    (nul_wrong if has_nul else wrong).append("%s on %s -> %s%s (docs: code %d %s); envelope %s" % (
                        what, method, show(r) if r else "no answer", ", then closed" if gone else "", code,
                        reason or "OK", hexed(body)))
            check("no metadata edge case with wrong or missing credentials is let in (%d cases, NUL-truncated "
                  "keys and tokens included)" % len(cases_md), not let_in, let_in)
            check("%d metadata edge cases without a NUL (1 MiB keys/values, 20000 entries, non-lower-case keys, "
                  "missing key/value, duplicate authorization: the last wins) -> the documented answer"
                  % (len(cases_md) - 6), not wrong, "\n    " + "\n    ".join(wrong))
            check("6 metadata cases with a NUL in the authorization value/key or an unknown key -> id 0 "
                  "MALFORMED_FRAME naming metadata.key / metadata.value, then closed (docs: envelope strings)",
                  not nul_wrong,
                  "\n    " + "\n    ".join(nul_wrong))

            # E5. timeout_ms edges.
            frames, expect = [], {}
            for n, (method, size, value) in enumerate((
                    ("portal.v1.Admin/CreateClient", 0, 2 ** 32 - 1), (HEALTH, 0, 2 ** 32 - 1),
                    ("portal.v1.Portal/ListBlocks", 0, 2 ** 32 - 1), ("portal.v1.Admin/ListBookings", 0, 2 ** 32 - 1),
                    ("portal.v1.Admin/GetDay", 10, 2 ** 32 - 1), ("portal.v1.Admin/ListClients", 5, 60000))):
                message = admin_pb2.CreateClientRequest(name="edge-timeout") if method.endswith("CreateClient") \
                    else bases[method]
                body = request(8000 + n, method, message, token_for(method)).SerializeToString() + \
                    tag(4, 0) + varint(value, size)
                frames.append((8000 + n, frame(body)))
                expect[8000 + n] = (method, body)
            got = exchange(edge, frames)
            bad = []
            for i, (method, body) in expect.items():
                answers_ = got.get(i, [])
                for r in answers_:
                    generic(r, method, "envelope " + hexed(body))
                if len(answers_) != 1 or answers_[0].status.code != 0:
                    bad.append("%s -> %s; envelope %s" % (method, [show(r) for r in answers_], hexed(body)))
            if "edge-timeout" not in names_of_clients():
                bad.append("CreateClient with timeout_ms=2^32-1 answered but not written")
            check("timeout_ms = 2^32-1 (also as a 10-byte varint) and 60000 as a 5-byte varint on reads and writes -> "
                  "OK, the write committed", not bad, bad)
            frames = []
            for n, raw in enumerate((varint(M64), varint(2 ** 32), varint(2 ** 40 + 5))):
                body = request(8100 + n, "portal.v1.Admin/GetDay", day, KEY).SerializeToString() + tag(4, 0) + raw
                frames.append((8100 + n, frame(body)))
            got = exchange(edge, frames)
            bad = []
            for i, f in frames:
                answers_ = got.get(i, [])
                for r in answers_:
                    generic(r, "portal.v1.Admin/GetDay", "envelope " + hexed(f[4:]))
                if len(answers_) != 1:
                    bad.append("envelope %s -> %s" % (hexed(f[4:]), [show(r) for r in answers_]))
            check("timeout_ms beyond uint32 on the wire (2^64-1, 2^32, 2^40+5) -> answered once with its id "
                  "(%s)" % ", ".join((got.get(i) or [None])[0].status.reason or "OK" if got.get(i) else "-"
                                     for i, _ in frames), not bad, bad)

            # E6. Repeated envelope fields: the last one wins (protobuf's rule for singular fields).
            later = admin_pb2.GetDayRequest(date=D1).SerializeToString()
            earlier = admin_pb2.GetDayRequest(date=D3).SerializeToString()
            auth = field(3, 2, field(1, 2, b"authorization") + field(2, 2, ("Bearer " + KEY).encode()))
            trials = [
                ("id twice (8201 then 8202)", 8202, tag(1, 0) + varint(8201) + field(2, 2, b"portal.v1.Admin/GetDay")
                 + auth + field(5, 2, later) + tag(1, 0) + varint(8202), D1),
                ("method twice (Health/Check then Admin/GetDay)", 8203, tag(1, 0) + varint(8203)
                 + field(2, 2, HEALTH.encode()) + auth + field(5, 2, later) + field(2, 2, b"portal.v1.Admin/GetDay"), D1),
                ("payload twice (GetDay %s then %s)" % (D3, D1), 8204, tag(1, 0) + varint(8204)
                 + field(2, 2, b"portal.v1.Admin/GetDay") + auth + field(5, 2, earlier) + field(5, 2, later), D1),
                ("everything twice (the whole envelope repeated, ids 8205 then 8206)", 8206,
                 (tag(1, 0) + varint(8205) + field(2, 2, b"portal.v1.Admin/GetDay") + auth + field(5, 2, earlier))
                 + (tag(1, 0) + varint(8206) + field(2, 2, b"portal.v1.Admin/GetDay") + auth + field(5, 2, later)), D1),
            ]
            bad = []
            for what, i, body, date in trials:
                got = exchange(edge, [(i, frame(body))])
                answers_ = [r for v in got.values() for r in v]
                for r in answers_:
                    generic(r, "portal.v1.Admin/GetDay", "envelope " + hexed(body))
                good = len(answers_) == 1 and answers_[0].id == i and answers_[0].status.code == 0
                if good:
                    good = admin_pb2.GetDayResponse.FromString(answers_[0].payload).date == date
                if not good:
                    bad.append("%s: envelope %s -> %s" % (what, body.hex(), [show(r) for r in answers_]))
            check("repeated envelope fields (id, method, payload, the whole envelope): the last one wins", not bad,
                  "\n    " + "\n    ".join(bad))

            # E7. Unknown envelope fields of every wire type are ignored.
            frames = []
            for n, number in enumerate((6, 7, 15, 16, 100, 19000, 19999, (1 << 29) - 1)):
                extra = field(number, [0, 1, 2, 5][n % 4], [M64, 2 ** 63, b"\x0a\x03abc", 7][n % 4])
                body = request(8300 + n, HEALTH, health_pb2.HealthCheckRequest()).SerializeToString()
                frames.append((8300 + n, frame(extra + body if n % 2 else body + extra)))
            got = exchange(edge, frames)
            bad = [("envelope %s -> %s" % (hexed(f[4:]), [show(r) for r in got.get(i, [])])) for i, f in frames
                   if len(got.get(i, [])) != 1 or got[i][0].status.code != 0]
            check("unknown envelope fields (numbers 6 to 2^29-1, each wire type) are ignored -> OK", not bad, bad)

            # Packed and unpacked repeated client_ids are one and the same request.
            ids = [clients["fuzzvictim"], clients["fuzzuser"], 999999]
            encodings = {
                "packed": field(1, 2, b"".join(varint(v) for v in ids)),
                "unpacked": b"".join(field(1, 0, v) for v in ids),
                "mixed": field(1, 2, varint(ids[0])) + field(1, 0, ids[1]) + field(1, 2, varint(ids[2])),
                "packed, overlong varints": field(1, 2, b"".join(varint(v, 10) for v in ids)),
            }
            bad = []
            for method in ("portal.v1.Admin/SetCanSelfReschedule", "portal.v1.Admin/EnablePortalLogin"):
                flag = field(2, 0, 1) if method.endswith("Reschedule") else b""
                outs = {}
                for label, body in encodings.items():
                    envelope = request(fresh_id(), method, None, KEY)
                    envelope.payload = body + flag
                    edge.send(envelope)
                    r = edge.receive()
                    generic(r, method, "%s payload %s" % (method, envelope.payload.hex()))
                    outs[label] = (r.status.code, r.payload)
                if len(set(outs.values())) != 1 or outs["packed"][0] != 0 or \
                        len(cls(METHODS[method][1]).FromString(outs["packed"][1]).results) != 3:
                    bad.append("%s: %s" % (method, {k: (c, p.hex()) for k, (c, p) in outs.items()}))
            check("repeated client_ids packed, unpacked, mixed, or with overlong varints -> the same OK answer "
                  "(3 results)", not bad, bad)

            # ---------------------------------------------------------------- all answers, all rules
            report("code", "every answer's code is 0-16")
            report("reason", "every non-OK answer has an UPPER_SNAKE_CASE reason, no OK answer one")
            report("internal", "no input was answered INTERNAL or UNKNOWN (an unmapped error)")
            report("payload", "OK answers decode as the method's response; non-OK answers have an empty payload")
            report("secret", "no status message or detail carries the admin key, a password or a session token")

            healthy, detail = health_fresh()
            check("at the end: portald still running, Health/Check on a fresh connection -> SERVING",
                  server.poll() is None and healthy, detail)
            for c in (admin, fuzz, bystander, edge):
                c.close()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            check("portald drains and exits 0 on SIGTERM", server.returncode == 0, server.returncode)
        finally:
            kill_if_running(server)
            log.close()

        text = open(log_path, "rb").read().decode("utf-8", "replace")
        crash = [line for line in text.splitlines() if CRASH.search(line)]
        levels = {}
        for line in text.splitlines():
            level = (line.split(" ")[1:2] or ["?"])[0]
            levels[level] = levels.get(level, 0) + 1
        check("portald's stderr (%d lines at --log-level trace: %s) has no crash, fatal or critical lines" % (
            text.count("\n"), ", ".join("%s %d" % kv for kv in sorted(levels.items()))),
              not crash, "\n    " + "\n    ".join(crash[:20]))
        leaked = sorted(name for name, secret in secrets.items() if secret and secret in text)
        check("portald's stderr holds none of %d secrets (admin key, password, session tokens, metadata values)"
              % len(secrets), not leaked, leaked)
        dump = os.environ.get("FUZZ_DUMP")
        if dump:
            with open(dump, "w") as out:
                for category, cases_ in failures.items():
                    for c in cases_:
                        out.write("%s\t%s\n" % (category, c))
                for digest, data in long_inputs.items():
                    out.write("input sha256 %s\t%s\n" % (digest, data.hex()))
    print("seed %d, %.1f s (fuzz batches %.1f s)" % (seed, time.time() - started, fuzz_s))
    check.finish()


if __name__ == "__main__":
    main()
