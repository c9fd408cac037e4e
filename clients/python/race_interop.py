#!/usr/bin/env python3
"""Races from another language: a Python client written from SPEC.md,
docs/protocol.md, docs/access.md, docs/checkout.md and proto/ alone checks a
real portald under concurrent callers: the capacity invariant (many clients,
each on its own connection, or pipelined on one), StartCheckout retries and
FinalizeCheckout repeats at the same moment, CancelCheckout racing
FinalizeCheckout, staff changing a capacity during a rush; then the admin
clients API (paging, validation), ListBookings of a day, Health names and
Logout. portald runs with `--payments simulated` (every PaymentIntent
approved; no Stripe).

Usage: race_interop.py PATH_TO_PORTALD

Prints one line per check and a closing 'N passed, N failed' line; exits 1 if
any check failed. Shares the framing helpers of interop_check.py.
"""
import datetime
import os
import signal
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_check import Checks, Connection, generate_messages, request, kill_if_running, start_portald, wait_for_port  # noqa: E402

CODES = {"OK": 0, "INVALID_ARGUMENT": 3, "NOT_FOUND": 5, "PERMISSION_DENIED": 7, "FAILED_PRECONDITION": 9,
         "UNAUTHENTICATED": 16}
KEY = "race-interop-admin-key-0123456789abcdef"
CLIENTS = 16  # each login costs two password hashes (~0.75 s each in a debug build, two at a time)
MISSING = 999999


def show(status):
    return "code=%d reason=%s details=%s message=%r" % (status.code, status.reason, dict(status.details), status.message)


def summary(statuses):
    """'5 OK, 11 CAPACITY_FULL' for a list of Status."""
    counts = {}
    for s in statuses:
        key = "OK" if s.code == 0 else "%d/%s" % (s.code, s.reason)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join("%d %s" % (n, k) for k, n in sorted(counts.items()))


class Peer:
    """One connection; `token` is the default credential of its calls."""

    def __init__(self, port, token=None):
        self.conn = Connection(port)
        self.conn.sock.settimeout(120)  # logins hash passwords; a debug build is slow
        self.token = token
        self.next_id = 0

    def frames(self, calls):
        """(ids, bytes) for calls = [(service, method, fields[, token])]."""
        from portal.v1 import admin_pb2, health_pb2, portal_pb2
        ids, data = [], b""
        for call in calls:
            service, name, fields = call[:3]
            token = call[3] if len(call) > 3 else self.token
            module = {"Admin": admin_pb2, "Portal": portal_pb2, "Health": health_pb2}[service]
            message = (health_pb2.HealthCheckRequest(**fields) if service == "Health"
                       else getattr(module, name + "Request")(**fields))
            self.next_id += 1
            body = request(self.next_id, "portal.v1.%s/%s" % (service, name), message, token).SerializeToString()
            ids.append(self.next_id)
            data += struct.pack(">I", len(body)) + body
        return ids, data

    def collect(self, ids):
        """The answers to `ids`, in their order (the server may answer in any order)."""
        got = {}
        for _ in ids:
            r = self.conn.receive()
            if r.id not in ids or r.id in got:
                raise SystemExit("unexpected answer id %d (%s)" % (r.id, show(r.status)))
            got[r.id] = r
        return [got[i] for i in ids]

    def call(self, service, name, token=None, /, **fields):
        ids, data = self.frames([(service, name, fields, token or self.token)])
        self.conn.send_raw(data)
        return self.collect(ids)[0]


def race(plan):
    """plan = [(peer, calls)]: every peer's frames are written back to back in one
    burst (each peer's calls pipelined in one write), then all answers are read.
    Returns one list of ResponseEnvelope per plan entry."""
    prepared = [(peer,) + peer.frames(calls) for peer, calls in plan]
    for peer, _, data in prepared:
        peer.conn.send_raw(data)
    # one peer may appear several times: read all of a peer's answers, then split them by entry
    answers = {}
    for peer in {id(p): p for p, _, _ in prepared}.values():
        ids = [i for p, entry_ids, _ in prepared if p is peer for i in entry_ids]
        answers.update(zip(((id(peer), i) for i in ids), peer.collect(ids)))
    return [[answers[(id(peer), i)] for i in ids] for peer, ids, _ in prepared]


def decode(service, name, r):
    from portal.v1 import admin_pb2, health_pb2, portal_pb2
    if r.status.code != 0:
        return None
    if service == "Health":
        return health_pb2.HealthCheckResponse.FromString(r.payload)
    module = admin_pb2 if service == "Admin" else portal_pb2
    return getattr(module, name + "Response").FromString(r.payload)


def main():
    portald = sys.argv[1]
    check = Checks()
    started = time.time()

    def expect(name, status, code, reason, field=None, extra=True, detail=""):
        check(name + " -> %s %s" % (code, reason) + (" field=" + field if field else ""),
              status.code == CODES[code] and status.reason == reason and extra and status.message != ""
              and (field is None or status.details.get("field") == field), show(status) + " " + str(detail))

    with tempfile.TemporaryDirectory() as tmp:
        generate_messages(os.path.join(tmp, "gen"))
        from portal.v1 import admin_pb2, health_pb2, portal_pb2, types_pb2

        server, port = start_portald(
            portald, os.path.join(tmp, "data", "portal.sqlite"),
            "--log-level", "warning", "--payments", "simulated", "--admin-key", KEY)
        try:
            wait_for_port(port, server, "portald").close()
            staff = Peer(port, KEY)

            def admin(name, /, **fields):
                r = staff.call("Admin", name, **fields)
                return r.status, decode("Admin", name, r)

            def must(name, /, **fields):
                status, answer = admin(name, **fields)
                if status.code != 0:
                    raise SystemExit("Admin/%s failed: %s" % (name, show(status)))
                return answer

            def usage(block_id):
                """(capacity, booked, held, remaining) of walk in a block, from GetDay."""
                for b in must("GetDay", date=D).blocks:
                    if b.block.block_id == block_id:
                        return [(c.capacity, c.booked, c.held, c.remaining) for c in b.capacities
                                if c.service_code == "walk"][0]
                return None

            def listed(peer, block_id):
                r = peer.call("Portal", "ListBlocks", date=D, service_code="walk")
                a = decode("Portal", "ListBlocks", r)
                return [b.remaining for b in a.blocks if b.block.block_id == block_id] if a else show(r.status)

            def mine(peer, block_id=None):
                r = peer.call("Portal", "ListMyBookings")
                a = decode("Portal", "ListMyBookings", r)
                if a is None:
                    return show(r.status)
                return [b for b in a.bookings if block_id is None or b.block_id == block_id]

            def day_bookings(block_id=None):
                return [b for b in must("ListBookings", date=D).bookings if block_id is None or b.block_id == block_id]

            def start(block_id):
                return ("Portal", "StartCheckout", dict(service_code="walk", block_id=block_id))

            def finalize(hold):
                return ("Portal", "FinalizeCheckout", dict(hold_token=hold.hold_token,
                                                           payment_intent_id=hold.payment_intent_id))

            def cancel(hold):
                return ("Portal", "CancelCheckout", dict(hold_token=hold.hold_token))

            def same_booking(a, b):
                """Equal but for payment_state (capture_pending or captured, docs/checkout.md)."""
                a, b = type(a).FromString(a.SerializeToString()), type(b).FromString(b.SerializeToString())
                a.ClearField("payment_state")
                b.ClearField("payment_state")
                return a == b

            paid_states = (types_pb2.PAYMENT_STATE_CAPTURE_PENDING, types_pb2.PAYMENT_STATE_CAPTURED)

            # The business: one service, hourly blocks on one date a week ahead (walks last 60 min,
            # so a client's walks in different blocks never overlap).
            D = (datetime.date.today() + datetime.timedelta(days=7)).isoformat()
            must("UpsertService", service=types_pb2.ServiceDefaults(
                service_code="walk", duration_minutes=60, price_cents=1500, currency="gbp"))
            blocks = {}

            def block(hour, label, capacity):
                b = must("CreateBlock", date=D, start_time="%02d:00" % hour, end_time="%02d:00" % (hour + 1),
                         label=label).block
                must("SetCapacity", block_id=b.block_id, service_code="walk", capacity=capacity)
                blocks[b.block_id] = b
                return b.block_id

            # Clients with logins: CreateClient and CreatePortalLogin pipelined, then every client
            # logs in on its own connection (plus two spare sessions of the last one), all at once.
            t0 = time.time()
            ids_, data = staff.frames([("Admin", "CreateClient", dict(name="Racer %02d" % i)) for i in range(CLIENTS)])
            staff.conn.send_raw(data)
            cids = [decode("Admin", "CreateClient", r).client.client_id for r in staff.collect(ids_)]
            ids_, data = staff.frames([("Admin", "CreatePortalLogin", dict(
                client_id=cid, username="racer%02d" % i, password="correct horse %02d" % i)) for i, cid in enumerate(cids)])
            staff.conn.send_raw(data)
            bad = [show(r.status) for r in staff.collect(ids_) if r.status.code]
            if bad:
                raise SystemExit("CreatePortalLogin failed: %s" % bad[:2])
            peers = [Peer(port) for _ in range(CLIENTS)]
            spare_a, spare_c = Peer(port), Peer(port)
            last = CLIENTS - 1
            logins = race([(p, [("Portal", "Login", dict(username="racer%02d" % i, password="correct horse %02d" % i))])
                           for i, p in enumerate(peers)]
                          + [(p, [("Portal", "Login", dict(username="racer%02d" % last,
                                                           password="correct horse %02d" % last))])
                             for p in (spare_a, spare_c)])
            for p, [r] in zip(peers + [spare_a, spare_c], logins):
                if r.status.code:
                    raise SystemExit("Login failed: %s" % show(r.status))
                p.token = decode("Portal", "Login", r).session_token
            login_seconds = time.time() - t0

            # 1a. One block of capacity 5, every client at the same moment on its own connection.
            B1 = block(6, "Rush", 5)
            watcher = Peer(port)
            answers = race([(p, [start(B1)]) for p in peers] + [(watcher, [("Health", "Check", dict(service=""))])])
            health = answers.pop()[0]
            statuses = [a[0].status for a in answers]
            winners = [i for i, s in enumerate(statuses) if s.code == 0]
            losers = [i for i, s in enumerate(statuses)
                      if s.code == CODES["FAILED_PRECONDITION"] and s.reason == "CAPACITY_FULL"]
            check("%d clients StartCheckout one block of capacity 5 at once, each on its own connection -> exactly "
                  "5 OK, the other %d FAILED_PRECONDITION CAPACITY_FULL" % (CLIENTS, CLIENTS - 5),
                  len(winners) == 5 and len(losers) == CLIENTS - 5, summary(statuses))
            check("Health/Check (no credentials) in the middle of the rush -> OK SERVING",
                  health.status.code == 0 and decode("Health", "Check", health).status
                  == health_pb2.HealthCheckResponse.SERVING, show(health.status))
            holds = {i: decode("Portal", "StartCheckout", answers[i][0]) for i in winners}
            check("the 5 holds: distinct tokens and PaymentIntents (pi_...), 1500 gbp, block and service echoed, "
                  "expiring ~10 min from now",
                  len({h.hold_token for h in holds.values()}) == 5
                  and len({h.payment_intent_id for h in holds.values()}) == 5
                  and all(h.payment_intent_id.startswith("pi_") and h.client_secret and h.amount_cents == 1500
                          and h.currency == "gbp" and h.block_id == B1 and h.service_code == "walk"
                          and 540 <= h.expires_at - time.time() <= 660 for h in holds.values()),
                  list(holds.values())[:1])
            check("GetDay: capacity 5, booked 0, held 5, remaining 0; ListBlocks remaining 0",
                  usage(B1) == (5, 0, 5, 0) and listed(peers[losers[0]], B1) == [0], (usage(B1), listed(peers[0], B1)))
            answers = race([(peers[i], [finalize(holds[i])]) for i in winners])
            done = {i: decode("Portal", "FinalizeCheckout", a[0]) for i, a in zip(winners, answers)}
            check("the 5 holders FinalizeCheckout at once -> 5 OK, 5 distinct bookings in the block, each the "
                  "caller's, paid 1500 gbp with its hold's PaymentIntent",
                  all(d is not None for d in done.values())
                  and len({d.booking.booking_id for d in done.values()}) == 5
                  and all(d.booking.client_id == cids[i] and d.booking.block_id == B1
                          and d.booking.payment_intent_id == holds[i].payment_intent_id
                          and d.booking.amount_cents == 1500 and d.booking.payment_state in paid_states
                          for i, d in done.items()),
                  summary([a[0].status for a in answers]))
            check("after finalizing: GetDay booked 5, held 0, remaining 0; ListBookings shows exactly those 5",
                  usage(B1) == (5, 5, 0, 0) and sorted(b.booking_id for b in day_bookings(B1))
                  == sorted(d.booking.booking_id for d in done.values()), (usage(B1), len(day_bookings(B1))))
            answers = race([(peers[i], [start(B1)]) for i in losers])
            check("the %d others try again at once -> all CAPACITY_FULL, nothing held" % len(losers),
                  all(a[0].status.reason == "CAPACITY_FULL" for a in answers) and usage(B1) == (5, 5, 0, 0),
                  summary([a[0].status for a in answers]))

            # 1b. The same rush pipelined on ONE connection: every client's request, each with its own token.
            B2 = block(7, "Pipelined", 5)
            shared = Peer(port)
            [answers] = race([(shared, [start(B2) + (p.token,) for p in peers])])
            winners2 = [i for i, r in enumerate(answers) if r.status.code == 0]
            check("%d StartCheckouts of %d clients pipelined in one write on one connection, capacity 5 -> exactly "
                  "5 OK, the rest CAPACITY_FULL" % (CLIENTS, CLIENTS),
                  len(winners2) == 5 and all(r.status.reason == "CAPACITY_FULL" for r in answers if r.status.code),
                  summary([r.status for r in answers]))
            check("GetDay: held 5, remaining 0", usage(B2) == (5, 0, 5, 0), usage(B2))
            holds2 = {i: decode("Portal", "StartCheckout", answers[i]) for i in winners2}
            [answers] = race([(shared, [finalize(holds2[i]) + (peers[i].token,) for i in winners2])])
            booked2 = {decode("Portal", "FinalizeCheckout", r).booking.client_id for r in answers if r.status.code == 0}
            check("their 5 FinalizeCheckouts pipelined on that connection -> 5 bookings, one per winner; GetDay "
                  "booked 5, held 0, remaining 0",
                  booked2 == {cids[i] for i in winners2} and usage(B2) == (5, 5, 0, 0),
                  (summary([r.status for r in answers]), usage(B2)))

            # 1c. Every client pipelines 3 StartCheckouts on its own connection, all at once.
            B3 = block(8, "Triple", 5)
            answers = race([(p, [start(B3)] * 3) for p in peers])
            holders3 = [i for i, a in enumerate(answers) if a[0].status.code == 0]

            def same_hold(rs):
                if any(r.status.code for r in rs):
                    return all(r.status.reason == "CAPACITY_FULL" for r in rs)
                hs = [decode("Portal", "StartCheckout", r) for r in rs]
                return all(h == hs[0] for h in hs)

            check("%d clients x 3 pipelined StartCheckouts at once, capacity 5 -> exactly 5 clients hold, each "
                  "client's 3 answers alike (the same hold and PaymentIntent, or all CAPACITY_FULL)" % CLIENTS,
                  len(holders3) == 5 and all(same_hold(a) for a in answers) and usage(B3) == (5, 0, 5, 0),
                  (summary([r.status for a in answers for r in a]), usage(B3)))
            answers = race([(peers[i], [cancel(decode("Portal", "StartCheckout", answers[i][0]))]) for i in holders3])
            check("the 5 holders CancelCheckout at once -> 5 OK; GetDay held 0, remaining 5",
                  all(a[0].status.code == 0 for a in answers) and usage(B3) == (5, 0, 0, 5),
                  (summary([a[0].status for a in answers]), usage(B3)))

            # 1d. One client retrying StartCheckout 10 times at once: contested (capacity 1) and roomy (100).
            B4, B5 = block(9, "Retry one", 1), block(10, "Retry many", 100)
            retry_holds = {}
            for bid, cap in ((B4, 1), (B5, 100)):
                [answers] = race([(peers[0], [start(bid)] * 10)])
                hs = [decode("Portal", "StartCheckout", r) for r in answers]
                check("client 0: 10 StartCheckouts at once on its connection, capacity %d -> 10 OK with the same "
                      "token, expiry, PaymentIntent and client_secret; GetDay held 1" % cap,
                      all(h is not None and h == hs[0] for h in hs) and usage(bid) == (cap, 0, 1, cap - 1),
                      (summary([r.status for r in answers]), len({h.hold_token for h in hs if h}), usage(bid)))
                retry_holds[bid] = hs[0]
            extra = [Peer(port, peers[1].token) for _ in range(4)]
            answers = race([(p, [start(B5)] * 3) for p in [peers[1]] + extra])
            hs = [decode("Portal", "StartCheckout", r) for a in answers for r in a]
            check("client 1: 15 StartCheckouts at once over 5 connections, capacity 100 -> one hold (the same "
                  "answer 15 times); GetDay held 2",
                  all(h is not None and h == hs[0] for h in hs) and usage(B5) == (100, 0, 2, 98),
                  (summary([r.status for a in answers for r in a]), len({h.hold_token for h in hs if h}), usage(B5)))
            retry_holds["client1"] = hs[0]

            # 2. FinalizeCheckout of one hold 10 times at once, over several connections.
            for what, owner, hold, bid in (("client 0's hold (capacity 1)", 0, retry_holds[B4], B4),
                                           ("client 1's hold (capacity 100)", 1, retry_holds["client1"], B5)):
                conns = [peers[owner]] + [Peer(port, peers[owner].token) for _ in range(4)]
                answers = race([(p, [finalize(hold)] * 2) for p in conns])
                bs = [decode("Portal", "FinalizeCheckout", r) for a in answers for r in a]
                check("%s finalized 10 times at once over 5 connections -> 10 OK, the same booking" % what,
                      all(b is not None and same_booking(b.booking, bs[0].booking) for b in bs),
                      (summary([r.status for a in answers for r in a]), {b.booking.booking_id for b in bs if b}))
                one = bs[0].booking.booking_id if bs[0] else None
                theirs, day = mine(peers[owner], bid), day_bookings(bid)
                check("... exactly one booking: in ListMyBookings and in ListBookings of the day",
                      [b.booking_id for b in theirs] == [one] and [b.booking_id for b in day if b.client_id == cids[owner]]
                      == [one], (theirs, [b.booking_id for b in day]))
            check("GetDay: capacity 1 block booked 1 held 0; capacity 100 block booked 1, held 1 (client 0's), "
                  "remaining 98", usage(B4) == (1, 1, 0, 0) and usage(B5) == (100, 1, 1, 98), (usage(B4), usage(B5)))
            answers = race([(p, [finalize(retry_holds[B5])]) for p in [peers[0]] * 2]
                           + [(p, [finalize(retry_holds[B5])]) for p in [peers[0]] * 2])
            bs = [decode("Portal", "FinalizeCheckout", a[0]) for a in answers]
            check("client 0's capacity-100 hold (several PaymentIntent attempts under its retries) finalized 4 "
                  "times at once -> one booking", all(b is not None and same_booking(b.booking, bs[0].booking) for b in bs)
                  and len(mine(peers[0], B5)) == 1 and usage(B5) == (100, 2, 0, 98),
                  (summary([a[0].status for a in answers]), usage(B5)))

            # 3. CancelCheckout racing FinalizeCheckout on the same hold.
            B6 = block(11, "Cancel race", 20)
            racers = list(range(2, min(CLIENTS, 14)))
            answers = race([(peers[i], [start(B6)]) for i in racers])
            holds6 = {i: decode("Portal", "StartCheckout", a[0]) for i, a in zip(racers, answers)}
            if any(h is None for h in holds6.values()):
                raise SystemExit("StartCheckout for the cancel race failed: %s" % summary([a[0].status for a in answers]))
            seconds = {i: Peer(port, peers[i].token) for i in racers if i % 3 == 2}
            plan = []
            for i in racers:
                h = holds6[i]
                if i % 3 == 0:
                    plan.append((peers[i], [cancel(h), finalize(h)]))      # pipelined, cancel first
                elif i % 3 == 1:
                    plan.append((peers[i], [finalize(h), cancel(h)]))      # pipelined, finalize first
                else:
                    plan += [(seconds[i], [cancel(h)]), (peers[i], [finalize(h)])]  # two connections
            answers = race(plan)
            outcome, cursor = {}, 0
            for i in racers:
                if i % 3 == 0:
                    c, f = answers[cursor]
                    cursor += 1
                elif i % 3 == 1:
                    f, c = answers[cursor]
                    cursor += 1
                else:
                    c, f = answers[cursor][0], answers[cursor + 1][0]
                    cursor += 2
                outcome[i] = (c.status, f)
            kinds = {}
            for i, (c, f) in outcome.items():
                if f.status.code == 0 and c.code == CODES["FAILED_PRECONDITION"] and c.reason == "HOLD_ALREADY_BOOKED":
                    kinds[i] = "booked"
                elif c.code == 0 and f.status.code == CODES["FAILED_PRECONDITION"] and f.status.reason == "HOLD_CANCELLED":
                    kinds[i] = "cancelled"
                else:
                    kinds[i] = "cancel %s / finalize %s" % (show(c), show(f.status))
            booked6 = [i for i in racers if kinds[i] == "booked"]
            check("%d holds, each CancelCheckout racing FinalizeCheckout (pipelined both orders, or two connections) "
                  "-> booked (cancel HOLD_ALREADY_BOOKED) or cancelled (finalize HOLD_CANCELLED), never both "
                  "(%d booked, %d cancelled)" % (len(racers), len(booked6), list(kinds.values()).count("cancelled")),
                  all(k in ("booked", "cancelled") for k in kinds.values()),
                  [k for k in kinds.values() if k not in ("booked", "cancelled")][:3])
            again = race([(peers[i], [finalize(holds6[i]), cancel(holds6[i])]) for i in racers])
            consistent = []
            for i, (f, c) in zip(racers, again):
                if kinds[i] == "booked":
                    ok = (f.status.code == 0 and c.status.reason == "HOLD_ALREADY_BOOKED"
                          and same_booking(decode("Portal", "FinalizeCheckout", f).booking,
                                           decode("Portal", "FinalizeCheckout", outcome[i][1]).booking))
                else:
                    ok = f.status.reason == "HOLD_CANCELLED" and c.status.code == 0
                consistent.append(ok or (i, kinds[i], show(f.status), show(c.status)))
            check("afterwards both calls repeat their outcome (the same booking / HOLD_ALREADY_BOOKED; "
                  "HOLD_CANCELLED / OK)", all(x is True for x in consistent), [x for x in consistent if x is not True][:3])
            per_client = {i: len(mine(peers[i], B6)) for i in racers}
            check("GetDay booked = the booked outcomes, held 0, remaining 20 - booked; each client's "
                  "ListMyBookings has the block exactly when it was booked",
                  usage(B6) == (20, len(booked6), 0, 20 - len(booked6))
                  and all(per_client[i] == (1 if i in booked6 else 0) for i in racers),
                  (usage(B6), per_client, booked6))

            # 4. Staff change a capacity while clients rush for it.
            B7 = block(12, "Shrinking", 8)
            wave1, wave2 = list(range(0, CLIENTS - 4)), list(range(CLIENTS - 4, CLIENTS))
            staff_calls = [("Admin", "SetCapacity", dict(block_id=B7, service_code="walk", capacity=c)) for c in (2, 5, 3)]
            staff_calls = [staff_calls[0], ("Admin", "GetDay", dict(date=D)), staff_calls[1],
                           ("Admin", "GetDay", dict(date=D)), staff_calls[2], ("Admin", "GetDay", dict(date=D))]
            plan = [(peers[i], [start(B7)]) for i in wave1[:4]] + [(staff, staff_calls)] \
                + [(peers[i], [start(B7)]) for i in wave1[4:]]
            answers = race(plan)
            staff_answers = answers.pop(4)
            h1 = [i for i, a in zip(wave1, answers) if a[0].status.code == 0]
            views = [decode("Admin", "SetCapacity", r).capacity for r in staff_answers[0::2] if r.status.code == 0]
            views = [(c.capacity, c.booked, c.held, c.remaining) for c in views] + [
                (c.capacity, c.booked, c.held, c.remaining) for r in staff_answers[1::2] if r.status.code == 0
                for b in decode("Admin", "GetDay", r).blocks if b.block.block_id == B7 for c in b.capacities]
            check("%d StartCheckouts racing SetCapacity 8 -> 2, 5, 3 (and GetDays) -> %d OK, the rest "
                  "CAPACITY_FULL: at most 8 (the most capacity there ever was)" % (len(wave1), len(h1)),
                  len(h1) <= 8 and all(a[0].status.reason == "CAPACITY_FULL" for a in answers if a[0].status.code)
                  and all(r.status.code == 0 for r in staff_answers),
                  (summary([a[0].status for a in answers]), [show(r.status) for r in staff_answers if r.status.code]))
            check("every SetCapacity/GetDay answer during the race: remaining = max(0, capacity - booked - held) "
                  ">= 0, booked + held <= 8", len(views) == 6 and all(
                      rem == max(0, cap - bk - hd) and rem >= 0 and bk + hd <= 8 for cap, bk, hd, rem in views), views)
            cap1, _, held1, _ = usage(B7)
            check("after the race GetDay shows the capacity last committed (one of 2, 5, 3), held = the OK answers "
                  "(%d), remaining = max(0, capacity - held)" % len(h1),
                  cap1 in (2, 5, 3) and usage(B7) == (cap1, 0, len(h1), max(0, cap1 - len(h1))), usage(B7))
            answers = race([(peers[i], [start(B7)]) for i in wave2])
            h2 = [i for i, a in zip(wave2, answers) if a[0].status.code == 0]
            want = min(len(wave2), max(0, cap1 - len(h1)))
            check("then %d more clients at once -> exactly min(%d, max(0, capacity %d - held %d)) = %d OK: holds "
                  "taken after the change respect the new capacity" % (len(wave2), len(wave2), cap1, len(h1), want),
                  len(h2) == want and all(a[0].status.reason == "CAPACITY_FULL"
                                                           for a in answers if a[0].status.code),
                  summary([a[0].status for a in answers]))
            holders7 = h1 + h2
            must("SetCapacity", block_id=B7, service_code="walk", capacity=len(holders7) + 1)
            rest = [i for i in range(CLIENTS) if i not in holders7]
            answers = race([(peers[i], [start(B7)]) for i in rest])
            h3 = [i for i, a in zip(rest, answers) if a[0].status.code == 0]
            check("staff raise it to held + 1 = %d; the %d clients without a hold rush -> exactly 1 OK"
                  % (len(holders7) + 1, len(rest)), len(h3) == 1, summary([a[0].status for a in answers]))
            holders7 += h3
            holds7 = {}
            for i in holders7:  # a retry answers the client's live hold
                holds7[i] = decode("Portal", "StartCheckout", peers[i].call("Portal", "StartCheckout",
                                                                          service_code="walk", block_id=B7))
            loser = [i for i in range(CLIENTS) if i not in holders7][0]
            plan = [(peers[i], [finalize(holds7[i])]) for i in holders7[: len(holders7) // 2]] \
                + [(staff, [("Admin", "SetCapacity", dict(block_id=B7, service_code="walk", capacity=0))])] \
                + [(peers[i], [finalize(holds7[i])]) for i in holders7[len(holders7) // 2:]] \
                + [(peers[loser], [start(B7)])]
            answers = race(plan)
            lowered = answers.pop(len(holders7) // 2)[0]
            late = answers.pop()[0]
            n = len(holders7)
            check("staff lower it to 0 while the %d holders finalize at once -> every FinalizeCheckout OK (an active "
                  "hold is the slot)" % n, all(a[0].status.code == 0 for a in answers) and lowered.status.code == 0,
                  (summary([a[0].status for a in answers]), show(lowered.status)))
            expect("a StartCheckout in the same burst", late.status, "FAILED_PRECONDITION", "CAPACITY_FULL")
            check("GetDay: capacity 0, booked %d, held 0, remaining 0 (never negative); ListBlocks remaining 0" % n,
                  usage(B7) == (0, n, 0, 0) and listed(peers[loser], B7) == [0], (usage(B7), listed(peers[loser], B7)))

            # 5. ListBookings of the day against what the races produced.
            day = day_bookings()
            per_block = {}
            for b in day:
                per_block[b.block_id] = per_block.get(b.block_id, 0) + 1
            booked_by_getday = {b.block.block_id: c.booked for b in must("GetDay", date=D).blocks
                                for c in b.capacities if c.booked}
            check("ListBookings of the day: one per booked slot, per block as GetDay counts them (%d)" % len(day),
                  per_block == booked_by_getday, (per_block, booked_by_getday))
            check("ListBookings orders by start time then id; each: the date, block start, start + 60 min, the "
                  "block's label, 1500 gbp, CONFIRMED, a pi_ id",
                  [(b.start_time, b.booking_id) for b in day] == sorted((b.start_time, b.booking_id) for b in day)
                  and all(b.date == D and b.start_time == blocks[b.block_id].start_time
                          and b.end_time == blocks[b.block_id].end_time and b.block_label == blocks[b.block_id].label
                          and (b.amount_cents, b.currency, b.service_code) == (1500, "gbp", "walk")
                          and b.status == types_pb2.BOOKING_STATUS_CONFIRMED and b.payment_intent_id.startswith("pi_")
                          for b in day), day[:1])
            union = sorted(b.booking_id for p in peers for b in mine(p) if b.date == D)
            check("ListBookings of the day = the union of every client's ListMyBookings (each booking its "
                  "client's)", union == sorted(b.booking_id for b in day)
                  and all(b.client_id == cids[i] for i, p in enumerate(peers) for b in mine(p)),
                  (len(union), len(day)))
            later = (datetime.date.today() + datetime.timedelta(days=60)).isoformat()
            status, empty = admin("ListBookings", date=later)
            check("ListBookings of a day without bookings -> OK, empty", status.code == 0 and not empty.bookings,
                  show(status))
            expect("ListBookings of 30 February", admin("ListBookings", date="2027-02-30")[0],
                   "INVALID_ARGUMENT", "INVALID_DATE", "date")

            # 6. Admin clients API.
            before = time.time()
            status, made = admin("CreateClient", name="Zoë Ångström", email="zoe.angstrom+dogs@mail.example.co.uk",
                                 phone="+44 20 7946 0958", can_self_reschedule=True)
            z = made.client if made else None
            check("CreateClient echoes name (non-ASCII), email, phone, can_self_reschedule; login NONE, no "
                  "username, created_at now", z is not None and z.client_id > 0
                  and (z.name, z.email, z.phone, z.can_self_reschedule, z.login_state, z.username)
                  == ("Zoë Ångström", "zoe.angstrom+dogs@mail.example.co.uk", "+44 20 7946 0958", True,
                      types_pb2.PORTAL_LOGIN_STATE_NONE, "") and before - 5 <= z.created_at <= time.time() + 5,
                  (show(status), z))
            check("GetClient answers the same client", must("GetClient", client_id=z.client_id).client == z)
            expect("GetClient of a missing id", admin("GetClient", client_id=MISSING)[0],
                   "NOT_FOUND", "CLIENT_NOT_FOUND", "client_id")
            expect("GetClient of id 0", admin("GetClient", client_id=0)[0], "INVALID_ARGUMENT", "INVALID_ID", "client_id")
            status, upd = admin("UpdateClient", client_id=z.client_id, phone="07700 900123")
            u = upd.client if upd else None
            check("UpdateClient with only phone changes the phone, keeps name, email, flag, created_at",
                  u is not None and u.phone == "07700 900123" and (u.name, u.email, u.can_self_reschedule, u.created_at)
                  == (z.name, z.email, True, z.created_at) and must("GetClient", client_id=z.client_id).client == u,
                  (show(status), u))
            status, upd = admin("UpdateClient", client_id=z.client_id, email="")
            check("UpdateClient email '' clears it, the rest unchanged", upd is not None and upd.client.email == ""
                  and upd.client.phone == "07700 900123" and upd.client.name == z.name, show(status))
            r15 = must("GetClient", client_id=cids[last]).client
            status, upd = admin("UpdateClient", client_id=cids[last], name="Racer Fifteen")
            check("UpdateClient of a client with a login keeps login_state ACTIVE and its username",
                  upd is not None and (upd.client.name, upd.client.login_state, upd.client.username)
                  == ("Racer Fifteen", types_pb2.PORTAL_LOGIN_STATE_ACTIVE, r15.username), show(status))

            def listing():
                return must("ListClients", page_size=500).clients

            everyone = listing()
            good_local, good_domain = "l" * 64, "a" * 63 + "." + "b" * 63 + "." + "c" * 61
            accepted = [
                (dict(name="é" * 200), "a name of 200 'é' (400 bytes)"),
                (dict(name="\U0001F44D\U0001F3FD" * 100), "a name of 100 skin-toned thumbs (200 scalars)"),
                (dict(name="Ann", email=good_local + "@" + good_domain), "an e-mail of exactly 254 characters"),
                (dict(name="Ann", phone="1" * 40), "a phone of 40 characters"),
            ]
            for fields, what in accepted:
                status, made = admin("CreateClient", **fields)
                check("CreateClient accepts %s" % what, status.code == 0 and all(
                    getattr(made.client, k) == v for k, v in fields.items()), show(status))
            everyone = listing()
            refused = [
                (dict(name="   "), "INVALID_NAME", "name", "a blank name"),
                (dict(name="Ann\nLee"), "INVALID_NAME", "name", "a name of two lines"),
                (dict(name="é" * 201), "INVALID_NAME", "name", "a name of 201 'é'"),
                (dict(name="\U0001F44D\U0001F3FD" * 100 + "a"), "INVALID_NAME", "name", "a name of 201 scalars"),
                (dict(name="Ann", email="ann@example"), "INVALID_EMAIL", "email", "an e-mail with a one-label domain"),
                (dict(name="Ann", email="ann@@example.com"), "INVALID_EMAIL", "email", "an e-mail with two @"),
                (dict(name="Ann", email="ann.example.com"), "INVALID_EMAIL", "email", "an e-mail without @"),
                (dict(name="Ann", email=".ann@example.com"), "INVALID_EMAIL", "email", "a leading dot"),
                (dict(name="Ann", email="ann.@example.com"), "INVALID_EMAIL", "email", "a trailing dot"),
                (dict(name="Ann", email="an..n@example.com"), "INVALID_EMAIL", "email", "a double dot"),
                (dict(name="Ann", email="a" * 65 + "@example.com"), "INVALID_EMAIL", "email", "a local part of 65"),
                (dict(name="Ann", email="ann@-example.com"), "INVALID_EMAIL", "email", "a label starting with -"),
                (dict(name="Ann", email="ann@example-.com"), "INVALID_EMAIL", "email", "a label ending with -"),
                (dict(name="Ann", email="ann@" + "d" * 64 + ".com"), "INVALID_EMAIL", "email", "a label of 64"),
                (dict(name="Ann", email="ann lee@example.com"), "INVALID_EMAIL", "email", "a space"),
                (dict(name="Ann", email='"ann"@example.com'), "INVALID_EMAIL", "email", "quotes"),
                (dict(name="Ann", email="ann@[192.0.2.1]"), "INVALID_EMAIL", "email", "brackets"),
                (dict(name="Ann", email=good_local + "@" + good_domain + "c"), "INVALID_EMAIL", "email",
                 "an e-mail of 255 characters"),
                (dict(name="Ann", phone="020\n7946"), "INVALID_PHONE", "phone", "a phone with a newline"),
                (dict(name="Ann", phone="020\t7946"), "INVALID_PHONE", "phone", "a phone with a tab"),
                (dict(name="Ann", phone="\u00e9" * 41), "INVALID_PHONE", "phone", "a phone of 41 'é'"),
            ]
            for fields, reason, field, what in refused:
                expect("CreateClient with %s" % what, admin("CreateClient", **fields)[0], "INVALID_ARGUMENT", reason, field)
            snapshot = must("GetClient", client_id=z.client_id).client
            for fields, reason, field, what in [
                    (dict(name=""), "INVALID_NAME", "name", "an empty name"),
                    (dict(name=" \t "), "INVALID_NAME", "name", "a blank name"),
                    (dict(email="zoe@localhost"), "INVALID_EMAIL", "email", "a one-label domain"),
                    (dict(phone="1" * 41), "INVALID_PHONE", "phone", "a phone of 41"),
                    (dict(name="Zoe", email="bad@", phone="1"), "INVALID_EMAIL", "email", "a bad e-mail beside good fields")]:
                expect("UpdateClient with %s" % what, admin("UpdateClient", client_id=z.client_id, **fields)[0],
                       "INVALID_ARGUMENT", reason, field)
            check("after the refusals ListClients and the updated client are unchanged (nothing half written)",
                  listing() == everyone and must("GetClient", client_id=z.client_id).client == snapshot)

            ids_, data = staff.frames([("Admin", "CreateClient", dict(name="Page filler %02d" % i)) for i in range(40)])
            staff.conn.send_raw(data)
            check("40 CreateClients pipelined -> 40 OK, distinct ids",
                  len({decode("Admin", "CreateClient", r).client.client_id for r in staff.collect(ids_)
                       if r.status.code == 0}) == 40)
            everyone = [c.client_id for c in listing()]
            check("ListClients (page_size 500) lists every client once, by id (%d)" % len(everyone),
                  everyone == sorted(set(everyone)) and set(cids) <= set(everyone))
            pages, token, newcomer, seen_tokens = [], "", None, []
            while True:
                status, page = admin("ListClients", page_size=7, page_token=token)
                if page is None:
                    pages.append(show(status))
                    break
                pages.append([c.client_id for c in page.clients])
                if len(pages) == 2:  # a client added mid-walk must not shift the pages
                    newcomer = must("CreateClient", name="Late arrival").client.client_id
                    again = must("ListClients", page_size=7, page_token=token)
                    seen_tokens.append([c.client_id for c in again.clients] == pages[-1])
                token = page.next_page_token
                if not token or len(pages) > 50:
                    break
            walked = [i for p in pages if isinstance(p, list) for i in p]
            check("ListClients page_size 7 over %d pages: every client exactly once, by id, the one added "
                  "mid-walk last; full pages but the last; last next_page_token ''" % len(pages),
                  walked == everyone + [newcomer] and all(isinstance(p, list) and len(p) == 7 for p in pages[:-1])
                  and 1 <= len(pages[-1]) <= 7 and token == "", (pages[:3], len(walked), len(everyone)))
            check("the same page_token asked twice answers the same page", seen_tokens == [True], seen_tokens)
            status, page = admin("ListClients")
            check("ListClients page_size 0 -> 50 clients and a next_page_token", page is not None
                  and [c.client_id for c in page.clients] == walked[:50] and page.next_page_token != "", show(status))
            status, page = admin("ListClients", page_size=100000)
            check("ListClients page_size 100000 -> served (at most 500): all %d, no next page" % len(walked),
                  page is not None and [c.client_id for c in page.clients] == walked and page.next_page_token == "",
                  show(status))
            expect("ListClients with a base64url page_token of 'clients:' (no id)",
                   admin("ListClients", page_token="Y2xpZW50czo")[0], "INVALID_ARGUMENT", "INVALID_PAGE_TOKEN", "page_token")

            # 7. Health names and Logout.
            r = [watcher.call("Health", "Check", service=s) for s in ("portal.v1.portal", "grpc.health.v1.Health")]
            check("Health/Check of 'portal.v1.portal' (wrong case) and 'grpc.health.v1.Health' -> NOT_FOUND "
                  "SERVICE_NOT_FOUND", all(x.status.code == 5 and x.status.reason == "SERVICE_NOT_FOUND" for x in r),
                  [show(x.status) for x in r])
            main15 = peers[last]
            # a request id reused while a slow Login is in flight: the duplicate must not run
            dup = Peer(port)
            env_login = request(900, "portal.v1.Portal/Login", portal_pb2.LoginRequest(
                username="racer%02d" % last, password="correct horse %02d" % last))
            env_make = request(900, "portal.v1.Admin/CreateClient", admin_pb2.CreateClientRequest(name="Dup Request"), KEY)
            dup.conn.send_raw(b"".join(struct.pack(">I", len(e.SerializeToString())) + e.SerializeToString()
                                       for e in (env_login, env_make)))
            two = sorted([dup.conn.receive(), dup.conn.receive()], key=lambda x: x.status.code)
            check("an id reused while a Login is in flight: the reuse (a CreateClient) -> DUPLICATE_REQUEST_ID and "
                  "was not run; the Login answers OK",
                  [x.id for x in two] == [900, 900] and two[0].status.code == 0
                  and two[1].status.reason == "DUPLICATE_REQUEST_ID"
                  and "Dup Request" not in {c.name for c in listing()}, [show(x.status) for x in two])
            spare_b = Peer(port, decode("Portal", "Login", two[0]).session_token if two[0].status.code == 0 else "x")

            r = spare_a.call("Portal", "Logout")
            check("Logout -> OK, empty payload", r.status.code == 0 and r.payload == b"", show(r.status))
            expect("the logged-out token on ListMyBookings", spare_a.call("Portal", "ListMyBookings").status,
                   "UNAUTHENTICATED", "INVALID_CREDENTIALS")
            expect("Logout again with that token", spare_a.call("Portal", "Logout").status,
                   "UNAUTHENTICATED", "INVALID_CREDENTIALS")
            check("the same client's other sessions keep working",
                  isinstance(mine(main15), list) and isinstance(mine(spare_b), list), (mine(main15), mine(spare_b)))
            [answers] = race([(spare_b, [("Portal", "Logout", {})] * 5)])
            check("5 Logouts of one session at once -> at least one OK, the others OK or INVALID_CREDENTIALS (%s); "
                  "then the token is dead" % summary([x.status for x in answers]),
                  any(x.status.code == 0 for x in answers)
                  and all(x.status.code == 0 or x.status.reason == "INVALID_CREDENTIALS" for x in answers)
                  and spare_b.call("Portal", "ListMyBookings").status.reason == "INVALID_CREDENTIALS",
                  summary([x.status for x in answers]))
            anonymous = Peer(port)
            expect("Logout without credentials", anonymous.call("Portal", "Logout").status,
                   "UNAUTHENTICATED", "MISSING_CREDENTIALS")
            must("DisablePortalLogin", client_ids=[cids[last]])
            expect("a disabled login's session", spare_c.call("Portal", "ListMyBookings").status,
                   "UNAUTHENTICATED", "LOGIN_DISABLED")
            r = spare_c.call("Portal", "Logout")
            check("a session whose login was disabled may still log out -> OK", r.status.code == 0, show(r.status))
            expect("that session afterwards (logged out, not merely disabled)",
                   spare_c.call("Portal", "ListMyBookings").status, "UNAUTHENTICATED", "INVALID_CREDENTIALS")
            expect("the client's other session while disabled", main15.call("Portal", "ListMyBookings").status,
                   "UNAUTHENTICATED", "LOGIN_DISABLED")

            for p in [staff, watcher, shared, dup, anonymous, spare_a, spare_b, spare_c] + peers + extra + list(seconds.values()):
                p.conn.close()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            check("portald exits cleanly (logins took %.1f s, whole run %.1f s)"
                  % (login_seconds, time.time() - started), server.returncode == 0, server.returncode)
        finally:
            kill_if_running(server)

    check.finish()


if __name__ == "__main__":
    main()
