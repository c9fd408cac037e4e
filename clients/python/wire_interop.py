#!/usr/bin/env python3
"""The wire protocol from another language, written from SPEC.md,
docs/protocol.md and proto/ alone: framing, pipelining, transport errors,
limits, backpressure, deadlines, metadata and drain of a real portald (a
second one runs with small limits), beyond what interop_check.py covers.

Usage: wire_interop.py PATH_TO_PORTALD — one line per check, then
'N passed, N failed'; exits 1 if any check failed.
"""
import datetime
import os
import random
import signal
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_check import Checks, Connection, generate_messages, request, kill_if_running, start_portald, wait_for_port  # noqa: E402

CODES = {"OK": 0, "CANCELLED": 1, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
         "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "UNIMPLEMENTED": 12, "UNAVAILABLE": 14,
         "UNAUTHENTICATED": 16}
KEY = "wire-interop-admin-key-0123456789"
PASSWORD = "correct horse battery"
HEALTH = "portal.v1.Health/Check"


def frame(envelope):
    body = envelope if isinstance(envelope, bytes) else envelope.SerializeToString()
    return struct.pack(">I", len(body)) + body


def show(r):
    return "id=%d code=%d reason=%s details=%s message=%r payload=%d bytes" % (
        r.id, r.status.code, r.status.reason, dict(r.status.details), r.status.message, len(r.payload))


def main():
    portald = sys.argv[1]
    check = Checks()

    def is_(r, code, reason):
        return r.status.code == CODES[code] and r.status.reason == reason

    def expect(name, r, code, reason, extra=True):
        check("%s -> %s %s" % (name, code, reason), is_(r, code, reason) and extra, show(r))

    def fatal(name, conn, code, reason, details=None, window=None):
        """The one final frame of a fatal error: id 0, then the server closes the connection."""
        try:
            r = conn.receive()
        except (EOFError, OSError) as error:
            return check(name + " -> an id-0 frame, then closed", False, repr(error))
        took = "" if window is None else " after %.1f s (%g-%g s)" % ((time.time() - window[0],) + window[1:])
        check(name + " -> id 0 %s %s, closed%s" % (code, reason, took), r.id == 0 and is_(r, code, reason)
              and r.payload == b"" and (details or {}).items() <= dict(r.status.details).items()
              and (window is None or window[1] <= time.time() - window[0] <= window[2]) and conn.is_closed(), show(r))
        conn.close()

    def gather(conn, count, own=None):
        """Reads `count` answers, by id (a list each, to see duplicates); id-0 frames go to `own`."""
        answers = {}
        while count:
            r = conn.receive()
            if r.id == 0 and own is not None:
                own.append(r)
            else:
                answers.setdefault(r.id, []).append(r)
                count -= 1
        return answers

    with tempfile.TemporaryDirectory() as tmp:
        generate_messages(os.path.join(tmp, "gen"))
        from portal.v1 import admin_pb2, health_pb2, portal_pb2, types_pb2
        servers = []

        def start(name, *flags):
            server, port = start_portald(
                portald, os.path.join(tmp, name, "portal.sqlite"),
                "--admin-key", KEY, "--payments", "simulated", "--log-level", "error", *flags)
            servers.append(server)
            wait_for_port(port, servers[-1], "portald").close()
            return servers[-1], port, connect(port)

        def connect(port, data=b""):
            conn = Connection(port)
            conn.sock.settimeout(20)  # logins hash passwords; a debug build is slow
            conn.send_raw(data)
            return conn

        def call(conn, id, method, message=None, token=KEY, timeout_ms=0, metadata=None):
            envelope = request(id, method, message, token, timeout_ms)
            envelope.metadata.update(metadata or {})
            conn.send(envelope)
            return conn.receive()

        def admin(conn, method, /, **fields):
            r = call(conn, 1, "portal.v1.Admin/" + method, getattr(admin_pb2, method + "Request")(**fields))
            if r.status.code != 0:
                raise SystemExit("Admin/%s failed: %s" % (method, show(r)))
            return getattr(admin_pb2, method + "Response").FromString(r.payload)

        def client_names(conn):
            return {c.name for c in admin(conn, "ListClients", page_size=500).clients}

        def portal_user(conn, username):
            cid = admin(conn, "CreateClient", name=username).client.client_id
            admin(conn, "CreatePortalLogin", client_id=cid, username=username, password=PASSWORD)
            return portal_pb2.LoginRequest(username=username, password=PASSWORD)

        def health(id, service=""):
            return frame(request(id, HEALTH, health_pb2.HealthCheckRequest(service=service)))

        try:
            server, port, conn = start("a", "--frame-timeout-seconds", "1", "--drain-grace-seconds", "5")
            future = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
            admin(conn, "UpsertService", service=types_pb2.ServiceDefaults(
                service_code="walk", duration_minutes=60, price_cents=1500, currency="gbp"))
            wendy = portal_user(conn, "wendy")
            session = portal_pb2.LoginResponse.FromString(call(conn, 1, "portal.v1.Portal/Login", wendy).payload).session_token

            # 1. Framing and pipelining (§1, §5).
            raw = connect(port)
            for byte in bytes.fromhex("0000001a08011216706f7274616c2e76312e4865616c74682f436865636b"):
                raw.send_raw(bytes([byte]))
                time.sleep(0.005)
            answer = raw._read_exactly(12)
            check("the §1 example Health/Check, sent one byte at a time -> the documented answer bytes",
                  answer == bytes.fromhex("00000008080112001a020801"), answer.hex())

            ids = random.sample(range(1, 2 ** 63), 499) + [2 ** 64 - 1]
            dates = {i: "2030-01-%02d" % (n % 28 + 1) for n, i in enumerate(ids) if n % 2}
            pipe_names = {i: "pipe-%d" % n for n, i in enumerate(ids) if not n % 2}
            raw.send_raw(b"".join(
                frame(request(i, "portal.v1.Admin/GetDay", admin_pb2.GetDayRequest(date=dates[i]), KEY)) if i in dates
                else frame(request(i, "portal.v1.Admin/CreateClient", admin_pb2.CreateClientRequest(name=pipe_names[i]), KEY))
                for i in ids))
            order = [raw.receive() for _ in ids]
            got = {r.id: r for r in order}
            bad = [i for i in ids if i not in got or got[i].status.code or (
                admin_pb2.GetDayResponse.FromString(got[i].payload).date != dates[i] if i in dates
                else admin_pb2.CreateClientResponse.FromString(got[i].payload).client.name != pipe_names[i])]
            check("500 GetDay/CreateClient calls in flight on one connection (random 64-bit ids, 2^64-1 too) each answered once, "
                  "matched by id (out of order: %s)" % ([r.id for r in order] != ids), not bad and len(got) == 500,
                  [show(got[i]) if i in got else "missing %d" % i for i in bad[:3]])

            fatal("a zero-length frame", connect(port, struct.pack(">I", 0)), "INVALID_ARGUMENT", "MALFORMED_FRAME")
            fatal("a frame that is not a RequestEnvelope (a truncated field)", connect(port, frame(b"\x12\x10portal")),
                  "INVALID_ARGUMENT", "MALFORMED_FRAME")
            for id, method in ((21, ""), (22, "Health/Check")):
                r = call(raw, id, method, health_pb2.HealthCheckRequest())
                expect("method %r (empty / without its package)" % method, r, "UNIMPLEMENTED", "UNKNOWN_METHOD", r.id == id)
            r = call(raw, 0, HEALTH, health_pb2.HealthCheckRequest())
            after = call(raw, 23, HEALTH, health_pb2.HealthCheckRequest())
            expect("id 0 (the connection carries on)", r, "INVALID_ARGUMENT", "INVALID_REQUEST_ID",
                   after.id == 23 and after.status.code == 0)
            day = admin_pb2.GetDayRequest(date=future)
            raw.send_raw(frame(request(77, "portal.v1.Portal/Login", portal_user(conn, "dupe")))
                         + frame(request(77, "portal.v1.Admin/GetDay", day, KEY)))
            two = sorted([raw.receive(), raw.receive()], key=lambda r: r.status.code)
            check("an id reused while in flight -> INVALID_ARGUMENT DUPLICATE_REQUEST_ID, the first carries on",
                  [r.id for r in two] == [77, 77] and portal_pb2.LoginResponse.FromString(two[0].payload).session_token
                  and is_(two[1], "INVALID_ARGUMENT", "DUPLICATE_REQUEST_ID"), [show(r) for r in two])
            r = call(raw, 77, "portal.v1.Admin/GetDay", day)
            check("an id may be reused once its answer has arrived", r.id == 77 and r.status.code == 0, show(r))

            # 2. Envelope and method conventions (§2, §3).
            raw.send_raw(b"".join(health(30 + n, name) for n, name in enumerate(
                ("", "portal.v1.Portal", "portal.v1.Admin", "portal.v1.Health", "portal.v1.Nope"))))
            got = [v[0] for _, v in sorted(gather(raw, 5).items())]
            check("Health/Check of '', portal.v1.Portal, .Admin, .Health -> SERVING; of portal.v1.Nope -> NOT_FOUND "
                  "SERVICE_NOT_FOUND", [(r.status.code, r.status.reason, r.payload) for r in got] == [(0, "", b"\x08\x01")] * 4
                  + [(5, "SERVICE_NOT_FOUND", b"")], [show(r) for r in got])
            block = admin(conn, "CreateBlock", date=future, start_time="06:00", end_time="07:00", label="Gone").block
            r = call(conn, 36, "portal.v1.Admin/DeleteBlock", admin_pb2.DeleteBlockRequest(block_id=block.block_id))
            check("an OK answer whose message is all defaults (DeleteBlock) has an empty payload and reason",
                  r.status.code == 0 and r.status.reason == "" and r.payload == b"", show(r))
            walk = types_pb2.ServiceDefaults(service_code="walk", duration_minutes=60, price_cents=1500, currency="gbp")
            inner = walk.SerializeToString() + b"\x2a\x01\xff"  # notes (field 5) = one invalid UTF-8 byte
            for what, method, payload, field in (
                    ("invalid UTF-8 in CreateClient.name", "CreateClient", b"\x0a\x02\xc3\x28", "name"),
                    ("a NUL in CreateClient.name", "CreateClient", b"\x0a\x03a\x00b", "name"),
                    ("invalid UTF-8 in UpsertService's service.notes", "UpsertService",
                     b"\x0a" + bytes([len(inner)]) + inner, "service.notes"),
                    ("bytes that are not protobuf at all", "CreateClient", b"\xff\xff\xff\xff", None)):
                envelope = request(37, "portal.v1.Admin/" + method, None, KEY)
                envelope.payload = payload
                conn.send(envelope)
                r = conn.receive()
                expect("%s (details.field=%s)" % (what, field), r, "INVALID_ARGUMENT", "MALFORMED_PAYLOAD",
                       r.status.details.get("field") == field)

            # 3. Metadata (§4).
            r = call(conn, 40, "portal.v1.Admin/GetDay", day, None, metadata={"Authorization": "Bearer " + KEY})
            check("key 'Authorization' is either matched case-insensitively (OK) or an ignored unknown key "
                  "(MISSING_CREDENTIALS); got %s" % (r.status.reason or "OK"),
                  r.status.code == 0 or is_(r, "UNAUTHENTICATED", "MISSING_CREDENTIALS"), show(r))
            r = call(conn, 41, "portal.v1.Admin/GetDay", day, metadata={"x-request-id": "abc", "x-Other": "1"})
            check("unknown metadata keys are ignored", r.status.code == 0, show(r))
            mine = portal_pb2.ListMyBookingsRequest()
            for what, value, method, message in (
                    ("the bare admin key", KEY, "Admin/GetDay", day), ("'Basic <key>'", "Basic " + KEY, "Admin/GetDay", day),
                    ("'Bearer'", "Bearer", "Admin/GetDay", day), ("'Bearer ', no token", "Bearer ", "Admin/GetDay", day),
                    ("a wrong admin key", "Bearer x" + KEY, "Admin/GetDay", day),
                    ("the bare session token", session, "Portal/ListMyBookings", mine)):
                r = call(conn, 42, "portal.v1." + method, message, None, metadata={"authorization": value})
                expect("authorization = %s on %s" % (what, method), r, "UNAUTHENTICATED", "INVALID_CREDENTIALS",
                       KEY not in r.status.message)
            for method, message in (("ListMyBookings", mine),
                                    ("ListBlocks", portal_pb2.ListBlocksRequest(date=future, service_code="walk"))):
                expect("the admin key on Portal/" + method, call(conn, 44, "portal.v1.Portal/" + method, message),
                       "PERMISSION_DENIED", "WRONG_CREDENTIAL_KIND")
            expect("a session token on Admin/GetDay", call(conn, 45, "portal.v1.Admin/GetDay", day, session),
                   "PERMISSION_DENIED", "WRONG_CREDENTIAL_KIND")

            # 4. Deadlines (§6).
            for method, message, token, ms in (
                    ("Admin/GetDay", day, KEY, 10000), ("Admin/GetDay", day, KEY, 2 ** 32 - 1),
                    ("Portal/ListBlocks", portal_pb2.ListBlocksRequest(date=future, service_code="walk"), session, 10000)):
                r = call(conn, 50, "portal.v1." + method, message, token, timeout_ms=ms)
                check("%s with timeout_ms=%d -> OK" % (method, ms), r.status.code == 0, show(r))
            writes = {}
            for n in range(100):
                label = "dl-%d" % n
                message = (admin_pb2.CreateClientRequest(name=label) if n % 2 else admin_pb2.CreateBlockRequest(
                    date=future, start_time="08:00", end_time="09:00", label=label))
                writes[1000 + n] = (label, frame(request(1000 + n, "portal.v1.Admin/" + type(message).__name__[:-7],
                                                         message, KEY, timeout_ms=max(1, n - 49))))
            conn.send_raw(b"".join(f for _, f in writes.values()))
            got = {i: v[0] for i, v in gather(conn, 100).items()}
            visible = client_names(conn) | {b.block.label for b in admin(conn, "GetDay", date=future).blocks}
            ok = [i for i in writes if got[i].status.code == 0]
            late = [i for i in writes if is_(got[i], "DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED")]
            check("100 pipelined CreateClient/CreateBlock, 50 with timeout_ms=1, 50 with 1-50 (%d OK, %d DEADLINE_EXCEEDED): "
                  "OK ones are written, DEADLINE_EXCEEDED ones are not" % (len(ok), len(late)),
                  len(ok) + len(late) == 100 and all(writes[i][0] in visible for i in ok)
                  and not any(writes[i][0] in visible for i in late),
                  [show(got[i]) for i in writes if i not in ok + late][:3]
                  + ["committed: " + writes[i][0] for i in late if writes[i][0] in visible][:5])
            blocks = []
            for n in range(20):
                blocks.append(admin(conn, "CreateBlock", date=future, start_time="10:00", end_time="11:00",
                                    label="hold-%d" % n).block.block_id)
                admin(conn, "SetCapacity", block_id=blocks[-1], service_code="walk", capacity=5, allow_overlap=True)
            conn.send_raw(b"".join(frame(request(2000 + n, "portal.v1.Portal/StartCheckout", portal_pb2.StartCheckoutRequest(
                service_code="walk", block_id=bid), session, timeout_ms=1 + 3 * n)) for n, bid in enumerate(blocks)))
            got = gather(conn, 20)
            held = {b.block.block_id: b.capacities[0].held for b in admin(conn, "GetDay", date=future).blocks if b.capacities}
            outcome = [(got[2000 + n][0].status.reason or "OK", held.get(bid)) for n, bid in enumerate(blocks)]
            check("20 pipelined StartCheckout with timeout_ms 1, 4, ... 58 (%d OK, %d DEADLINE_EXCEEDED): an OK one holds "
                  "its slot, a DEADLINE_EXCEEDED one none" % tuple(sum(o[0] == x for o in outcome) for x in ("OK", "DEADLINE_EXCEEDED")),
                  all(o in (("OK", 1), ("DEADLINE_EXCEEDED", 0)) for o in outcome), outcome)

            # 5. Backpressure (§5): a client that does not read; its half frame is not timed meanwhile.
            for n in range(60):
                admin(conn, "CreateBlock", date="2030-02-01", start_time="09:00", end_time="10:00", label="L" * 100)
            slow = Connection.__new__(Connection)  # with a small receive buffer, so that answers back up
            slow.sock, slow.buffer = socket.socket(), b""
            slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.sock.connect(("127.0.0.1", port))
            slow.send_raw(b"".join(frame(request(100 + n, "portal.v1.Admin/GetDay", admin_pb2.GetDayRequest(
                date="2030-02-01"), KEY)) for n in range(1000)) + health(99)[:10])
            time.sleep(2.5)
            got = gather(slow, 1000)
            slow.send_raw(health(99)[10:])
            r = slow.receive()
            check("1000 GetDay answers (8 MB) left unread for 2.5 s with half a frame sent (--frame-timeout-seconds 1): "
                  "all answered, then the half frame completes and is answered", len(got) == 1000 and r.id == 99
                  and r.status.code == 0 and all(v[0].status.code == 0 for v in got.values()), show(r))
            slow.close()

            # 6. Small limits on a second server.
            small, sport, b1 = start("b", "--max-in-flight", "4", "--max-connections", "3", "--max-frame-bytes", "4096",
                                     "--frame-timeout-seconds", "1", "--idle-timeout-seconds", "2",
                                     "--max-running-calls", "1", "--drain-grace-seconds", "1")
            ann = portal_user(b1, "ann")
            pad = request(1, HEALTH, health_pb2.HealthCheckRequest())
            pad.metadata["x-pad"] = "p" * (4096 - pad.ByteSize() - 20)
            while pad.ByteSize() < 4096:
                pad.metadata["x-pad"] += "p"
            b1.send(pad)
            r = b1.receive()
            check("a frame of exactly --max-frame-bytes (4096) is accepted", r.status.code == 0, show(r))
            fatal("a 4097-byte frame (details.max_frame_bytes=4096)", connect(sport, struct.pack(">I", 4097)),
                  "RESOURCE_EXHAUSTED", "FRAME_TOO_LARGE", {"max_frame_bytes": "4096"})
            names = {3000 + n: "fly-%d" % n for n in range(40)}
            b1.send_raw(frame(request(2999, "portal.v1.Portal/Login", ann)) + b"".join(frame(request(
                i, "portal.v1.Admin/CreateClient", admin_pb2.CreateClientRequest(name=name), KEY)) for i, name in names.items()))
            got = gather(b1, 41)
            refused = [i for i in names if is_(got[i][0], "RESOURCE_EXHAUSTED", "TOO_MANY_IN_FLIGHT")]
            present = client_names(b1)
            check("41 requests at once with --max-in-flight 4: %d refused TOO_MANY_IN_FLIGHT, and they did not run"
                  % len(refused), refused and all(len(v) == 1 for v in got.values()) and all(
                      (names[i] in present) == (i not in refused) and (i in refused or got[i][0].status.code == 0)
                      for i in names), [show(v[0]) for v in got.values()][:4])
            t0 = time.time()
            b1.send_raw(b"".join(frame(request(n, "portal.v1.Portal/Login", ann)) for n in (1, 2, 3)))
            time.sleep(0.05)
            other = connect(sport)
            r = call(other, 2, "portal.v1.Admin/GetDay", day, timeout_ms=100)
            other.close()
            # §5: a call whose deadline passes while it waits for its turn is answered
            # DEADLINE_EXCEEDED without running, when its turn comes.
            expect("GetDay, timeout_ms=100, waiting behind 3 Logins for the one run slot (--max-running-calls 1), "
                   "answered when its turn came (%.2f s)" % (time.time() - t0), r,
                   "DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED")
            gather(b1, 3)
            b1.close()
            time.sleep(0.2)
            t0, idle, header, body = time.time(), connect(sport), connect(sport, b"\x00\x00"), \
                connect(sport, struct.pack(">I", 50) + b"\x08\x01\x12")
            fatal("half a length header, then silence (--frame-timeout-seconds 1)", header, "DEADLINE_EXCEEDED",
                  "FRAME_TIMEOUT", window=(t0, 0.8, 2))
            fatal("a header and 3 of 50 bytes, then silence", body, "DEADLINE_EXCEEDED", "FRAME_TIMEOUT", window=(t0, 0.8, 2))
            fatal("a connection that sends nothing (--idle-timeout-seconds 2)", idle, "UNAVAILABLE", "IDLE_TIMEOUT",
                  window=(t0, 1.5, 4))
            time.sleep(0.2)
            three = [connect(sport) for _ in range(3)]
            served = [call(c, 1, HEALTH, health_pb2.HealthCheckRequest(), None).status.code for c in three]
            fatal("a 4th connection with --max-connections 3 (3 served: %s)" % (served == [0, 0, 0]),
                  connect(sport), "RESOURCE_EXHAUSTED", "TOO_MANY_CONNECTIONS")
            for c in three:
                c.close()
            time.sleep(0.3)
            fourth = connect(sport)
            r = call(fourth, 2, HEALTH, health_pb2.HealthCheckRequest(), None)
            check("once those close, a new connection is served", r.status.code == 0, show(r))
            fourth.send_raw(b"".join(frame(request(60 + n, "portal.v1.Portal/Login", ann)) for n in range(4)))
            time.sleep(0.1)
            t0, goaway = time.time(), []
            small.send_signal(signal.SIGTERM)
            got = gather(fourth, 4, goaway)
            small.wait(timeout=10)
            reasons = [got[60 + n][0].status.reason or "OK" for n in range(4)]
            # §8: with one run slot, at most one call is running when the grace ends (CANCELLED);
            # those still waiting for their turn never ran (SHUTTING_DOWN).
            check("4 slow Logins, one run slot, --drain-grace-seconds 1: one go-away, OK / at most one CANCELLED / "
                  "SHUTTING_DOWN (%s), exit 0 after %.1f s" % (reasons, time.time() - t0),
                  len(goaway) == 1 and is_(goaway[0], "UNAVAILABLE", "GOAWAY")
                  and set(reasons) <= {"OK", "CANCELLED", "SHUTTING_DOWN"} and reasons.count("CANCELLED") <= 1
                  and small.returncode == 0 and time.time() - t0 < 3,
                  (small.returncode, [show(g) for g in goaway], [show(v[0]) for v in got.values()]))

            # 7. Drain of the main server with calls in flight (§8).
            drain = {4000 + n: "drain-%d" % n for n in range(100)}
            conn.send_raw(b"".join(frame(request(3990 + n, "portal.v1.Portal/Login", wendy)) for n in range(4)) + b"".join(
                frame(request(i, "portal.v1.Admin/CreateClient", admin_pb2.CreateClientRequest(name=name), KEY))
                for i, name in drain.items()))
            time.sleep(0.05)
            t0 = time.time()
            server.send_signal(signal.SIGTERM)
            before = [conn.receive()]
            while before[-1].id != 0:
                before.append(conn.receive())
            goaway = [before.pop()]
            conn.send_raw(frame(request(5001, "portal.v1.Admin/CreateClient", admin_pb2.CreateClientRequest(name="late"), KEY))
                          + health(5002))
            with socket.socket() as probe:
                new_refused = probe.connect_ex(("127.0.0.1", port)) != 0
            got = gather(conn, 106 - len(before), goaway)
            for r in before:
                got.setdefault(r.id, []).append(r)
            expect("SIGTERM with 104 calls in flight: one go-away frame (id 0)", goaway[0], "UNAVAILABLE", "GOAWAY",
                   len(goaway) == 1)
            check("a new connection during the drain is refused", new_refused)
            expect("a request sent after the go-away", got[5001][0], "UNAVAILABLE", "SHUTTING_DOWN")
            r = got[5002][0]
            check("Health/Check after the go-away -> OK NOT_SERVING", r.status.code == 0
                  and health_pb2.HealthCheckResponse.FromString(r.payload).status == 2, show(r))
            statuses = [v[0].status.reason or "OK" for i, v in got.items() if i < 5000]
            check("every call in flight is answered once, OK or SHUTTING_DOWN (%d OK)" % statuses.count("OK"),
                  len(statuses) == 104 and all(len(v) == 1 for v in got.values())
                  and set(statuses) <= {"OK", "SHUTTING_DOWN"}, set(statuses))
            server.wait(timeout=15)
            check("portald exits 0 within the drain grace (5 s): %.1f s" % (time.time() - t0),
                  server.returncode == 0 and time.time() - t0 < 6, server.returncode)
            server, port, conn = start("a")
            names = client_names(conn)
            check("after a restart: the OK calls were written, the SHUTTING_DOWN ones (and 'late') were not",
                  all((drain[i] in names) == (got[i][0].status.code == 0) for i in drain) and "late" not in names)
            conn.close()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=15)
        finally:
            kill_if_running(*servers)

    check.finish()


if __name__ == "__main__":
    main()
