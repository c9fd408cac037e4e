#!/usr/bin/env python3
"""The hold lifecycle of SPEC §2 from another language: a Python client
written from SPEC.md, docs/protocol.md, docs/checkout.md and proto/ alone
drives a real portald (1-minute holds, a short grace) whose Stripe is a real
localstripe, and checks what a user sees when holds expire, are paid late,
are paid and abandoned, survive a kill -9 (once with live holds, once
across the end of the grace), and outlive a price change.

Usage: lifecycle_interop.py PATH_TO_PORTALD

Every hold is taken at the start and the flows that need time share one
expiry window (about 100 s in all). Prints one line per check and a closing
'N passed, N failed' line; exits 1 if any check failed. Set
LIFECYCLE_KEEP_LOGS=DIR to keep portald's logs (stderr of both processes).
"""
import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_check import Checks, free_port, generate_messages, request, start_localstripe, kill_if_running, wait_for_port  # noqa: E402
from checkout_interop import STRIPE_KEY, Stripe  # noqa: E402

HOLD_MINUTES = 1
GRACE_SECONDS = 15
SWEEP_INTERVAL = 15  # docs/checkout.md, "The sweeper": every 15 s
ADMIN_KEY = "lifecycle-interop-admin-key-0123456789"

OK, NOT_FOUND, FAILED_PRECONDITION = 0, 5, 9
CAPTURED = 2  # PaymentState


def show(status):
    """A status as the failure lines print it."""
    if status is None:
        return "no answer"
    if isinstance(status, str):
        return status
    return "code=%d reason=%s message=%r details=%s" % (
        status.code, status.reason or "-", status.message, dict(status.details))


class Portald:
    """One portald process on a fixed port and database; stderr appended to a
    log file so that a restart keeps one log."""

    def __init__(self, binary, port, db, log_path, stripe_base):
        self.binary, self.port, self.db, self.log_path, self.stripe_base = binary, port, db, log_path, stripe_base
        self.process = None

    def start(self):
        with open(self.log_path, "ab") as log:
            log.write(("---- portald start at %s\n" % time.strftime("%H:%M:%S")).encode())
            log.flush()
            self.process = subprocess.Popen(
                [self.binary, "--listen", "127.0.0.1:%d" % self.port, "--db", self.db,
                 "--log-level", "info", "--stripe-api-base", self.stripe_base,
                 "--hold-minutes", str(HOLD_MINUTES), "--hold-grace-seconds", str(GRACE_SECONDS)],
                env=dict(os.environ, PORTAL_STRIPE_API_KEY=STRIPE_KEY, PORTAL_ADMIN_KEYS=ADMIN_KEY),
                stdout=subprocess.DEVNULL, stderr=log)
        return wait_for_port(self.port, self.process, "portald", seconds=60)

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class Rpc:
    """Sequential calls on one connection; reconnects after a restart."""

    def __init__(self, conn):
        self.conn = conn
        self.next_id = 0

    def call(self, method, message, response_type, token):
        self.next_id += 1
        self.conn.send(request(self.next_id, method, message, token=token))
        r = self.conn.receive()
        if r.id != self.next_id:
            raise SystemExit("answer for id %d, expected %d" % (r.id, self.next_id))
        return r.status, (response_type.FromString(r.payload) if r.status.code == 0 else None)


def wait_until(predicate, deadline, step=0.5):
    while True:
        value = predicate()
        if value or time.time() >= deadline:
            return value
        time.sleep(step)


def main():
    portald_binary = sys.argv[1]
    check = Checks()
    wall_start = time.time()

    with tempfile.TemporaryDirectory() as tmp:
        generate_messages(os.path.join(tmp, "gen"))
        from portal.v1 import admin_pb2, health_pb2, portal_pb2, types_pb2

        stripe_process, stripe_port = start_localstripe(os.path.join(tmp, "localstripe"))
        server = None
        failed_before = 0
        try:
            wait_for_port(stripe_port, stripe_process, "localstripe").close()
            stripe = Stripe("http://127.0.0.1:%d" % stripe_port)
            server = Portald(portald_binary, free_port(), os.path.join(tmp, "data", "portal.sqlite"),
                             os.path.join(tmp, "portald.log"), stripe.base)
            rpc = Rpc(server.start())

            def admin(name, message, response_type):
                status, answer = rpc.call("portal.v1.Admin/" + name, message, response_type, ADMIN_KEY)
                if status.code != 0:
                    raise SystemExit("Admin/%s failed: %s" % (name, show(status)))
                return answer

            # ---- The business: one day next week, one block per flow.
            day = (datetime.date.today() + datetime.timedelta(days=7)).isoformat()
            for code, minutes, price in (("walk", 60, 1500), ("daycare", 240, 4500)):
                admin("UpsertService", admin_pb2.UpsertServiceRequest(service=types_pb2.ServiceDefaults(
                    service_code=code, duration_minutes=minutes, price_cents=price, currency="gbp")),
                    admin_pb2.UpsertServiceResponse)
            blocks = {}
            for name, start, end, service, capacity in (
                    ("A", "07:00", "08:00", "walk", 2),     # flow 1: expires unpaid
                    ("B", "08:30", "09:30", "walk", 1),     # flow 2: paid late, room
                    ("C", "10:00", "11:00", "walk", 1),     # flow 3: paid late, no room
                    ("D", "11:30", "12:30", "walk", 1),     # flow 4: paid, abandoned
                    ("E", "13:00", "14:00", "walk", 4),     # flow 5: crash and restart
                    ("F", "14:30", "15:30", "walk", 1),     # flow 2 via the sweeper: paid late, abandoned
                    ("G", "16:00", "17:00", "walk", 1),     # flow 3 via the sweeper: paid late, no room
                    ("P", "15:00", "19:30", "daycare", 3)):  # flow 6: price change
                block = admin("CreateBlock", admin_pb2.CreateBlockRequest(
                    date=day, start_time=start, end_time=end, label="Block " + name),
                    admin_pb2.CreateBlockResponse).block
                admin("SetCapacity", admin_pb2.SetCapacityRequest(
                    block_id=block.block_id, service_code=service, capacity=capacity),
                    admin_pb2.SetCapacityResponse)
                blocks[name] = (block.block_id, service, capacity)

            sessions, client_ids = {}, {}
            users = ("u1", "u1c", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u9b", "u10", "u11", "u12", "u13")
            for name in users:
                client = admin("CreateClient", admin_pb2.CreateClientRequest(name="Client " + name),
                               admin_pb2.CreateClientResponse).client
                admin("CreatePortalLogin", admin_pb2.CreatePortalLoginRequest(
                    client_id=client.client_id, username="life_" + name, password="correct horse " + name),
                    admin_pb2.CreatePortalLoginResponse)
                status, login = rpc.call("portal.v1.Portal/Login", portal_pb2.LoginRequest(
                    username="life_" + name, password="correct horse " + name), portal_pb2.LoginResponse, None)
                if status.code != 0:
                    raise SystemExit("login %s failed: %s" % (name, show(status)))
                sessions[name], client_ids[name] = login.session_token, client.client_id

            def portal(name, method, message, response_type):
                return rpc.call("portal.v1.Portal/" + method, message, response_type, sessions[name])

            def start(name, block, expected=None):
                block_id, service, _ = blocks[block]
                req = portal_pb2.StartCheckoutRequest(service_code=service, block_id=block_id)
                if expected is not None:
                    req.expected_price_cents = expected
                return portal(name, "StartCheckout", req, portal_pb2.StartCheckoutResponse)

            def finalize(name, hold):
                return portal(name, "FinalizeCheckout", portal_pb2.FinalizeCheckoutRequest(
                    hold_token=hold.hold_token, payment_intent_id=hold.payment_intent_id),
                    portal_pb2.FinalizeCheckoutResponse)

            def cancel(name, hold):
                return portal(name, "CancelCheckout", portal_pb2.CancelCheckoutRequest(hold_token=hold.hold_token),
                              portal_pb2.CancelCheckoutResponse)

            def my_bookings(name):
                status, answer = portal(name, "ListMyBookings", portal_pb2.ListMyBookingsRequest(),
                                        portal_pb2.ListMyBookingsResponse)
                return (list(answer.bookings) if status.code == 0 else None), status

            def listed_remaining(block, name="u7"):
                block_id, service, _ = blocks[block]
                status, answer = portal(name, "ListBlocks", portal_pb2.ListBlocksRequest(
                    date=day, service_code=service), portal_pb2.ListBlocksResponse)
                if status.code != 0:
                    return show(status)
                return [b.remaining for b in answer.blocks if b.block.block_id == block_id]

            def get_day():
                _, answer = rpc.call("portal.v1.Admin/GetDay", admin_pb2.GetDayRequest(date=day),
                                     admin_pb2.GetDayResponse, ADMIN_KEY)
                rows = {}
                for b in answer.blocks if answer else []:
                    for c in b.capacities:
                        rows[(b.block.block_id, c.service_code)] = (c.capacity, c.booked, c.held, c.remaining)
                return rows

            def usage(block):
                """(booked, held, remaining) of one block's service from GetDay."""
                block_id, service, _ = blocks[block]
                row = get_day().get((block_id, service))
                return row[1:] if row else None

            def invariant_violations():
                bad = []
                for (block_id, service), (capacity, booked, held, remaining) in sorted(get_day().items()):
                    if booked + held > capacity or remaining != max(0, capacity - booked - held):
                        bad.append((block_id, service, capacity, booked, held, remaining))
                return bad

            def day_bookings():
                _, answer = rpc.call("portal.v1.Admin/ListBookings", admin_pb2.ListBookingsRequest(date=day),
                                     admin_pb2.ListBookingsResponse, ADMIN_KEY)
                return list(answer.bookings) if answer else []

            def pi(hold):
                return stripe.call("GET", "/v1/payment_intents/" + hold.payment_intent_id)

            def pi_status_becomes(hold, wanted, seconds):
                deadline = time.time() + seconds
                return wait_until(lambda: pi(hold)["status"] == wanted, deadline) or pi(hold)["status"]

            holds = {}

            def take(name, block, expected=None):
                status, hold = start(name, block, expected)
                if status.code != 0:
                    raise SystemExit("StartCheckout %s in %s failed: %s" % (name, block, show(status)))
                holds[name] = hold
                return hold

            # ---- Take every hold at the start, then wait once.
            for name, block in (("u1", "A"), ("u1c", "A"), ("u2", "B"), ("u3", "C"), ("u5", "D"),
                                ("u9", "E"), ("u9b", "E"), ("u10", "E"), ("u11", "F"), ("u12", "G")):
                take(name, block)
            expiries = [h.expires_at for h in holds.values()]
            taken_at = time.time()
            check("every hold expires about %d minute after it was taken" % HOLD_MINUTES,
                  all(abs(e - taken_at - HOLD_MINUTES * 60) <= 5 for e in expiries), (expiries, taken_at))
            check("held blocks show no room: A, B, C, D each remaining 0 in ListBlocks",
                  [listed_remaining(b) for b in "ABCD"] == [[0], [0], [0], [0]],
                  [listed_remaining(b) for b in "ABCD"])

            # Flow 4: pays at once, then closes the browser (never finalizes).
            check("u5 pays its hold in block D at Stripe (then never finalizes)",
                  stripe.pay(holds["u5"].payment_intent_id) == "requires_capture")
            # Flow 5: two paid not finalized, one unpaid, one finalized just before the crash.
            for name in ("u9", "u9b"):
                stripe.pay(holds[name].payment_intent_id)

            # ---- Flow 6: the price changes under a live hold.
            h6 = take("u6", "P", expected=4500)
            check("u6 holds daycare at 4500 (expected_price_cents 4500)",
                  h6.amount_cents == 4500 and pi(h6)["amount"] == 4500, (h6.amount_cents, pi(h6)["amount"]))
            upserted = admin("UpsertService", admin_pb2.UpsertServiceRequest(service=types_pb2.ServiceDefaults(
                service_code="daycare", duration_minutes=240, price_cents=5000, currency="gbp")),
                admin_pb2.UpsertServiceResponse)
            check("staff raise daycare to 5000 (UpsertService)", upserted.service.price_cents == 5000, upserted)
            before = usage("P")
            status, _ = start("u7", "P", expected=4500)
            check("u7 StartCheckout with the old expected price -> FAILED_PRECONDITION PRICE_CHANGED, "
                  "details.price_cents=5000, nothing taken",
                  status.code == FAILED_PRECONDITION and status.reason == "PRICE_CHANGED"
                  and status.details.get("price_cents") == "5000" and usage("P") == before,
                  (show(status), before, usage("P")))
            status, answer = portal("u7", "ListBlocks", portal_pb2.ListBlocksRequest(date=day, service_code="daycare"),
                                    portal_pb2.ListBlocksResponse)
            check("ListBlocks shows the new price 5000",
                  status.code == 0 and [b.price_cents for b in answer.blocks] == [5000], show(status))
            status, h7 = start("u7", "P", expected=5000)
            check("u7 StartCheckout with the new price holds at 5000",
                  status.code == 0 and h7.amount_cents == 5000 and pi(h7)["amount"] == 5000, show(status))
            if status.code == 0:
                status, _ = cancel("u7", h7)
                check("u7 gives its hold up (CancelCheckout OK)", status.code == 0, show(status))
            status, again = start("u6", "P", expected=4500)
            check("u6's retry with its hold's price 4500 returns the same hold and PaymentIntent at 4500",
                  status.code == 0 and again.hold_token == h6.hold_token
                  and again.payment_intent_id == h6.payment_intent_id and again.amount_cents == 4500, show(status))
            status, _ = start("u6", "P", expected=5000)
            check("u6's retry with the new price 5000 -> PRICE_CHANGED, details.price_cents=4500 (the hold's)",
                  status.code == FAILED_PRECONDITION and status.reason == "PRICE_CHANGED"
                  and status.details.get("price_cents") == "4500", show(status))
            stripe.pay(h6.payment_intent_id)
            status, done6 = finalize("u6", h6)
            check("u6 pays and finalizes: booked at the hold's price 4500",
                  status.code == 0 and done6.booking.amount_cents == 4500 and done6.booking.currency == "gbp",
                  show(status))
            status6 = pi_status_becomes(h6, "succeeded", 15)
            check("u6's PaymentIntent is captured at 4500",
                  status6 is True and pi(h6)["amount"] == 4500, (status6, pi(h6)["amount"]))

            # ---- Flow 5: crash with holds taken, paid-not-finalized, one just finalized.
            h10 = holds["u10"]
            h8 = take("u8", "E")
            stripe.pay(h8.payment_intent_id)
            check("block E before the crash: booked 0, held 4, remaining 0", usage("E") == (0, 4, 0), usage("E"))
            status, done8 = finalize("u8", h8)
            check("u8 finalizes in block E", status.code == 0, show(status))
            server.kill9()  # right after the answer: the capture's record may still be in flight
            check("portald killed with SIGKILL", server.process.returncode == -signal.SIGKILL,
                  server.process.returncode)
            rpc = Rpc(server.start())
            status, health = rpc.call("portal.v1.Health/Check", health_pb2.HealthCheckRequest(),
                                      health_pb2.HealthCheckResponse, None)
            check("portald restarts on the same database and serves", status.code == 0 and health.status == 1,
                  show(status))
            bookings, status = my_bookings("u8")
            check("a session from before the crash still acts for its client (sessions are stored)",
                  bookings is not None, show(status))
            check("u8's finalized booking survives the crash",
                  bookings is not None and [b.booking_id for b in bookings] == [done8.booking.booking_id],
                  (show(status), bookings))
            status, login = rpc.call("portal.v1.Portal/Login", portal_pb2.LoginRequest(
                username="life_u8", password="correct horse u8"), portal_pb2.LoginResponse, None)
            check("logging in works after the restart", status.code == 0, show(status))
            check("capacity invariant after the restart (every block: booked + held <= capacity, "
                  "remaining = capacity - booked - held)", invariant_violations() == [], invariant_violations())
            check("block E after the restart: booked 1, held 3, remaining 0 (live holds survive)",
                  usage("E") == (1, 3, 0), usage("E"))
            status, again = start("u10", "E")
            check("u10's StartCheckout retry after the restart returns its same hold, no second slot",
                  status.code == 0 and again.hold_token == h10.hold_token
                  and again.payment_intent_id == h10.payment_intent_id and usage("E") == (1, 3, 0),
                  (show(status), usage("E")))
            captured8 = wait_until(lambda: (my_bookings("u8")[0] or [None])[0] is not None
                                   and my_bookings("u8")[0][0].payment_state == CAPTURED, time.time() + 15)
            check("u8's booking reads captured after the restart (start-up repair)",
                  captured8, my_bookings("u8"))
            check("u8's PaymentIntent is captured at Stripe", pi(h8)["status"] == "succeeded",
                  pi(h8)["status"])
            status, done9 = finalize("u9", holds["u9"])
            check("u9 (paid before the crash, not finalized) finalizes after the restart",
                  status.code == 0 and done9.booking.block_id == blocks["E"][0], show(status))
            status, repeat8 = finalize("u8", h8)
            check("u8's FinalizeCheckout repeated after the restart returns the same booking",
                  status.code == 0 and repeat8.booking.booking_id == done8.booking.booking_id, show(status))

            # ---- Wait for the expiry of the first holds.
            expiry = max(h.expires_at for n, h in holds.items() if n in ("u1", "u1c", "u2", "u3", "u5", "u11", "u12"))
            settle_by = min(h.expires_at for h in holds.values()) + GRACE_SECONDS
            time.sleep(max(0, expiry + 1.2 - time.time()))
            window_opened = time.time()

            # Flow 4 (before its grace): the sweeper's last call booked the paid hold before expiry.
            check("block D right after expiry: the paid, unfinalized hold still holds its slot "
                  "(booked by the sweeper's last call), remaining 0",
                  usage("D") == (1, 0, 0) and listed_remaining("D") == [0], (usage("D"), listed_remaining("D")))

            # Flow 1: the unpaid holds stop counting at their expiry.
            check("block A after expiry: remaining back to 2 in ListBlocks", listed_remaining("A") == [2],
                  listed_remaining("A"))
            check("block A after expiry in GetDay: booked 0, held 0, remaining 2", usage("A") == (0, 0, 2),
                  usage("A"))
            status, _ = finalize("u1", holds["u1"])
            check("FinalizeCheckout of an expired unpaid hold (before the sweep) -> FAILED_PRECONDITION "
                  "HOLD_EXPIRED or PAYMENT_NOT_CONFIRMED [got %s], nothing booked" % (status.reason or status.code),
                  status.code == FAILED_PRECONDITION and status.reason in ("HOLD_EXPIRED", "PAYMENT_NOT_CONFIRMED")
                  and usage("A") == (0, 0, 2), (show(status), usage("A")))
            status, _ = cancel("u1c", holds["u1c"])
            check("CancelCheckout of an expired, not yet swept hold -> OK or FAILED_PRECONDITION HOLD_EXPIRED "
                  "[got %s]" % (status.reason or "OK"),
                  status.code == OK or (status.code == FAILED_PRECONDITION and status.reason == "HOLD_EXPIRED"),
                  show(status))
            status, fresh = start("u1", "A")
            check("u1 starts again in block A: a new hold and PaymentIntent (the expired one is not live)",
                  status.code == 0 and fresh.hold_token != holds["u1"].hold_token
                  and fresh.payment_intent_id != holds["u1"].payment_intent_id and usage("A") == (0, 1, 1),
                  (show(status), usage("A")))
            if status.code == 0:
                status, _ = cancel("u1", fresh)
                check("u1 gives the new hold up", status.code == 0 and usage("A") == (0, 0, 2),
                      (show(status), usage("A")))

            # Flow 3: another client takes the slot freed by u3's expired hold; then u3 pays.
            check("block C after expiry: u3's unpaid hold no longer counts, remaining 1",
                  usage("C") == (0, 0, 1), usage("C"))
            status, h4 = start("u4", "C")
            check("u4 takes the freed slot in block C", status.code == 0 and usage("C") == (0, 1, 0),
                  (show(status), usage("C")))
            holds["u4"] = h4
            paid3 = stripe.pay(holds["u3"].payment_intent_id)
            status3, _ = finalize("u3", holds["u3"])
            check("u3 pays after expiry (%s at Stripe) and finalizes -> FAILED_PRECONDITION CAPACITY_GONE, "
                  "with a message" % paid3,
                  status3.code == FAILED_PRECONDITION and status3.reason == "CAPACITY_GONE" and status3.message,
                  show(status3))
            status, _ = finalize("u3", holds["u3"])
            check("u3's FinalizeCheckout repeated answers CAPACITY_GONE again",
                  status.code == FAILED_PRECONDITION and status.reason == "CAPACITY_GONE", show(status))

            # The same two cases for clients who pay late and close the browser: the sweeper settles them.
            status, h13 = start("u13", "G")
            check("u13 takes the slot freed by u12's expired hold in block G", status.code == 0
                  and usage("G") == (0, 1, 0), (show(status), usage("G")))
            holds["u13"] = h13
            paid = [stripe.pay(holds[n].payment_intent_id) for n in ("u11", "u12")]
            check("u11 (block F, room) and u12 (block G, no room) pay after expiry and close the browser",
                  paid == ["requires_capture", "requires_capture"], paid)

            # Flow 2: paid after expiry with room left.
            paid2 = stripe.pay(holds["u2"].payment_intent_id)
            status, done2 = finalize("u2", holds["u2"])
            check("u2 pays after expiry (%s at Stripe) and finalizes -> booked, block B remaining 0" % paid2,
                  status.code == 0 and done2.booking.block_id == blocks["B"][0] and usage("B") == (1, 0, 0),
                  (show(status), usage("B")))
            status, repeat2 = finalize("u2", holds["u2"])
            check("u2's FinalizeCheckout repeated returns the same booking",
                  status.code == 0 and done2 is not None and repeat2.booking.booking_id == done2.booking.booking_id,
                  show(status))
            if h13 is not None:
                stripe.pay(h13.payment_intent_id)
                status, _ = finalize("u13", h13)
                check("u13 pays and books block G", status.code == 0 and usage("G") == (1, 0, 0),
                      (show(status), usage("G")))
            window_closed = time.time()
            check("flows 1-3 ran inside the grace, before any sweep could settle them (%.1f s after expiry)"
                  % (window_closed - expiry),
                  window_closed < settle_by, (window_opened, window_closed, settle_by))

            check("u3's PaymentIntent is cancelled at Stripe (authorisation released, never charged)",
                  pi_status_becomes(holds["u3"], "canceled", 15) is True, pi(holds["u3"])["status"])
            bookings, status = my_bookings("u3")
            check("u3 has no booking", bookings == [], (show(status), bookings))
            check("u2's late payment is captured after the booking",
                  pi_status_becomes(holds["u2"], "succeeded", 15) is True, pi(holds["u2"])["status"])
            stripe.pay(h4.payment_intent_id)
            status, done4 = finalize("u4", h4)
            check("u4 pays and books block C (booked 1, remaining 0)",
                  status.code == 0 and usage("C") == (1, 0, 0), (show(status), usage("C")))
            check("capacity invariant inside the grace window", invariant_violations() == [],
                  invariant_violations())

            check("u1c's PaymentIntent is cancelled after its CancelCheckout",
                  pi_status_becomes(holds["u1c"], "canceled", 10) is True, pi(holds["u1c"])["status"])
            check("u1's expired unpaid hold is not settled before its grace (PaymentIntent still open)",
                  pi(holds["u1"])["status"] == "requires_payment_method", pi(holds["u1"])["status"])

            # ---- Second crash: down across the end of the grace; the start-up round must sweep.
            server.kill9()
            check("portald killed with SIGKILL again, inside the grace", server.process.returncode == -signal.SIGKILL
                  and time.time() < settle_by, (server.process.returncode, time.time(), settle_by))
            latest_settle = max(h.expires_at for h in holds.values() if h is not h4 and h is not h13) + GRACE_SECONDS
            time.sleep(max(0, latest_settle + 1.5 - time.time()))
            rpc = Rpc(server.start())
            due = {"u1": "canceled", "u10": "canceled", "u11": "succeeded", "u12": "canceled"}

            def settled():
                return all(pi(holds[n])["status"] == wanted for n, wanted in due.items())

            swept = wait_until(settled, time.time() + 5)
            check("restarted after the grace: the start-up sweep settles the expired holds within 5 s "
                  "(u1, u10 unpaid -> cancelled; u11 paid late with room -> captured; u12 no room -> cancelled)",
                  swept, {n: pi(holds[n])["status"] for n in due})
            if not swept:
                check("... and within one more sweeper round", wait_until(settled, time.time() + SWEEP_INTERVAL + 10),
                      {n: pi(holds[n])["status"] for n in due})

            # Paid late and abandoned: booked where there was room, released where there was none.
            bookings, status = my_bookings("u11")
            check("u11 (paid after expiry, never finalized, room left) is booked by the sweeper after the grace",
                  bookings is not None and len(bookings) == 1 and bookings[0].block_id == blocks["F"][0],
                  (show(status), bookings))
            check("u11's PaymentIntent is captured", pi_status_becomes(holds["u11"], "succeeded", 10) is True,
                  pi(holds["u11"])["status"])
            check("u12 (paid after expiry, never finalized, slot taken) is released by the sweeper: "
                  "PaymentIntent cancelled", pi_status_becomes(holds["u12"], "canceled", 10) is True,
                  pi(holds["u12"])["status"])
            bookings, status = my_bookings("u12")
            check("u12 has no booking", bookings == [], (show(status), bookings))
            status, _ = finalize("u12", holds["u12"])
            check("u12 finalizing afterwards -> FAILED_PRECONDITION CAPACITY_GONE",
                  status.code == FAILED_PRECONDITION and status.reason == "CAPACITY_GONE", show(status))

            # Flow 4: the abandoned paid hold is a booking, captured.
            bookings, status = my_bookings("u5")
            check("u5 (closed the browser after paying) sees its booking in ListMyBookings",
                  bookings is not None and len(bookings) == 1 and bookings[0].block_id == blocks["D"][0]
                  and bookings[0].payment_intent_id == holds["u5"].payment_intent_id
                  and bookings[0].amount_cents == 1500, (show(status), bookings))
            check("u5's booking is in ListBookings for the day",
                  any(b.client_id == client_ids["u5"] for b in day_bookings()), day_bookings())
            check("u5's PaymentIntent is captured at Stripe", pi_status_becomes(holds["u5"], "succeeded", 10) is True,
                  pi(holds["u5"])["status"])
            check("u5's booking reads captured",
                  wait_until(lambda: (my_bookings("u5")[0] or [None])[0] is not None
                             and my_bookings("u5")[0][0].payment_state == CAPTURED, time.time() + 10),
                  my_bookings("u5"))
            status, done5 = finalize("u5", holds["u5"])
            check("u5 finalizing late gets the sweeper's booking",
                  status.code == 0 and bookings and done5.booking.booking_id == bookings[0].booking_id, show(status))

            # Flow 5: the paid hold nobody finalized after the restart is booked by the sweeper.
            bookings, status = my_bookings("u9b")
            check("u9b (paid before the crash, never finalized) is booked by the sweeper",
                  bookings is not None and len(bookings) == 1 and bookings[0].block_id == blocks["E"][0],
                  (show(status), bookings))
            check("u9 and u9b are captured at Stripe",
                  pi_status_becomes(holds["u9"], "succeeded", 10) is True
                  and pi_status_becomes(holds["u9b"], "succeeded", 10) is True,
                  (pi(holds["u9"])["status"], pi(holds["u9b"])["status"]))

            # ---- The whole day at the end.
            final = {b: usage(b) for b in "ABCDEFGP"}
            check("final GetDay: A 0/0/2, B C D F G 1/0/0, E 3/0/1, P 1/0/2 (booked/held/remaining)",
                  final == {"A": (0, 0, 2), "B": (1, 0, 0), "C": (1, 0, 0), "D": (1, 0, 0), "E": (3, 0, 1),
                            "F": (1, 0, 0), "G": (1, 0, 0), "P": (1, 0, 2)}, final)
            check("capacity invariant at the end", invariant_violations() == [], invariant_violations())
            booked_clients = sorted(b.client_id for b in day_bookings())
            expected_clients = sorted(client_ids[n] for n in ("u2", "u4", "u5", "u6", "u8", "u9", "u9b", "u11", "u13"))
            check("ListBookings: exactly one booking each for u2, u4, u5, u6, u8, u9, u9b, u11, u13",
                  booked_clients == expected_clients, (booked_clients, expected_clients))
            pending = [(b.client_id, b.payment_state) for b in day_bookings() if b.payment_state != CAPTURED]
            check("every booking of the day reads captured", wait_until(
                lambda: not [b for b in day_bookings() if b.payment_state != CAPTURED], time.time() + 10), pending)

            rpc.conn.close()
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=30)
            check("portald exits cleanly on SIGTERM", server.process.returncode == 0, server.process.returncode)
            log = server.log()
            secrets = [ADMIN_KEY, STRIPE_KEY] + list(sessions.values()) + [
                s for h in list(holds.values()) + [h7] for s in (h.hold_token, h.client_secret)]
            check("no token, client secret or key in either portald log", all(s not in log for s in secrets))
        finally:
            kill_if_running(server.process if server else None, stripe_process)
            failed_before = check.results.count(False)
            keep = os.environ.get("LIFECYCLE_KEEP_LOGS")
            if server is not None and os.path.exists(server.log_path):
                if keep:
                    os.makedirs(keep, exist_ok=True)
                    shutil.copy(server.log_path, os.path.join(keep, "portald.log"))
                if failed_before:
                    lines = [line for line in server.log().splitlines()
                             if any(w in line for w in ("error", "critical", "warning", "----"))]
                    print("portald log (warnings and errors, last 30):")
                    for line in lines[-30:]:
                        print("    " + line)

    print("wall time %.1f s" % (time.time() - wall_start))
    check.finish()


if __name__ == "__main__":
    main()
