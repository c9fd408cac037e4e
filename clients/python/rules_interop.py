#!/usr/bin/env python3
"""Domain rules from another language: a Python client written from SPEC.md
§1-§4, docs/protocol.md, docs/access.md, docs/checkout.md and proto/ alone
checks a real portald's overlap rule (allow_overlap), "a started block cannot
be booked" in far-away time zones, the fields of a booking, capacity and
ListBlocks, bad input to the timetable and service calls, login answers and
rate limiting, and that one client never reaches another's holds or bookings.
What staff_interop.py already checks is not repeated. Bookings exist only
through pre-pay checkout, so every portald runs with `--payments simulated`.

Usage: rules_interop.py PATH_TO_PORTALD

Prints one line per check and a closing 'N passed, N failed' line; exits 1 if
any check failed. Shares the framing helpers of interop_check.py.
"""
import datetime
import os
import signal
import sys
import tempfile
import time
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_check import Checks, generate_messages, request, request_builders, kill_if_running, start_portald, wait_for_port  # noqa: E402

CODES = {"OK": 0, "INVALID_ARGUMENT": 3, "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7,
         "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "UNAUTHENTICATED": 16}
MISSING = 999999  # an id that does not exist


def show(status):
    return "code=%d reason=%s details=%s message=%r" % (
        status.code, status.reason, dict(status.details), status.message)


def same_answer(s1, s2, echoed=()):
    """True when two answers are alike, apart from each request's own `echoed` value (an id it named)."""
    def norm(status, value):
        text = lambda t: t.replace(str(value), "<id>") if value is not None else t  # noqa: E731
        return (status.code, status.reason, text(status.message),
                {k: text(v) for k, v in status.details.items()})
    v1, v2 = echoed if echoed else (None, None)
    return norm(s1, v1) == norm(s2, v2)


class Server:
    """One portald on a free port with a fresh database, and typed calls to it."""

    def __init__(self, portald, folder, *flags):
        from portal.v1 import admin_pb2, portal_pb2
        self.modules = {"Admin": admin_pb2, "Portal": portal_pb2}
        self.process, port = start_portald(
            portald, os.path.join(folder, "portal.sqlite"), "--log-level", "warning", "--payments", "simulated",
            *flags)
        self.conn = wait_for_port(port, self.process, "portald")
        self.conn.sock.settimeout(60)  # logins hash passwords; a debug build is slow
        self.key = open(os.path.join(folder, "admin.key")).read().strip()
        self.next_id = 0

    def rpc(self, service, name, token, payload=None, /, **fields):
        module = self.modules[service]
        self.next_id += 1
        envelope = request(self.next_id, "portal.v1.%s/%s" % (service, name),
                           getattr(module, name + "Request")(**fields), token=token)
        if payload is not None:
            envelope.payload = payload
        self.conn.send(envelope)
        r = self.conn.receive()
        if r.id != self.next_id:
            raise SystemExit("answer for id %d, expected %d" % (r.id, self.next_id))
        answer = getattr(module, name + "Response").FromString(r.payload) if r.status.code == 0 else None
        return r.status, answer

    def admin(self, name, /, **fields):
        return self.rpc("Admin", name, self.key, **fields)

    def must(self, name, /, **fields):
        status, answer = self.admin(name, **fields)
        if status.code != 0:
            raise SystemExit("Admin/%s %s failed: %s" % (name, fields, show(status)))
        return answer

    def portal(self, token, name, /, **fields):
        return self.rpc("Portal", name, token, **fields)

    def login(self, username, password=None):
        return self.portal(None, "Login", username=username, password="correct horse " + username if password is None else password)

    def client(self, name):
        """A client with a portal login; its (client_id, session token)."""
        cid = self.must("CreateClient", name=name.title()).client.client_id
        self.must("CreatePortalLogin", client_id=cid, username=name, password="correct horse " + name)
        status, session = self.login(name)
        if status.code != 0:
            raise SystemExit("Login %s failed: %s" % (name, show(status)))
        return cid, session.session_token

    def service(self, code, minutes, price, currency="gbp"):
        from portal.v1 import types_pb2
        self.must("UpsertService", service=types_pb2.ServiceDefaults(
            service_code=code, duration_minutes=minutes, price_cents=price, currency=currency))

    def block(self, date, start, end, label, overlap=(), **capacities):
        bid = self.must("CreateBlock", date=date, start_time=start, end_time=end, label=label).block.block_id
        for code, capacity in capacities.items():
            self.must("SetCapacity", block_id=bid, service_code=code, capacity=capacity,
                      allow_overlap=code in overlap)
        return bid

    def day(self, date):
        return {b.block.label: {c.service_code: (c.capacity, c.booked, c.held, c.remaining)
                                for c in b.capacities} for b in self.must("GetDay", date=date).blocks}

    def start(self, token, block_id, service="walk", **fields):
        return self.portal(token, "StartCheckout", service_code=service, block_id=block_id, **fields)

    def book(self, token, block_id, service="walk"):
        status, hold = self.start(token, block_id, service)
        if status.code != 0:
            return status, None
        status, done = self.portal(token, "FinalizeCheckout", hold_token=hold.hold_token,
                                   payment_intent_id=hold.payment_intent_id)
        return status, (done.booking if done else None)

    def blocks(self, token, date, service="walk"):
        status, answer = self.portal(token, "ListBlocks", date=date, service_code=service)
        return [(x.block.label, x.remaining) for x in answer.blocks] if answer else show(status)

    def mine(self, token, **fields):
        status, answer = self.portal(token, "ListMyBookings", **fields)
        return list(answer.bookings) if answer else show(status)

    def stop(self):
        self.conn.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        return self.process.returncode

    def kill(self):
        kill_if_running(self.process)


def hhmm(minutes):
    return "%02d:%02d" % divmod(minutes, 60)


def main():
    portald = sys.argv[1]
    check = Checks()

    def expect(name, status, code, reason, field=None, extra=True):
        check(name + " -> %s %s" % (code, reason) + (" field=" + field if field else ""),
              status.code == CODES[code] and status.reason == reason and extra
              and (field is None or status.details.get("field") == field), show(status))

    with tempfile.TemporaryDirectory() as tmp:
        generate_messages(os.path.join(tmp, "gen"))
        from portal.v1 import types_pb2

        servers = []
        try:
            srv = Server(portald, os.path.join(tmp, "main"))
            servers.append(srv)
            zoned = {zone: Server(portald, os.path.join(tmp, zone.replace("/", "_")), "--time-zone", zone)
                     for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago")}
            servers.extend(zoned.values())
            today = datetime.date.today()
            d1, d2, d3, d4, d5, d6, d7 = [(today + datetime.timedelta(days=i)).isoformat() for i in range(7, 14)]
            srv.service("walk", 60, 1500)
            srv.service("daycare", 480, 4000)
            srv.service("groom", 30, 2500)
            ids, tokens = {}, {}
            for name in ("ada", "bob", "cyd", "dee", "eve"):
                ids[name], tokens[name] = srv.client(name)
            ada, bob, cyd, dee, eve = (tokens[n] for n in ("ada", "bob", "cyd", "dee", "eve"))

            # 1. allow_overlap (SPEC §1 "Block capacity"): walk and groom forbid overlap, daycare allows it.
            A = srv.block(d1, "09:00", "12:00", "A", overlap=("daycare",), walk=5, daycare=5, groom=5)
            B = srv.block(d1, "09:30", "10:30", "B", overlap=("daycare",), walk=5, daycare=5)
            C = srv.block(d1, "10:00", "11:00", "C", walk=5)
            E = srv.block(d1, "11:00", "12:00", "E", walk=5)
            F = srv.block(d1, "14:00", "15:00", "F", walk=5)
            G = srv.block(d1, "14:30", "15:30", "G", walk=5)
            flags = {(b.block.label, c.service_code): c.allow_overlap
                     for b in srv.must("GetDay", date=d1).blocks for c in b.capacities}
            check("GetDay shows allow_overlap per block and service as set",
                  flags[("A", "daycare")] and not flags[("A", "walk")] and not flags[("A", "groom")], flags)
            status, booking_a = srv.book(ada, A)
            check("ada books a walk in A (09:00-10:00)", status.code == 0, show(status))
            expect("ada: a second walk in the same block A (allow_overlap=false)", srv.start(ada, A)[0],
                   "FAILED_PRECONDITION", "OVERLAPPING_BOOKING", extra=srv.day(d1)["A"]["walk"] == (5, 1, 0, 4))
            expect("ada: a walk in B (09:30-10:30) overlapping her 09:00-10:00 booking", srv.start(ada, B)[0],
                   "FAILED_PRECONDITION", "OVERLAPPING_BOOKING", extra=srv.day(d1)["B"]["walk"] == (5, 0, 0, 5))
            status, hold_c = srv.start(ada, C)
            check("ada: a walk in C starting when her booking ends (10:00) is no overlap", status.code == 0,
                  show(status))
            if hold_c:
                srv.portal(ada, "CancelCheckout", hold_token=hold_c.hold_token)
            status, booking_e = srv.book(ada, E)
            check("ada: a walk in E (11:00-12:00, inside block A's span but not her 09:00-10:00 booking's) is allowed",
                  status.code == 0, show(status))
            status, hold_f = srv.start(ada, F)
            check("ada holds a walk in F (14:00-15:00), not overlapping anything", status.code == 0, show(status))
            expect("ada: a walk in G (14:30) overlapping her *hold* in F", srv.start(ada, G)[0],
                   "FAILED_PRECONDITION", "OVERLAPPING_BOOKING", extra=srv.day(d1)["G"]["walk"] == (5, 0, 0, 5))
            srv.portal(ada, "CancelCheckout", hold_token=hold_f.hold_token)
            status, hold_g = srv.start(ada, G)
            check("after CancelCheckout of the F hold, the walk in G is allowed", status.code == 0, show(status))
            srv.portal(ada, "CancelCheckout", hold_token=hold_g.hold_token)
            status, hold_bob = srv.start(bob, B)
            check("another client (bob) is unaffected: he holds a walk in B", status.code == 0, show(status))
            expect("bob: a walk in A overlapping his own hold in B", srv.start(bob, A)[0],
                   "FAILED_PRECONDITION", "OVERLAPPING_BOOKING")
            srv.portal(bob, "CancelCheckout", hold_token=hold_bob.hold_token)
            s1, day1 = srv.book(ada, A, "daycare")
            s2, hold2 = srv.start(ada, A, "daycare")
            s3 = srv.portal(ada, "FinalizeCheckout", hold_token=hold2.hold_token,
                            payment_intent_id=hold2.payment_intent_id)[0] if hold2 else s2
            check("allow_overlap=true: ada books two daycares in the same block A (two dogs)",
                  s1.code == 0 and s2.code == 0 and s3.code == 0 and srv.day(d1)["A"]["daycare"] == (5, 2, 0, 3),
                  (show(s1), show(s2), show(s3), srv.day(d1)["A"]))
            status, hold_dc = srv.start(ada, B, "daycare")
            check("allow_overlap=true: and a daycare in the overlapping block B", status.code == 0, show(status))
            status, groom = srv.start(ada, A, "groom")
            check("overlap is per service: ada holds a groom (allow_overlap=false) in A beside her walk there",
                  status.code == 0, show(status))
            srv.must("SetCanSelfReschedule", client_ids=[ids["ada"]], can_self_reschedule=True)
            before = [(b.booking_id, b.block_id) for b in srv.mine(ada)]
            expect("RescheduleBooking of ada's E walk into B (overlaps her A walk)",
                   srv.portal(ada, "RescheduleBooking", booking_id=booking_e.booking_id, new_block_id=B)[0],
                   "FAILED_PRECONDITION", "OVERLAPPING_BOOKING",
                   extra=[(b.booking_id, b.block_id) for b in srv.mine(ada)] == before)
            status, moved = srv.portal(ada, "RescheduleBooking", booking_id=booking_a.booking_id, new_block_id=B)
            check("RescheduleBooking of ada's A walk into B: the moved booking itself does not count as overlap",
                  status.code == 0 and (moved.booking.block_id, moved.booking.start_time, moved.booking.end_time)
                  == (B, "09:30", "10:30"), show(status))

            # 2. The booking's fields (SPEC §1 "Booking").
            S = srv.block(d2, "08:00", "08:30", "Short", walk=3)
            L = srv.block(d2, "12:00", "18:00", "Long", walk=3)
            N = srv.block(d2, "23:00", "23:30", "Late", daycare=2)
            status, hold = srv.start(cyd, S)
            status2, done = srv.portal(cyd, "FinalizeCheckout", hold_token=hold.hold_token,
                                       payment_intent_id=hold.payment_intent_id)
            bs = done.booking if done else None
            check("a booking in a 30-minute block: start = block start, end = start + 60 min (the service's), "
                  "label, price, currency, client, service, block, PaymentIntent, CONFIRMED",
                  bs is not None and (bs.date, bs.start_time, bs.end_time, bs.block_label, bs.amount_cents,
                                      bs.currency, bs.client_id, bs.service_code, bs.block_id,
                                      bs.payment_intent_id, bs.status)
                  == (d2, "08:00", "09:00", "Short", 1500, "gbp", ids["cyd"], "walk", S, hold.payment_intent_id,
                      types_pb2.BOOKING_STATUS_CONFIRMED), (show(status2), bs))
            status, bl = srv.book(cyd, L)
            check("a booking in a 6-hour block ends after the service's 60 min (12:00-13:00)",
                  bl is not None and (bl.start_time, bl.end_time) == ("12:00", "13:00"), (show(status), bl))
            status, bn = srv.book(cyd, N, "daycare")
            check("a 480-min daycare from 23:00 ends 07:00 the next day; its date stays the start's",
                  bn is not None and (bn.date, bn.start_time, bn.end_time) == (d2, "23:00", "07:00"),
                  (show(status), bn))
            status, renamed = srv.admin("UpdateBlock", block_id=S, label="Short renamed")
            labels = [b.block_label for b in srv.mine(cyd, from_date=d2, to_date=d2) if b.block_id == S]
            staff = [b.block_label for b in srv.must("ListBookings", date=d2).bookings if b.block_id == S]
            check("UpdateBlock renames a booked block (the label always can change)",
                  status.code == 0 and renamed.block.label == "Short renamed"
                  and "Short renamed" in srv.day(d2), show(status))
            check("the booking keeps the label of booking time (ListMyBookings, ListBookings)",
                  labels == ["Short"] and staff == ["Short"], (labels, staff))
            check("ListBlocks shows the new label", ("Short renamed", 2) in srv.blocks(cyd, d2), srv.blocks(cyd, d2))
            status, _ = srv.admin("UpdateBlock", block_id=S, start_time="07:00")
            expect("UpdateBlock of a booked block's times", status, "FAILED_PRECONDITION", "BLOCK_IN_USE",
                   extra=srv.must("GetDay", date=d2).blocks[0].block.start_time == "08:00")
            srv.service("night", 480, 3000)
            n1 = srv.block(d2, "23:00", "23:30", "Night", night=2)
            n2 = srv.block(d3, "06:00", "06:30", "Dawn", night=2)
            n3 = srv.block(d3, "07:00", "07:30", "Morning", night=2)
            status, _ = srv.book(cyd, n1, "night")
            check("cyd books a 480-min 'night' (allow_overlap=false) from 23:00", status.code == 0, show(status))
            expect("cyd: a 'night' at 06:00 the next day, inside the one running past midnight",
                   srv.start(cyd, n2, "night")[0], "FAILED_PRECONDITION", "OVERLAPPING_BOOKING")
            status, h = srv.start(cyd, n3, "night")
            check("cyd: a 'night' at 07:00 the next day, when the first one ends, is allowed", status.code == 0,
                  show(status))
            if h:
                srv.portal(cyd, "CancelCheckout", hold_token=h.hold_token)
            status, h = srv.start(dee, L)
            expect("UpdateBlock of the times of a block whose only use is an active hold",
                   srv.admin("UpdateBlock", block_id=L, end_time="17:00")[0], "FAILED_PRECONDITION", "BLOCK_IN_USE",
                   extra=status.code == 0 and [b.block.end_time for b in srv.must("GetDay", date=d2).blocks
                                               if b.block.block_id == L] == ["18:00"])
            srv.portal(dee, "CancelCheckout", hold_token=h.hold_token)
            srv.service("walk", 90, 2000, "eur")
            listed = [(x.price_cents, x.currency, x.duration_minutes)
                      for x in srv.portal(dee, "ListBlocks", date=d2, service_code="walk")[1].blocks]
            check("after UpsertService (90 min, 20.00 eur) ListBlocks shows the new price, currency, duration",
                  listed == [(2000, "eur", 90)] * 2, listed)
            status, _ = srv.start(dee, S, expected_price_cents=1500)
            expect("StartCheckout with the stale expected price 1500", status, "FAILED_PRECONDITION",
                   "PRICE_CHANGED", extra=status.details.get("price_cents") == "2000"
                   and srv.day(d2)["Short renamed"]["walk"] == (3, 1, 0, 2))
            status, hold = srv.start(dee, S, expected_price_cents=2000)
            status2, done = srv.portal(dee, "FinalizeCheckout", hold_token=hold.hold_token,
                                       payment_intent_id=hold.payment_intent_id) if hold else (status, None)
            bd = done.booking if done else None
            check("checkout at the new price: hold and booking 2000 eur, 08:00-09:30, the new label",
                  hold is not None and (hold.amount_cents, hold.currency) == (2000, "eur") and bd is not None
                  and (bd.amount_cents, bd.currency, bd.end_time, bd.block_label)
                  == (2000, "eur", "09:30", "Short renamed"), (show(status2), hold, bd))
            old = [(b.amount_cents, b.currency, b.end_time) for b in srv.mine(cyd) if b.block_id == S]
            check("the earlier booking keeps what was bought (1500 gbp, ends 09:00)",
                  old == [(1500, "gbp", "09:00")], old)
            srv.service("walk", 60, 1500, "gbp")

            # 3. Capacity and ListBlocks (SPEC §1 "Block capacity", §2 ListBlocks).
            P = srv.block(d3, "14:00", "15:00", "P", walk=2)
            Q = srv.block(d3, "08:00", "09:00", "Q", walk=1)
            srv.block(d3, "08:00", "10:00", "T", daycare=1)
            T = [b.block.block_id for b in srv.must("GetDay", date=d3).blocks if b.block.label == "T"][0]
            srv.block(d3, "08:00", "08:30", "U", walk=1)
            srv.block(d3, "11:00", "12:00", "W", walk=1)
            order = [x[0] for x in srv.blocks(eve, d3)]
            check("ListBlocks lists the blocks offering walk in start-time order (then id), none without a "
                  "walk capacity", order == ["Q", "U", "W", "P"], order)
            expect("StartCheckout of walk in a block without a walk capacity", srv.start(eve, T)[0],
                   "FAILED_PRECONDITION", "SERVICE_NOT_OFFERED")
            expect("ListBlocks of an unknown service", srv.portal(eve, "ListBlocks", date=d3, service_code="swim")[0],
                   "NOT_FOUND", "UNKNOWN_SERVICE", "service_code")
            check("ListBlocks of a known service offered nowhere that day is empty",
                  srv.blocks(eve, d3, "groom") == [] and srv.blocks(eve, d5) == [],
                  (srv.blocks(eve, d3, "groom"), srv.blocks(eve, d5)))
            r1, r2 = srv.book(eve, P), srv.book(dee, P)
            check("two clients fill P (capacity 2)", r1[0].code == 0 and r2[0].code == 0
                  and ("P", 0) in srv.blocks(eve, d3), (show(r1[0]), show(r2[0])))
            status, lowered = srv.admin("SetCapacity", block_id=P, service_code="walk", capacity=1)
            c = lowered.capacity if lowered else None
            check("SetCapacity below what is booked: accepted, answers capacity 1, booked 2, remaining 0",
                  c is not None and (c.capacity, c.booked, c.held, c.remaining) == (1, 2, 0, 0), (show(status), c))
            check("the bookings stay: GetDay (1, 2, 0, 0), ListBookings 2, ListBlocks remaining 0",
                  srv.day(d3)["P"]["walk"] == (1, 2, 0, 0) and len(srv.must("ListBookings", date=d3).bookings) == 2
                  and ("P", 0) in srv.blocks(cyd, d3), (srv.day(d3)["P"], srv.blocks(cyd, d3)))
            expect("StartCheckout in the over-booked block", srv.start(cyd, P)[0],
                   "FAILED_PRECONDITION", "CAPACITY_FULL", extra=srv.day(d3)["P"]["walk"] == (1, 2, 0, 0))
            srv.must("SetCapacity", block_id=P, service_code="walk", capacity=3)
            check("raising it to 3 shows remaining 1 (GetDay, ListBlocks)",
                  srv.day(d3)["P"]["walk"] == (3, 2, 0, 1) and ("P", 1) in srv.blocks(cyd, d3),
                  (srv.day(d3)["P"], srv.blocks(cyd, d3)))
            Z = srv.block(d4, "09:00", "10:00", "Zero", walk=0)
            listed = srv.blocks(cyd, d4)
            expect("capacity 0: StartCheckout", srv.start(cyd, Z)[0], "FAILED_PRECONDITION", "CAPACITY_FULL",
                   extra=srv.day(d4)["Zero"]["walk"] == (0, 0, 0, 0))
            check("capacity 0: ListBlocks offers no slot (absent, or remaining 0)", listed in ([], [("Zero", 0)]),
                  listed)

            # 4. Bad input to the timetable and service calls: precise answers, nothing written.
            V = srv.block(d6, "09:00", "10:00", "Valid", walk=1)
            good = [
                ("CreateBlock", dict(date="2028-02-29", start_time="00:00", end_time="23:59", label="x" * 100),
                 "29 February of a leap year, 00:00-23:59, a label of 100 characters"),
                ("CreateBlock", dict(date=d7, start_time="09:00", end_time="10:00", label="\U0001F415" * 100),
                 "a label of 100 dog emoji (100 scalars, 400 bytes)"),
                ("CreateBlock", dict(date="2020-01-06", start_time="09:00", end_time="10:00", label="Past"),
                 "a past date (timetable editing)"),
                ("SetCapacity", dict(block_id=V, service_code="daycare", capacity=10000), "capacity 10000"),
                ("UpsertService", dict(service=types_pb2.ServiceDefaults(
                    service_code="a" * 32, duration_minutes=1440, price_cents=0, currency="usd")),
                 "code of 32 letters, 1440 minutes, price 0, usd"),
                ("UpsertService", dict(service=types_pb2.ServiceDefaults(
                    service_code="x", duration_minutes=1, price_cents=1, currency="eur")), "code 'x', 1 minute"),
                ("UpsertService", dict(service=types_pb2.ServiceDefaults(
                    service_code="dog-walk_2", duration_minutes=30, price_cents=100, currency="gbp")),
                 "code 'dog-walk_2'"),
            ]
            for method, fields, what in good:
                status, _ = srv.admin(method, **fields)
                check("%s accepts %s" % (method, what), status.code == 0, show(status))
            spaced = srv.admin("CreateBlock", date=d7, start_time="11:00", end_time="12:00", label="  Spaced  ")[1]
            check("a label's leading and trailing spaces are kept",
                  spaced is not None and spaced.block.label == "  Spaced  ", spaced)
            srv.admin("DeleteBlock", block_id=spaced.block.block_id if spaced else MISSING)

            def snapshot():
                return ([srv.must("GetDay", date=d).SerializeToString() for d in (d1, d2, d3, d4, d5, d6, d7)],
                        srv.must("ListServices").SerializeToString())

            blk, svc, cap = request_builders(types_pb2, d5, V, "walk")

            before = snapshot()
            bad = [
                ("CreateBlock", blk(start_time="9:5"), "INVALID_TIME", "start_time", "start '9:5'"),
                ("CreateBlock", blk(start_time="09:5"), "INVALID_TIME", "start_time", "start '09:5'"),
                ("CreateBlock", blk(end_time="25:00"), "INVALID_TIME", "end_time", "end '25:00'"),
                ("CreateBlock", blk(end_time="24:00"), "INVALID_TIME", "end_time", "end '24:00'"),
                ("CreateBlock", blk(start_time="12:60"), "INVALID_TIME", "start_time", "start '12:60'"),
                ("CreateBlock", blk(start_time="09:00:00"), "INVALID_TIME", "start_time", "start '09:00:00'"),
                ("CreateBlock", blk(start_time=""), "INVALID_TIME", "start_time", "empty start"),
                ("CreateBlock", blk(end_time="-1:00"), "INVALID_TIME", "end_time", "end '-1:00'"),
                ("CreateBlock", blk(date="2027-02-29"), "INVALID_DATE", "date", "29 February 2027"),
                ("CreateBlock", blk(date="2027-04-31"), "INVALID_DATE", "date", "31 April"),
                ("CreateBlock", blk(date="2027-00-10"), "INVALID_DATE", "date", "month 0"),
                ("CreateBlock", blk(date="2027-1-05"), "INVALID_DATE", "date", "'2027-1-05'"),
                ("CreateBlock", blk(date=""), "INVALID_DATE", "date", "empty date"),
                ("UpdateBlock", dict(block_id=V, start_time="25:00"), "INVALID_TIME", "start_time", "start '25:00'"),
                ("UpdateBlock", dict(block_id=V, end_time="9:5"), "INVALID_TIME", "end_time", "end '9:5'"),
                ("UpdateBlock", dict(block_id=V, end_time="24:00"), "INVALID_TIME", "end_time", "end '24:00'"),
                ("UpdateBlock", dict(block_id=V, label=""), "INVALID_LABEL", "label", "empty label"),
                ("UpdateBlock", dict(block_id=V, label="\U0001F415" * 101), "INVALID_LABEL", "label",
                 "label of 101 emoji"),
                ("UpdateBlock", dict(block_id=0, label="X"), "INVALID_ID", "block_id", "block_id 0"),
                ("SetCapacity", cap(block_id=-1), "INVALID_ID", "block_id", "block_id -1"),
                ("SetCapacity", cap(service_code=""), "INVALID_SERVICE_CODE", "service_code", "empty code"),
                ("SetCapacity", cap(service_code="1walk"), "INVALID_SERVICE_CODE", "service_code", "code '1walk'"),
                ("SetCapacity", cap(service_code="walk!"), "INVALID_SERVICE_CODE", "service_code", "code 'walk!'"),
                ("SetCapacity", cap(service_code="w" * 33), "INVALID_SERVICE_CODE", "service_code",
                 "code of 33 letters"),
                ("SetCapacity", cap(capacity=-100), "INVALID_CAPACITY", "capacity", "capacity -100"),
                ("UpsertService", svc(service_code="Walk"), "INVALID_SERVICE_CODE", "service_code", "code 'Walk'"),
                ("UpsertService", svc(service_code=""), "INVALID_SERVICE_CODE", "service_code", "empty code"),
                ("UpsertService", svc(service_code="9lives"), "INVALID_SERVICE_CODE", "service_code",
                 "code '9lives'"),
                ("UpsertService", svc(service_code="dog walk"), "INVALID_SERVICE_CODE", "service_code",
                 "code 'dog walk'"),
                ("UpsertService", svc(service_code="w" * 33), "INVALID_SERVICE_CODE", "service_code",
                 "code of 33 letters"),
                ("UpsertService", svc(service_code="_walk"), "INVALID_SERVICE_CODE", "service_code", "code '_walk'"),
                ("UpsertService", svc(currency="gb"), "INVALID_CURRENCY", "currency", "currency 'gb'"),
                ("UpsertService", svc(currency="gbpx"), "INVALID_CURRENCY", "currency", "currency 'gbpx'"),
                ("UpsertService", svc(currency=""), "INVALID_CURRENCY", "currency", "empty currency"),
                ("UpsertService", svc(currency="Gbp"), "INVALID_CURRENCY", "currency", "currency 'Gbp'"),
                ("UpsertService", svc(currency="g1p"), "INVALID_CURRENCY", "currency", "currency 'g1p'"),
                ("UpsertService", svc(price_cents=-1500), "INVALID_PRICE", "price_cents", "price -1500"),
                ("UpsertService", svc(duration_minutes=1441), "INVALID_DURATION", "duration_minutes", "1441 minutes"),
                ("UpsertService", svc(duration_minutes=-60), "INVALID_DURATION", "duration_minutes", "-60 minutes"),
            ]
            for method, fields, reason, field, what in bad:
                expect(method + " " + what, srv.admin(method, **fields)[0], "INVALID_ARGUMENT", reason, field)
            status, _ = srv.admin("UpdateBlock", block_id=V, start_time="10:00")
            check("UpdateBlock start_time = the block's end -> INVALID_ARGUMENT INVALID_TIME_RANGE, field "
                  "start_time or end_time", status.code == 3 and status.reason == "INVALID_TIME_RANGE"
                  and status.details.get("field") in ("start_time", "end_time"), show(status))
            expect("UpdateBlock of a missing block", srv.admin("UpdateBlock", block_id=MISSING, label="X")[0],
                   "NOT_FOUND", "BLOCK_NOT_FOUND", "block_id")
            status, _ = srv.admin("UpsertService")
            check("UpsertService without a service -> INVALID_ARGUMENT (some field named)",
                  status.code == 3 and status.details.get("field"), show(status))
            raw = {"NUL": b"\x22\x03a\x00b", "invalid UTF-8": b"\x22\x02\xff\xfe"}
            for what, label in raw.items():
                payload = srv.modules["Admin"].CreateBlockRequest(
                    date=d5, start_time="09:00", end_time="10:00").SerializeToString() + label
                status, _ = srv.rpc("Admin", "CreateBlock", srv.key, payload)
                expect("CreateBlock with a label holding %s" % what, status, "INVALID_ARGUMENT", "MALFORMED_PAYLOAD",
                       "label")
            for what, fields, reason, field in [
                    ("a bad date", dict(date="2027-02-30", service_code="walk"), "INVALID_DATE", "date"),
                    ("service code 'Walk'", dict(date=d1, service_code="Walk"), "INVALID_SERVICE_CODE",
                     "service_code")]:
                expect("ListBlocks with " + what, srv.portal(eve, "ListBlocks", **fields)[0],
                       "INVALID_ARGUMENT", reason, field)
            expect("StartCheckout with block_id 0", srv.start(eve, 0)[0], "INVALID_ARGUMENT", "INVALID_ID", "block_id")
            after = snapshot()
            changed = ["GetDay " + d for d, x, y in zip((d1, d2, d3, d4, d5, d6, d7), before[0], after[0]) if x != y]
            changed += ["ListServices"] if before[1] != after[1] else []
            check("after all the refusals GetDay and ListServices are unchanged", not changed, changed)
            status, answer = srv.admin("UpsertService", **svc(service_code="zzqtest", currency="zzq"))
            expect("UpsertService currency 'zzq' (three lower-case letters, but no ISO 4217 code)", status,
                   "INVALID_ARGUMENT", "INVALID_CURRENCY", "currency",
                   extra="zzqtest" not in [x.service_code for x in srv.must("ListServices").services])

            srv.must("SetCapacity", block_id=Z, service_code="a" * 32, capacity=1)
            expect("StartCheckout of a free service (price 0)", srv.start(cyd, Z, "a" * 32)[0],
                   "FAILED_PRECONDITION", "PRICE_NOT_PAYABLE", extra=srv.day(d4)["Zero"]["a" * 32] == (1, 0, 0, 1))

            # 5. Portal isolation (SPEC §4): another client's hold or booking is NOT_FOUND, no hint.
            status, hold_b = srv.start(bob, F)
            fake = hold_b.hold_token[:-2] + ("AA" if not hold_b.hold_token.endswith("AA") else "BB")
            ref = ref_cancel = srv.portal(ada, "CancelCheckout", hold_token=fake)[0]
            expect("CancelCheckout of a made-up token of the right shape", ref, "NOT_FOUND", "HOLD_NOT_FOUND",
                   "hold_token")
            st = srv.portal(ada, "CancelCheckout", hold_token=hold_b.hold_token)[0]
            check("CancelCheckout of bob's live hold by ada -> the made-up token's answer exactly; bob keeps it",
                  same_answer(st, ref) and srv.day(d1)["F"]["walk"] == (5, 0, 1, 4), (show(st), show(ref)))
            st = srv.portal(ada, "FinalizeCheckout", hold_token=hold_b.hold_token,
                            payment_intent_id=hold_b.payment_intent_id)[0]
            ref = srv.portal(ada, "FinalizeCheckout", hold_token=fake, payment_intent_id=hold_b.payment_intent_id)[0]
            check("FinalizeCheckout of bob's hold (with its PaymentIntent) by ada -> NOT_FOUND HOLD_NOT_FOUND, "
                  "the made-up token's answer exactly, nothing booked",
                  st.code == 5 and st.reason == "HOLD_NOT_FOUND" and same_answer(st, ref)
                  and srv.day(d1)["F"]["walk"] == (5, 0, 1, 4), (show(st), show(ref)))
            status, done = srv.portal(bob, "FinalizeCheckout", hold_token=hold_b.hold_token,
                                      payment_intent_id=hold_b.payment_intent_id)
            check("bob still finalizes his hold", status.code == 0 and done.booking.client_id == ids["bob"],
                  show(status))
            st = srv.portal(ada, "CancelCheckout", hold_token=hold_b.hold_token)[0]
            check("CancelCheckout of bob's *booked* hold by ada -> NOT_FOUND HOLD_NOT_FOUND (not "
                  "HOLD_ALREADY_BOOKED), the made-up token's answer exactly", same_answer(st, ref_cancel), show(st))
            st = srv.portal(ada, "RescheduleBooking", booking_id=done.booking.booking_id, new_block_id=G)[0]
            ref = srv.portal(ada, "RescheduleBooking", booking_id=MISSING, new_block_id=G)[0]
            check("RescheduleBooking of bob's booking by ada -> the answer for a missing booking (but for the id it names)",
                  st.code == 5 and same_answer(st, ref, (done.booking.booking_id, MISSING)), (show(st), show(ref)))
            check("bob's booking is still in F", [b.block_id for b in srv.mine(bob)] == [F], srv.mine(bob))
            everyone = {}
            for d in (d1, d2, d3):
                for b in srv.must("ListBookings", date=d).bookings:
                    everyone.setdefault(b.client_id, []).append(b.booking_id)
            ok = all(sorted(b.booking_id for b in srv.mine(tokens[n])) == sorted(everyone.get(ids[n], []))
                     for n in tokens)
            check("ListMyBookings shows each client exactly its own bookings (as ListBookings attributes them)",
                  ok and len(everyone) >= 4, {n: [b.booking_id for b in srv.mine(tokens[n])] for n in tokens})
            mine = [[(b.date, b.start_time) for b in srv.mine(dee, **bounds)]
                    for bounds in ({}, dict(from_date=d3), dict(to_date=d2), dict(from_date=d3, to_date=d3))]
            check("ListMyBookings by date and start time; from_date/to_date bound the dates inclusively",
                  mine == [[(d2, "08:00"), (d3, "14:00")], [(d3, "14:00")], [(d2, "08:00")], [(d3, "14:00")]], mine)
            mine = [(b.date, b.start_time) for b in srv.mine(cyd)]
            check("ListMyBookings orders by start time within a date",
                  mine == [(d2, "08:00"), (d2, "12:00"), (d2, "23:00"), (d2, "23:00")], mine)

            # 6. Login answers and rate limiting (docs/access.md "Login").
            wrong_pw = srv.login("ada", "wrong password")[0]
            no_user = srv.login("nobody-here", "wrong password")[0]
            expect("Login with a wrong password", wrong_pw, "UNAUTHENTICATED", "INVALID_CREDENTIALS")
            check("Login of an unknown username answers exactly the same (code, reason, message, details)",
                  same_answer(wrong_pw, no_user), (show(wrong_pw), show(no_user)))
            expect("Login with a malformed username ('a b')", srv.login("a b", "whatever1")[0],
                   "INVALID_ARGUMENT", "INVALID_USERNAME", "username")
            expect("Login with an empty password", srv.login("ada", "")[0],
                   "INVALID_ARGUMENT", "INVALID_PASSWORD", "password")
            expect("Login with a password of 257 bytes", srv.login("ada", "p" * 257)[0],
                   "INVALID_ARGUMENT", "INVALID_PASSWORD", "password")
            answers = [srv.login("eve", "wrong %d" % i)[0] for i in range(5)]
            check("5 wrong passwords for eve -> INVALID_CREDENTIALS each",
                  all(a.reason == "INVALID_CREDENTIALS" for a in answers), [show(a) for a in answers])
            status = srv.login("eve")[0]
            retry = status.details.get("retry_after_seconds", "")
            expect("the 6th attempt, with the right password", status, "RESOURCE_EXHAUSTED", "RATE_LIMITED",
                   extra=retry.isdigit() and 1 <= int(retry) <= 300)
            expect("'Eve' (another username: case-sensitive) is not limited", srv.login("Eve")[0],
                   "UNAUTHENTICATED", "INVALID_CREDENTIALS")
            status, session = srv.login("dee")
            check("another username (dee) logs in while eve is limited", status.code == 0, show(status))
            check("eve's open session keeps working", isinstance(srv.mine(eve), list), srv.mine(eve))
            answers = [srv.login("ghost", "wrong %d" % i)[0].reason for i in range(6)]
            check("an unknown username is limited too: 5 x INVALID_CREDENTIALS, then RATE_LIMITED",
                  answers == ["INVALID_CREDENTIALS"] * 5 + ["RATE_LIMITED"], answers)
            answers = [srv.login("bob", "wrong %d" % i)[0].reason for i in range(4)]
            answers.append("OK" if srv.login("bob")[0].code == 0 else "not OK")
            answers += [srv.login("bob", "wrong again %d" % i)[0].reason for i in range(6)]
            check("a success clears the failures: 4 wrong, OK, then 5 wrong answered INVALID_CREDENTIALS, "
                  "the 6th RATE_LIMITED", answers == ["INVALID_CREDENTIALS"] * 4 + ["OK"]
                  + ["INVALID_CREDENTIALS"] * 5 + ["RATE_LIMITED"], answers)

            # 7. A started block cannot be booked, in the configured zone (SPEC §1 "Times").
            for zone, z in zoned.items():
                now = datetime.datetime.now(zoneinfo.ZoneInfo(zone))
                if now.hour == 0 and now.minute == 0:
                    time.sleep(61)
                    now = datetime.datetime.now(zoneinfo.ZoneInfo(zone))
                local = now.date()
                minute = now.hour * 60 + now.minute
                z.service("walk", 60, 1500)
                _, tok = z.client("zed")
                s0 = max(0, minute - 60)
                started = z.block(local.isoformat(), hhmm(s0), hhmm(min(s0 + 120, 1439)), "Started", walk=3)
                if minute + 5 <= 1438:
                    fdate, f0 = local, minute + 5
                else:
                    fdate, f0 = local + datetime.timedelta(days=1), 5
                future = z.block(fdate.isoformat(), hhmm(f0), hhmm(min(f0 + 30, 1439)), "Soon", walk=3)
                past = z.block((local - datetime.timedelta(days=1)).isoformat(), "23:00", "23:30", "Yesterday",
                               walk=3)
                tag = "%s (local now %s %s, UTC%s)" % (zone, local, now.strftime("%H:%M"), now.strftime("%z"))
                expect("%s: StartCheckout of a block of local today from %s" % (tag, hhmm(s0)),
                       z.start(tok, started)[0], "FAILED_PRECONDITION", "BLOCK_STARTED",
                       extra=z.day(local.isoformat())["Started"]["walk"] == (3, 0, 0, 3))
                check("%s: ListBlocks still lists the started block" % zone,
                      ("Started", 3) in z.blocks(tok, local.isoformat()), z.blocks(tok, local.isoformat()))
                status, b = z.book(tok, future)
                check("%s: a block of %s from %s (not started locally) is booked" % (zone, fdate, hhmm(f0)),
                      status.code == 0 and (b.date, b.start_time) == (fdate.isoformat(), hhmm(f0)), show(status))
                expect("%s: StartCheckout of a block of local yesterday 23:00" % zone, z.start(tok, past)[0],
                       "FAILED_PRECONDITION", "BLOCK_STARTED")

            for s in servers:
                check("portald exits cleanly", s.stop() == 0, s.process.returncode)
        finally:
            for s in servers:
                s.kill()

    check.finish()


if __name__ == "__main__":
    main()
