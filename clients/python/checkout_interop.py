#!/usr/bin/env python3
"""Pre-pay checkout from another language: a Python client written from
SPEC.md, docs/protocol.md and proto/ alone books and pays through a real
portald whose Stripe is a real localstripe, paying as a browser would (a test
card confirmed at localstripe's HTTP API).

Usage: checkout_interop.py PATH_TO_PORTALD

Prints one line per check and a closing 'N passed, N failed' line; exits 1 if
any check failed. Shares the framing helpers of interop_check.py.
"""
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_check import Checks, free_port, generate_messages, request, start_localstripe, kill_if_running, wait_for_port  # noqa: E402

# localstripe accepts any key that starts with sk_; this one is not a secret.
STRIPE_KEY = "sk_test_portal_interop"


class Stripe:
    """The few calls of Stripe's HTTP API a paying browser (Stripe.js) and
    this check make, against localstripe."""

    def __init__(self, base):
        self.base = base

    def call(self, method, path, form=None):
        data = urllib.parse.urlencode(form or {}).encode() if method == "POST" else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + STRIPE_KEY)
        with urllib.request.urlopen(req, timeout=10) as answer:
            return json.loads(answer.read())

    def pay(self, payment_intent_id):
        card = self.call("POST", "/v1/payment_methods", {
            "type": "card", "card[number]": "4242424242424242", "card[exp_month]": "12",
            "card[exp_year]": "2040", "card[cvc]": "123"})
        self.call("POST", "/v1/payment_intents/" + payment_intent_id, {"payment_method": card["id"]})
        return self.call("POST", "/v1/payment_intents/%s/confirm" % payment_intent_id)["status"]

    def status(self, payment_intent_id):
        return self.call("GET", "/v1/payment_intents/" + payment_intent_id)["status"]


def main():
    portald = sys.argv[1]
    check = Checks()

    with tempfile.TemporaryDirectory() as tmp:
        generate_messages(os.path.join(tmp, "gen"))
        from portal.v1 import admin_pb2, portal_pb2, types_pb2

        stripe_process, stripe_port = start_localstripe(os.path.join(tmp, "localstripe"))
        server = None
        try:
            wait_for_port(stripe_port, stripe_process, "localstripe").close()
            stripe = Stripe("http://127.0.0.1:%d" % stripe_port)
            port = free_port()
            server = subprocess.Popen(
                [portald, "--listen", "127.0.0.1:%d" % port, "--db", os.path.join(tmp, "data", "portal.sqlite"),
                 "--log-level", "warning", "--stripe-api-base", stripe.base],
                env=dict(os.environ, PORTAL_STRIPE_API_KEY=STRIPE_KEY),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            conn = wait_for_port(port, server, "portald")
            key = open(os.path.join(tmp, "data", "admin.key")).read().strip()
            next_id = [0]

            def call(method, message, response_type, token):
                next_id[0] += 1
                conn.send(request(next_id[0], method, message, token=token))
                r = conn.receive()
                if r.id != next_id[0]:
                    raise SystemExit("answer for id %d, expected %d" % (r.id, next_id[0]))
                return r.status, (response_type.FromString(r.payload) if r.status.code == 0 else None)

            def admin(name, message, response_type):
                status, answer = call("portal.v1.Admin/" + name, message, response_type, key)
                if status.code != 0:
                    raise SystemExit("Admin/%s failed: %s" % (name, status))
                return answer

            # The business: a walk at £15, one block next week with two slots.
            day = (datetime.date.today() + datetime.timedelta(days=7)).isoformat()
            admin("UpsertService", admin_pb2.UpsertServiceRequest(service=types_pb2.ServiceDefaults(
                service_code="walk", duration_minutes=60, price_cents=1500, currency="gbp")),
                admin_pb2.UpsertServiceResponse)
            block = admin("CreateBlock", admin_pb2.CreateBlockRequest(
                date=day, start_time="09:00", end_time="12:00", label="Morning"),
                admin_pb2.CreateBlockResponse).block
            admin("SetCapacity", admin_pb2.SetCapacityRequest(
                block_id=block.block_id, service_code="walk", capacity=2), admin_pb2.SetCapacityResponse)

            sessions = {}
            for name in ("ada", "bob", "cyd"):
                client = admin("CreateClient", admin_pb2.CreateClientRequest(name=name.title()),
                               admin_pb2.CreateClientResponse).client
                admin("CreatePortalLogin", admin_pb2.CreatePortalLoginRequest(
                    client_id=client.client_id, username=name, password="correct horse " + name),
                    admin_pb2.CreatePortalLoginResponse)
                status, login = call("portal.v1.Portal/Login", portal_pb2.LoginRequest(
                    username=name, password="correct horse " + name), portal_pb2.LoginResponse, None)
                check("%s logs in and gets a session token" % name, status.code == 0 and login.session_token,
                      status)
                sessions[name] = login.session_token

            def portal(name, method, message, response_type):
                return call("portal.v1.Portal/" + method, message, response_type, sessions[name])

            def remaining(name="ada"):
                status, answer = portal(name, "ListBlocks", portal_pb2.ListBlocksRequest(date=day, service_code="walk"),
                                        portal_pb2.ListBlocksResponse)
                return [b.remaining for b in answer.blocks] if status.code == 0 else status

            check("ListBlocks shows the block with 2 free", remaining() == [2], remaining())

            start = portal_pb2.StartCheckoutRequest(service_code="walk", block_id=block.block_id)
            status, started = portal("ada", "StartCheckout", start, portal_pb2.StartCheckoutResponse)
            check("StartCheckout holds a slot and returns a PaymentIntent for the server's price",
                  status.code == 0 and started.hold_token and started.payment_intent_id.startswith("pi_")
                  and started.client_secret and started.amount_cents == 1500 and started.currency == "gbp",
                  status)
            check("the hold shows in ListBlocks at once", remaining() == [1], remaining())
            check("the PaymentIntent waits for the browser at Stripe, manual capture",
                  stripe.call("GET", "/v1/payment_intents/" + started.payment_intent_id)["capture_method"] == "manual")

            status, again = portal("ada", "StartCheckout", start, portal_pb2.StartCheckoutResponse)
            check("a retry returns the same hold and PaymentIntent, no second slot",
                  status.code == 0 and again.hold_token == started.hold_token
                  and again.payment_intent_id == started.payment_intent_id and remaining() == [1], status)

            finalize = portal_pb2.FinalizeCheckoutRequest(
                hold_token=started.hold_token, payment_intent_id=started.payment_intent_id)
            status, _ = portal("ada", "FinalizeCheckout", finalize, portal_pb2.FinalizeCheckoutResponse)
            check("FinalizeCheckout before paying -> FAILED_PRECONDITION PAYMENT_NOT_CONFIRMED, nothing booked",
                  status.code == 9 and status.reason == "PAYMENT_NOT_CONFIRMED" and remaining() == [1], status)

            status, _ = portal("bob", "FinalizeCheckout", finalize, portal_pb2.FinalizeCheckoutResponse)
            check("another client's hold -> NOT_FOUND HOLD_NOT_FOUND",
                  status.code == 5 and status.reason == "HOLD_NOT_FOUND", status)

            paid = stripe.pay(started.payment_intent_id)
            check("the browser's card authorises the PaymentIntent", paid == "requires_capture", paid)

            status, done = portal("ada", "FinalizeCheckout", finalize, portal_pb2.FinalizeCheckoutResponse)
            booking = done.booking if done else None
            check("FinalizeCheckout books the slot", status.code == 0 and booking.booking_id > 0
                  and booking.block_id == block.block_id and booking.date == day and booking.amount_cents == 1500,
                  status)
            status, repeat = portal("ada", "FinalizeCheckout", finalize, portal_pb2.FinalizeCheckoutResponse)
            check("FinalizeCheckout again returns the same booking",
                  status.code == 0 and repeat.booking.booking_id == booking.booking_id, status)
            check("the booked slot stays taken", remaining() == [1], remaining())

            deadline = time.time() + 15
            while stripe.status(started.payment_intent_id) != "succeeded" and time.time() < deadline:
                time.sleep(0.2)
            check("the money is captured after the booking", stripe.status(started.payment_intent_id) == "succeeded")

            status, mine = portal("ada", "ListMyBookings", portal_pb2.ListMyBookingsRequest(),
                                  portal_pb2.ListMyBookingsResponse)
            check("the client sees its booking", status.code == 0
                  and [b.booking_id for b in mine.bookings] == [booking.booking_id], status)
            status, theirs = portal("bob", "ListMyBookings", portal_pb2.ListMyBookingsRequest(),
                                    portal_pb2.ListMyBookingsResponse)
            check("another client sees none of it", status.code == 0 and len(theirs.bookings) == 0, status)

            status, bo = portal("bob", "StartCheckout", start, portal_pb2.StartCheckoutResponse)
            check("a second client holds the last slot", status.code == 0 and remaining() == [0], status)
            status, _ = portal("cyd", "StartCheckout", start, portal_pb2.StartCheckoutResponse)
            check("a third -> FAILED_PRECONDITION CAPACITY_FULL",
                  status.code == 9 and status.reason == "CAPACITY_FULL", status)
            status, _ = portal("bob", "CancelCheckout", portal_pb2.CancelCheckoutRequest(hold_token=bo.hold_token),
                               portal_pb2.CancelCheckoutResponse)
            check("CancelCheckout frees the slot at once", status.code == 0 and remaining() == [1], status)
            deadline = time.time() + 15
            while stripe.status(bo.payment_intent_id) != "canceled" and time.time() < deadline:
                time.sleep(0.2)
            check("the cancelled hold's PaymentIntent is cancelled at Stripe",
                  stripe.status(bo.payment_intent_id) == "canceled")
            next_id[0] += 1
            conn.send(request(next_id[0], "portal.v1.Portal/StartCheckout", start, token=sessions["cyd"],
                              timeout_ms=1))
            r = conn.receive()
            check("StartCheckout with 1 ms to live -> DEADLINE_EXCEEDED, no slot taken",
                  r.id == next_id[0] and r.status.code == 4 and remaining() == [1], (r.status, remaining()))
            status, cy = portal("cyd", "StartCheckout", start, portal_pb2.StartCheckoutResponse)
            check("the freed slot can be taken", status.code == 0 and remaining() == [0], status)

            conn.close()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            log = server.stderr.read().decode(errors="replace")
            check("portald exits cleanly", server.returncode == 0, server.returncode)
            check("no token, client secret or key in the log",
                  all(secret not in log for secret in [key, STRIPE_KEY, started.client_secret, started.hold_token]
                      + list(sessions.values())))
        finally:
            kill_if_running(server, stripe_process)

    check.finish()


if __name__ == "__main__":
    main()
