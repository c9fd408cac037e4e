#!/usr/bin/env python3
"""Staff tools from another language: a Python client written from SPEC.md,
docs/protocol.md and proto/ alone checks a real portald's portal login
controls, self-reschedule flag, timetable (GetDay, CopyDay, DeleteBlock) and
bad-input answers. Bookings exist only through pre-pay checkout, so portald
runs with `--payments simulated` (every PaymentIntent approved; no Stripe).

Usage: staff_interop.py PATH_TO_PORTALD

Prints one line per check and a closing 'N passed, N failed' line; exits 1 if
any check failed. Shares the framing helpers of interop_check.py.
"""
import datetime
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_check import Checks, generate_messages, request, request_builders, kill_if_running, start_portald, wait_for_port  # noqa: E402

CODES = {"OK": 0, "INVALID_ARGUMENT": 3, "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7,
         "FAILED_PRECONDITION": 9, "UNAUTHENTICATED": 16}
MISSING = 999999  # a client or block id that does not exist


def main():
    portald = sys.argv[1]
    check = Checks()

    def show(status):
        return "code=%d reason=%s details=%s message=%r" % (
            status.code, status.reason, dict(status.details), status.message)

    def expect(name, status, code, reason, field=None, extra=True):
        check(name + " -> %s %s" % (code, reason) + (" field=" + field if field else ""),
              status.code == CODES[code] and status.reason == reason and extra
              and (field is None or status.details.get("field") == field), show(status))

    with tempfile.TemporaryDirectory() as tmp:
        generate_messages(os.path.join(tmp, "gen"))
        from portal.v1 import admin_pb2, portal_pb2, types_pb2

        server, port = start_portald(
            portald, os.path.join(tmp, "data", "portal.sqlite"), "--log-level", "warning", "--payments", "simulated")
        try:
            conn = wait_for_port(port, server, "portald")
            conn.sock.settimeout(60)  # logins hash passwords; a debug build is slow
            key = open(os.path.join(tmp, "data", "admin.key")).read().strip()
            next_id = [0]

            def rpc(service, name, token, /, **fields):
                module = admin_pb2 if service == "Admin" else portal_pb2
                next_id[0] += 1
                conn.send(request(next_id[0], "portal.v1.%s/%s" % (service, name),
                                  getattr(module, name + "Request")(**fields), token=token))
                r = conn.receive()
                if r.id != next_id[0]:
                    raise SystemExit("answer for id %d, expected %d" % (r.id, next_id[0]))
                answer = getattr(module, name + "Response").FromString(r.payload) if r.status.code == 0 else None
                return r.status, answer

            def admin(name, /, **fields):
                return rpc("Admin", name, key, **fields)

            def must(name, /, **fields):
                status, answer = admin(name, **fields)
                if status.code != 0:
                    raise SystemExit("Admin/%s failed: %s" % (name, show(status)))
                return answer

            def portal(token, name, /, **fields):
                return rpc("Portal", name, token, **fields)

            def login(username):
                return rpc("Portal", "Login", None, username=username, password="correct horse " + username)

            def bulk(method, client_ids, *expected, **fields):
                """Runs a bulk action; True when it answers `expected` per client, in request order."""
                name = types_pb2.ClientActionOutcome.Name
                got = [(r.client_id, name(r.outcome)[len("CLIENT_ACTION_OUTCOME_"):])
                       for r in must(method, client_ids=client_ids, **fields).results]
                return got == list(zip(client_ids, expected)) or got

            def get_client(cid):
                return must("GetClient", client_id=cid).client

            def login_of(name):
                client = get_client(ids[name])
                return types_pb2.PortalLoginState.Name(client.login_state)[len("PORTAL_LOGIN_STATE_"):], client.username

            def day(date):
                return {b.block.label: {c.service_code: (c.capacity, c.booked, c.held, c.remaining)
                                        for c in b.capacities} for b in must("GetDay", date=date).blocks}

            def my_bookings(token):
                status, answer = portal(token, "ListMyBookings")
                return [(b.booking_id, b.block_id, b.start_time) for b in answer.bookings] if answer else show(status)

            def book(token, block_id):
                status, hold = portal(token, "StartCheckout", service_code="walk", block_id=block_id)
                if status.code != 0:
                    return status, None
                return portal(token, "FinalizeCheckout", hold_token=hold.hold_token,
                              payment_intent_id=hold.payment_intent_id)

            # The business: walks and daycare; five blocks on d1, a week ahead; d2-d5 empty for now.
            today = datetime.date.today()
            d1, d2, d3, d4, d5 = [(today + datetime.timedelta(days=i)).isoformat() for i in range(7, 12)]
            for code, minutes, price in (("walk", 60, 1500), ("daycare", 480, 4000)):
                must("UpsertService", service=types_pb2.ServiceDefaults(
                    service_code=code, duration_minutes=minutes, price_cents=price, currency="gbp"))

            def block(date, start, end, label, **capacities):
                bid = must("CreateBlock", date=date, start_time=start, end_time=end, label=label).block.block_id
                for code, capacity in capacities.items():
                    must("SetCapacity", block_id=bid, service_code=code, capacity=capacity)
                return bid

            a = block(d1, "09:00", "12:00", "Morning", walk=2, daycare=3)
            b = block(d1, "13:00", "16:00", "Afternoon", walk=1)
            c = block(d1, "17:00", "18:00", "Evening", walk=1)
            n = block(d1, "19:00", "20:00", "Night", daycare=1)
            spare = block(d1, "20:00", "21:00", "Spare")
            ids = {}
            for name in ("ada", "bob", "cyd", "dee", "eve", "fay", "gus"):
                ids[name] = must("CreateClient", name=name.title()).client.client_id
                if name not in ("dee", "gus"):
                    must("CreatePortalLogin", client_id=ids[name], username=name, password="correct horse " + name)

            # 1. Portal login controls.
            status, session = login("ada")
            check("CreatePortalLogin + Login gives a session for the client",
                  status.code == 0 and session.session_token and session.client_id == ids["ada"], show(status))
            ada = session.session_token

            def walks(token, date=d1):
                status, answer = portal(token, "ListBlocks", date=date, service_code="walk")
                return [(x.block.label, x.remaining) for x in answer.blocks] if answer else show(status)

            walks(ada)  # a second ListBlocks may be answered from the server's cache
            check("GetClient shows the login ACTIVE with its username", login_of("ada") == ("ACTIVE", "ada"))
            mixed = [ids["ada"], MISSING, ids["dee"]]
            outcome = bulk("DisablePortalLogin", mixed, "DONE", "NOT_FOUND", "NO_LOGIN")
            check("DisablePortalLogin answers per client, in order: DONE, NOT_FOUND, NO_LOGIN",
                  outcome is True, outcome)
            expect("the open session's next call after disable", portal(ada, "ListMyBookings")[0],
                   "UNAUTHENTICATED", "LOGIN_DISABLED")
            status, _ = portal(ada, "ListBlocks", date=d1, service_code="walk")
            expect("a (cacheable) ListBlocks of the disabled session", status, "UNAUTHENTICATED", "LOGIN_DISABLED")
            expect("Login of a disabled login", login("ada")[0], "UNAUTHENTICATED", "INVALID_CREDENTIALS")
            check("the disabled account stays (DISABLED, username kept)", login_of("ada") == ("DISABLED", "ada"))
            outcome = bulk("EnablePortalLogin", mixed, "DONE", "NOT_FOUND", "NO_LOGIN")
            check("EnablePortalLogin answers per client, in order: DONE, NOT_FOUND, NO_LOGIN", outcome is True, outcome)
            status, session = login("ada")
            check("after EnablePortalLogin the client logs in and its new session works",
                  status.code == 0 and portal(session.session_token, "ListMyBookings")[0].code == 0, show(status))

            bob = login("bob")[1].session_token
            outcome = bulk("RemovePortalLogin", [ids["bob"], MISSING, ids["dee"]], "DONE", "NOT_FOUND", "NO_LOGIN")
            check("RemovePortalLogin answers per client, in order: DONE, NOT_FOUND, NO_LOGIN", outcome is True, outcome)
            expect("the open session's next call after remove", portal(bob, "ListMyBookings")[0],
                   "UNAUTHENTICATED", "INVALID_CREDENTIALS")
            expect("Login of a removed login", login("bob")[0], "UNAUTHENTICATED", "INVALID_CREDENTIALS")
            check("GetClient shows no login after remove", login_of("bob") == ("NONE", ""), login_of("bob"))
            check("removing again answers NO_LOGIN", bulk("RemovePortalLogin", [ids["bob"]], "NO_LOGIN") is True)
            expect("an unlinked (not deleted) user keeps its username",
                   admin("CreatePortalLogin", client_id=ids["dee"], username="bob", password="a long password")[0],
                   "ALREADY_EXISTS", "USERNAME_TAKEN", "username")
            cyd = login("cyd")[1].session_token
            check("RemovePortalLogin with delete_user answers DONE",
                  bulk("RemovePortalLogin", [ids["cyd"]], "DONE", delete_user=True) is True)
            expect("the deleted user's session", portal(cyd, "ListMyBookings")[0],
                   "UNAUTHENTICATED", "INVALID_CREDENTIALS")
            expect("Login of a deleted user", login("cyd")[0], "UNAUTHENTICATED", "INVALID_CREDENTIALS")
            status, _ = admin("CreatePortalLogin", client_id=ids["dee"], username="cyd", password="correct horse cyd")
            check("a deleted user's username is free again", status.code == 0
                  and login("cyd")[1].client_id == ids["dee"], show(status))
            expect("a second login for one client",
                   admin("CreatePortalLogin", client_id=ids["dee"], username="dee", password="a long password")[0],
                   "ALREADY_EXISTS", "PORTAL_LOGIN_EXISTS")
            expect("DisablePortalLogin with no ids", admin("DisablePortalLogin", client_ids=[])[0],
                   "INVALID_ARGUMENT", "INVALID_CLIENT_IDS", "client_ids")

            # 2. Self-reschedule.
            eve, fay = login("eve")[1].session_token, login("fay")[1].session_token
            status, done = book(eve, a)
            booking = done.booking if done else None
            check("a booking through simulated checkout (09:00-10:00 in Morning)", status.code == 0
                  and booking.block_id == a and (booking.start_time, booking.end_time) == ("09:00", "10:00"),
                  show(status))
            def move(token, block_id):
                return portal(token, "RescheduleBooking", booking_id=booking.booking_id, new_block_id=block_id)

            check("a second client fills Evening", book(fay, c)[0].code == 0)
            check("can_self_reschedule is false by default", get_client(ids["eve"]).can_self_reschedule is False)
            before = my_bookings(eve)
            expect("RescheduleBooking while the flag is false", move(eve, b)[0],
                   "PERMISSION_DENIED", "RESCHEDULE_NOT_ALLOWED", extra=my_bookings(eve) == before)
            check("SetCanSelfReschedule answers per client: DONE, DONE, NOT_FOUND", bulk(
                "SetCanSelfReschedule", [ids["eve"], ids["fay"], MISSING], "DONE", "DONE", "NOT_FOUND",
                can_self_reschedule=True) is True)
            check("GetClient shows can_self_reschedule = true", get_client(ids["eve"]).can_self_reschedule)
            flags = {cl.client_id: cl.can_self_reschedule for cl in must("ListClients", page_size=500).clients}
            check("ListClients shows the flag per client", flags == {
                cid: name in ("eve", "fay") for name, cid in ids.items()}, flags)
            day_before = day(d1)
            expect("RescheduleBooking to a full block", move(eve, c)[0],
                   "FAILED_PRECONDITION", "CAPACITY_FULL",
                   extra=my_bookings(eve) == before and day(d1) == day_before)
            expect("RescheduleBooking to a block without the service", move(eve, n)[0],
                   "FAILED_PRECONDITION", "SERVICE_NOT_OFFERED")
            expect("RescheduleBooking to a missing block", move(eve, MISSING)[0],
                   "NOT_FOUND", "BLOCK_NOT_FOUND", "new_block_id")
            expect("RescheduleBooking of another client's booking", move(fay, b)[0],
                   "NOT_FOUND", "BOOKING_NOT_FOUND", "booking_id", extra=my_bookings(eve) == before)
            status, moved = move(eve, b)
            m = moved.booking if moved else None
            check("RescheduleBooking moves the booking to a block with room", status.code == 0
                  and (m.booking_id, m.block_id, m.date, m.start_time, m.end_time, m.block_label, m.amount_cents)
                  == (booking.booking_id, b, d1, "13:00", "14:00", "Afternoon", 1500), show(status))
            check("GetDay and ListBlocks show the slot moved (Morning free again, Afternoon full)",
                  day(d1)["Morning"]["walk"] == (2, 0, 0, 2) and day(d1)["Afternoon"]["walk"] == (1, 1, 0, 0)
                  and walks(fay) == [("Morning", 2), ("Afternoon", 0), ("Evening", 0)], (day(d1), walks(fay)))
            check("ListBookings shows the booking in its new block",
                  [(x.booking_id, x.block_id) for x in must("ListBookings", date=d1).bookings
                   if x.client_id == ids["eve"]] == [(booking.booking_id, b)])
            must("SetCanSelfReschedule", client_ids=[ids["eve"]], can_self_reschedule=False)
            expect("RescheduleBooking after the flag is cleared again", move(eve, a)[0],
                   "PERMISSION_DENIED", "RESCHEDULE_NOT_ALLOWED")

            # 3. Timetable.
            status, hold = portal(eve, "StartCheckout", service_code="walk", block_id=a)
            check("a hold on Morning shows in GetDay (capacity, booked, held, remaining per service)",
                  status.code == 0 and day(d1) == {
                      "Morning": {"daycare": (3, 0, 0, 3), "walk": (2, 0, 1, 1)}, "Afternoon": {"walk": (1, 1, 0, 0)},
                      "Evening": {"walk": (1, 1, 0, 0)}, "Night": {"daycare": (1, 0, 0, 1)}, "Spare": {}},
                  (show(status), day(d1)))
            check("GetDay lists a block's services ordered by code", [
                x.service_code for x in must("GetDay", date=d1).blocks[0].capacities] == ["daycare", "walk"])
            expect("DeleteBlock of a block with a booking", admin("DeleteBlock", block_id=b)[0],
                   "FAILED_PRECONDITION", "BLOCK_IN_USE", extra="Afternoon" in day(d1))
            expect("DeleteBlock of a block with an active hold", admin("DeleteBlock", block_id=a)[0],
                   "FAILED_PRECONDITION", "BLOCK_IN_USE", extra="Morning" in day(d1))
            expect("RemoveCapacity of a booked service", admin("RemoveCapacity", block_id=b, service_code="walk")[0],
                   "FAILED_PRECONDITION", "CAPACITY_IN_USE", extra=day(d1)["Afternoon"] == {"walk": (1, 1, 0, 0)})
            check("DeleteBlock of an unused block removes it",
                  admin("DeleteBlock", block_id=spare)[0].code == 0 and "Spare" not in day(d1))
            status, copied = admin("CopyDay", from_date=d1, to_date=d2)
            check("CopyDay onto an empty date copies times, labels and capacities, not bookings or holds",
                  status.code == 0 and copied.replaced_blocks == 0 and len(copied.blocks) == 4 and day(d2) == {
                      "Morning": {"daycare": (3, 0, 0, 3), "walk": (2, 0, 0, 2)}, "Afternoon": {"walk": (1, 0, 0, 1)},
                      "Evening": {"walk": (1, 0, 0, 1)}, "Night": {"daycare": (1, 0, 0, 1)}}, show(status))
            d1_before, d2_before = must("GetDay", date=d1), must("GetDay", date=d2)
            expect("CopyDay onto a date with blocks, no replace", admin("CopyDay", from_date=d1, to_date=d2)[0],
                   "FAILED_PRECONDITION", "DAY_NOT_EMPTY", extra=must("GetDay", date=d2) == d2_before)
            expect("CopyDay replace onto a date whose blocks have bookings and holds",
                   admin("CopyDay", from_date=d2, to_date=d1, replace=True)[0],
                   "FAILED_PRECONDITION", "BLOCK_IN_USE", extra=must("GetDay", date=d1) == d1_before)
            block(d3, "07:00", "08:00", "Early", walk=5)
            status, hold2 = portal(fay, "StartCheckout", service_code="walk", block_id=copied.blocks[0].block.block_id)
            d2_before = must("GetDay", date=d2)
            expect("CopyDay replace onto a date whose only use is one active hold",
                   admin("CopyDay", from_date=d3, to_date=d2, replace=True)[0], "FAILED_PRECONDITION", "BLOCK_IN_USE",
                   extra=status.code == 0 and must("GetDay", date=d2) == d2_before)
            status, copied = admin("CopyDay", from_date=d2, to_date=d3, replace=True)
            check("CopyDay replace onto a date with unused blocks replaces them (holds not copied)", status.code == 0
                  and copied.replaced_blocks == 1 and sorted(day(d3)) == sorted(day(d2))
                  and day(d3)["Morning"]["walk"] == (2, 0, 0, 2), show(status))
            check("CancelCheckout frees the holds",
                  portal(eve, "CancelCheckout", hold_token=hold.hold_token)[0].code == 0
                  and portal(fay, "CancelCheckout", hold_token=hold2.hold_token)[0].code == 0
                  and day(d1)["Morning"]["walk"] == (2, 0, 0, 2) and day(d2)["Morning"]["walk"] == (2, 0, 0, 2))
            expect("CopyDay onto the same day", admin("CopyDay", from_date=d2, to_date=d2)[0],
                   "INVALID_ARGUMENT", "SAME_DAY")
            expect("CopyDay from an empty day", admin("CopyDay", from_date=d5, to_date=d4, replace=True)[0],
                   "FAILED_PRECONDITION", "SOURCE_DAY_EMPTY")

            # 4. Bad input: each refused with its reason and field, nothing written.
            def snapshot():
                return ([must("GetDay", date=d).SerializeToString() for d in (d1, d2, d3, d4)],
                        must("ListClients", page_size=500).SerializeToString(),
                        must("ListServices").SerializeToString())

            blk, svc, cap = request_builders(types_pb2, d4, n, "daycare")

            gus, before = ids["gus"], snapshot()
            bad = [  # method, request, expected reason and details.field, what is wrong
                ("CreateBlock", blk(start_time="11:00"), "INVALID_TIME_RANGE", "end_time", "end before start"),
                ("CreateBlock", blk(end_time="09:00"), "INVALID_TIME_RANGE", "end_time", "end = start"),
                ("CreateBlock", blk(date="2027-02-30"), "INVALID_DATE", "date", "30 February"),
                ("CreateBlock", blk(date="7/10/2027"), "INVALID_DATE", "date", "date not YYYY-MM-DD"),
                ("CreateBlock", blk(start_time="24:00"), "INVALID_TIME", "start_time", "start 24:00"),
                ("CreateBlock", blk(start_time="9:00"), "INVALID_TIME", "start_time", "start not HH:MM"),
                ("CreateBlock", blk(label=""), "INVALID_LABEL", "label", "empty label"),
                ("CreateBlock", blk(label="x" * 101), "INVALID_LABEL", "label", "label of 101 characters"),
                ("UpdateBlock", dict(block_id=n, end_time="18:00"), "INVALID_TIME_RANGE", "end_time", "end < start"),
                ("UpdateBlock", dict(block_id=n, label="\u00e9" * 101), "INVALID_LABEL", "label", "label of 101 'é'"),
                ("SetCapacity", cap(capacity=-1), "INVALID_CAPACITY", "capacity", "negative capacity"),
                ("SetCapacity", cap(capacity=10001), "INVALID_CAPACITY", "capacity", "capacity 10001"),
                ("SetCapacity", cap(service_code="Walk"), "INVALID_SERVICE_CODE", "service_code", "code 'Walk'"),
                ("UpsertService", svc(price_cents=-1), "INVALID_PRICE", "price_cents", "negative price"),
                ("UpsertService", svc(currency="GBP"), "INVALID_CURRENCY", "currency", "currency 'GBP'"),
                ("UpsertService", svc(duration_minutes=0), "INVALID_DURATION", "duration_minutes", "0 minutes"),
                ("UpsertService", svc(notes="n" * 1001), "INVALID_NOTES", "notes", "notes of 1001 characters"),
                ("CreateClient", dict(name="x" * 201), "INVALID_NAME", "name", "name of 201 characters"),
                ("CreateClient", dict(name=""), "INVALID_NAME", "name", "empty name"),
                ("CreateClient", dict(name="Hal", email="not an email"), "INVALID_EMAIL", "email", "bad e-mail"),
                ("CreateClient", dict(name="Hal", phone="1" * 41), "INVALID_PHONE", "phone", "phone of 41 characters"),
                ("UpdateClient", dict(client_id=gus, name="x" * 201), "INVALID_NAME", "name", "name of 201 characters"),
                ("CreatePortalLogin", dict(client_id=gus, username="gu", password="a long password"),
                 "INVALID_USERNAME", "username", "username of 2 characters"),
                ("CreatePortalLogin", dict(client_id=gus, username="gus", password="short12"),
                 "INVALID_PASSWORD", "password", "password of 7 bytes"),
                ("GetDay", dict(date="2027-13-01"), "INVALID_DATE", "date", "month 13"),
                ("CopyDay", dict(from_date=d1, to_date="tomorrow"), "INVALID_DATE", "to_date", "to_date not a date"),
                ("ListClients", dict(page_size=-1), "INVALID_PAGE_SIZE", "page_size", "negative page size"),
                ("ListClients", dict(page_token="nonsense"), "INVALID_PAGE_TOKEN", "page_token", "made-up page token"),
                ("SetCanSelfReschedule", dict(client_ids=[gus] * 1001, can_self_reschedule=True),
                 "INVALID_CLIENT_IDS", "client_ids", "1001 ids"),
                ("DeleteBlock", dict(block_id=0), "INVALID_ID", "block_id", "block_id 0"),
            ]
            for method, fields, reason, field, what in bad:
                expect(method + " " + what, admin(method, **fields)[0], "INVALID_ARGUMENT", reason, field)
            for method, fields, reason, field, what in [
                    ("SetCapacity", cap(service_code="swim"), "UNKNOWN_SERVICE", "service_code", "unknown service"),
                    ("SetCapacity", cap(block_id=MISSING), "BLOCK_NOT_FOUND", "block_id", "unknown block"),
                    ("UpdateClient", dict(client_id=MISSING, name="X"), "CLIENT_NOT_FOUND", "client_id", "unknown")]:
                expect(method + " " + what, admin(method, **fields)[0], "NOT_FOUND", reason, field)
            check("after all the refusals GetDay, ListClients and ListServices are unchanged", snapshot() == before)

            conn.close()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            check("portald exits cleanly", server.returncode == 0, server.returncode)
        finally:
            kill_if_running(server)

    check.finish()


if __name__ == "__main__":
    main()
