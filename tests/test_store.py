"""The outbox in the database: claims with leases and tokens, the order between a
broadcast's rows, renewals and releases, and results guarded by their hand-over."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta

import pytest
from helpers import add_patients

from core.db import write_transaction
from core.delivery import handover, retry, store
from core.delivery.results import Guard, Result, record
from core.enums import DeliveryKind, DeliveryState, RecipientStatus
from core.models import Campaign, Delivery, Invitation, Patient, Recipient, database
from core.reasons import Reason
from core.rules import Stage

T0 = datetime(2026, 3, 2, 15, 0, 0)
EVERY = tuple(DeliveryKind)


def campaign(kind="broadcast", **kw):
    return Campaign.create(
        kind=kind,
        name=f"c{Campaign.select().count()}",
        created_by="t",
        starts_on=kw.pop("starts_on", T0.date()),
        ends_on=kw.pop("ends_on", T0.date()),
        **kw,
    )


def recipients_for(c, n, status=RecipientStatus.QUEUED, start=1000, in_feed=True):
    add_patients(n, start, app_id=lambda i: f"a-{i}")
    pats = Patient.select().where(Patient.emr_id.in_([str(i) for i in range(start, start + n)])).order_by(Patient.id)
    return [Recipient.create(campaign=c, patient=p, status=status, in_feed=in_feed) for p in pats]


def delivery(kind, c, r=None, due=T0, **kw):
    return Delivery.create(kind=kind, campaign=c, recipient=r, due_at=due, created_at=due, **kw)


def ids(claimed):
    return sorted(x.id for x in claimed)


def handed(claimed):
    """What core.delivery.handover does to a row it passes (its checks aside)."""
    for c in claimed:
        Delivery.update(handed_token=c.token, handed_at=T0, attempts=Delivery.attempts + 1).where(
            Delivery.id == c.id
        ).execute()
    return claimed


def done(claimed, state=DeliveryState.SENT, code="", detail=""):
    return record([Result(c, state, code, detail) for c in handed(claimed)], T0, Guard.HANDOVER)


class TestClaim:
    def test_claims_due_rows_with_a_lease_and_a_token(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        rs = recipients_for(c, 3)
        due = [delivery(DeliveryKind.EMAIL, c, r) for r in rs[:2]]
        later = delivery(DeliveryKind.EMAIL, c, rs[2], due=T0 + timedelta(hours=1))
        got = store.claim("w1", T0, 60, 10)
        assert ids(got) == ids(due) and len({g.token for g in got}) == 1 and not any(g.orphaned for g in got)
        row = Delivery.get_by_id(due[0].id)
        assert (row.status, row.claimed_by, row.lease_until, row.claim_token) == (
            DeliveryState.SENDING,
            "w1",
            T0 + timedelta(seconds=60),
            got[0].token,
        )
        assert row.attempts == 0, "a claim is not an attempt: a hand-over is"
        assert store.claim("w2", T0 + timedelta(seconds=30), 60, 10) == []  # leased
        assert Delivery.get_by_id(later.id).status == DeliveryState.PENDING

    def test_an_expired_lease_is_claimable_with_a_new_token_and_says_if_it_was_handed_over(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        a, b = (delivery(DeliveryKind.EMAIL, c, r) for r in recipients_for(c, 2))
        first = store.claim("dead", T0, 60, 10)
        handed([x for x in first if x.id == a.id])
        again = {x.id: x for x in store.claim("w2", T0 + timedelta(seconds=61), 60, 10)}
        assert set(again) == {a.id, b.id} and again[a.id].token != first[0].token
        assert again[a.id].orphaned and not again[b.id].orphaned

    def test_a_limited_claim_takes_the_earliest_due_of_waiting_retrying_and_expired_rows(self, db):
        # the SQLite claim reads each of the three in index order and merges them: the
        # limit must still take the earliest due overall, oldest id first on a tie
        c = campaign("invitation", starts_on=None, ends_on=None)
        rs = recipients_for(c, 7)
        at = [T0 - timedelta(minutes=m) for m in (5, 1, 4, 2, 3, 3, 0)]
        rows = [delivery(DeliveryKind.EMAIL, c, r, due=d) for r, d in zip(rs, at, strict=True)]
        Delivery.update(status=DeliveryState.RETRYING).where(Delivery.id.in_([rows[1].id, rows[4].id])).execute()
        Delivery.update(status=DeliveryState.SENDING, claimed_by="dead", lease_until=T0 - timedelta(seconds=1)).where(
            Delivery.id.in_([rows[2].id, rows[5].id])
        ).execute()
        order = [d.id for d in sorted(rows, key=lambda d: (d.due_at, d.id))]
        assert ids(store.claim("w", T0, 60, 3)) == sorted(order[:3])
        assert ids(store.claim("w", T0, 60, 2)) == sorted(order[3:5])
        assert ids(store.claim("w", T0, 60, 5)) == sorted(order[5:])
        assert store.claim("w2", T0, 60, 10) == []

    def test_a_dispatcher_never_reclaims_what_it_holds(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        (d,) = (delivery(DeliveryKind.EMAIL, c, r) for r in recipients_for(c, 1))
        store.claim("w", T0, 1, 10)
        assert store.claim("w", T0 + timedelta(seconds=5), 60, 10) == [], "its own lease ran out: still its row"
        assert ids(store.claim("other", T0 + timedelta(seconds=5), 60, 10)) == [d.id]

    def test_kinds_are_claimed_apart(self, db):
        c = campaign()
        (r,) = recipients_for(c, 1)
        e = delivery(DeliveryKind.TEST_EMAIL, c)
        pub = delivery(DeliveryKind.PUBLISH, c, r)
        assert ids(store.claim("w", T0, 60, 10, (DeliveryKind.EMAIL, DeliveryKind.TEST_EMAIL))) == [e.id]
        assert ids(store.claim("w", T0, 60, 10, (DeliveryKind.PUBLISH,))) == [pub.id]

    def test_concurrent_claimers_split_the_rows(self, db, db_url):
        c = campaign("invitation", starts_on=None, ends_on=None)
        rs = recipients_for(c, 300)
        Delivery.insert_many(
            [
                {"kind": "email", "campaign": c.id, "recipient": r.id, "due_at": T0, "idempotency_key": f"k{r.id}"}
                for r in rs
            ]
        ).execute()
        got: dict[str, list[int]] = {}

        def worker(name):
            from core.models import database

            mine = []
            while True:
                batch = store.claim(name, T0, 60, 7)
                if not batch:
                    break
                mine += ids(batch)
            got[name] = mine
            database.close()

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        every = [i for mine in got.values() for i in mine]
        assert len(every) == 300 == len(set(every))


class TestOrder:
    def test_put_goes_first_and_in_order(self, db):
        c = campaign()
        r1, r2 = recipients_for(c, 2, status=RecipientStatus.ASSIGNED)
        put1 = delivery(DeliveryKind.PUT, c, content_version=1)
        put2 = delivery(DeliveryKind.PUT, c, content_version=2)
        pubs = [delivery(DeliveryKind.PUBLISH, c, r) for r in (r1, r2)]
        first = store.claim("w", T0, 60, 10)
        assert ids(first) == [put1.id]  # not put2, not the publishes
        assert store.claim("w2", T0, 60, 10) == []
        done(first)
        second = store.claim("w", T0, 60, 10)
        assert ids(second) == [put2.id]
        done(second, DeliveryState.FAILED, Reason.SEND_ERROR, "x")
        assert ids(store.claim("w", T0, 60, 10)) == [p.id for p in pubs]

    def test_push_and_unpublish_wait_for_their_publish(self, db):
        c = campaign()
        r1, r2 = recipients_for(c, 2)
        pub = delivery(DeliveryKind.PUBLISH, c, r1)
        push1 = delivery(DeliveryKind.PUSH, c, r1)
        push2 = delivery(DeliveryKind.PUSH, c, r2)
        unpub = delivery(DeliveryKind.UNPUBLISH, c, r1)
        exp = delivery(DeliveryKind.EXPIRE, c)
        first = store.claim("w", T0, 60, 10)
        assert ids(first) == sorted([pub.id, push2.id])
        done([x for x in first if x.id == pub.id])
        # the expire still waits for the unpublish
        assert ids(store.claim("w", T0, 60, 10)) == sorted([push1.id, unpub.id])
        assert Delivery.get_by_id(exp.id).status == DeliveryState.PENDING

    def test_a_push_waits_until_its_recipient_is_in_the_feed(self, db):
        c = campaign()
        (r,) = recipients_for(c, 1, in_feed=False)
        push = delivery(DeliveryKind.PUSH, c, r)
        assert store.claim("w", T0, 60, 10) == []  # the window opened, publish_due has not run yet
        Recipient.update(in_feed=True).where(Recipient.id == r.id).execute()
        assert ids(store.claim("w", T0, 60, 10)) == [push.id]

    def test_expire_waits_for_the_unpublish(self, db):
        c = campaign()
        (r1,) = recipients_for(c, 1)
        unpub = delivery(DeliveryKind.UNPUBLISH, c, r1)
        exp = delivery(DeliveryKind.EXPIRE, c)
        first = store.claim("w", T0, 60, 10)
        assert ids(first) == [unpub.id]
        done(first)
        assert ids(store.claim("w", T0, 60, 10)) == [exp.id]


class TestLeases:
    def test_renew_extends_only_what_the_dispatcher_holds(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        a, b = (delivery(DeliveryKind.EMAIL, c, r) for r in recipients_for(c, 2))
        store.claim("w", T0, 60, 1)
        store.claim("other", T0, 60, 1)
        assert store.renew("w", T0 + timedelta(seconds=50), 60) == 1
        assert Delivery.get_by_id(a.id).lease_until == T0 + timedelta(seconds=110)
        assert Delivery.get_by_id(b.id).lease_until == T0 + timedelta(seconds=60)

    def test_release_gives_back_only_rows_not_handed_over(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        a, b = (delivery(DeliveryKind.EMAIL, c, r) for r in recipients_for(c, 2))
        got = {x.id: x for x in store.claim("w", T0, 60, 10)}
        handed([got[b.id]])
        assert store.release(list(got.values())) == 1
        ra, rb = Delivery.get_by_id(a.id), Delivery.get_by_id(b.id)
        assert (ra.status, ra.claimed_by, ra.attempts) == (DeliveryState.PENDING, None, 0)
        assert (rb.status, rb.claimed_by) == (DeliveryState.SENDING, "w"), "in flight: left to its lease"

    def test_cancel_spares_what_is_in_flight(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        a, b, w = (delivery(DeliveryKind.EMAIL, c, r) for r in recipients_for(c, 3))
        got = {x.id: x for x in store.claim("w", T0, 60, 2)}
        handed([got[b.id]])
        assert store.cancel(Delivery.campaign == c, Reason.STOPPED) == 2  # a (claimed) and w (waiting)
        assert [Delivery.get_by_id(i).status for i in (a.id, b.id, w.id)] == ["cancelled", "sending", "cancelled"]

    @pytest.mark.parametrize("db_url", ["pg"], indirect=True)  # SQLite: BEGIN IMMEDIATE holds the whole file
    def test_a_cancel_waits_for_the_hand_over_that_read_the_row(self, db):
        """PostgreSQL: the hand-over's fresh read locks its rows (FOR UPDATE, in id order),
        so a removal cannot cancel a row between the read that passed it and the mark that
        hands it over (the email would go, and the removal would have said it would not)."""
        c = campaign("invitation", starts_on=None, ends_on=None)
        (r,) = recipients_for(c, 1)
        d = delivery(DeliveryKind.EMAIL, c, r)
        (row,) = store.claim("w", T0, 60, 10)
        tried: dict[str, object] = {}

        def remove_meanwhile():
            try:
                with write_transaction():
                    database.execute_sql("SET LOCAL lock_timeout = '300ms'")
                    tried["cancelled"] = store.cancel(Delivery.id == d.id, Reason.REMOVED)
            except Exception as e:  # noqa: BLE001 - what the waiting cancel met
                tried["error"] = e
            finally:
                database.close()

        with write_transaction():
            fresh = handover._read([d.id], Stage.SEND, c.kind, True, lock=True)
            assert (fresh[d.id].status, fresh[d.id].token) == (DeliveryState.SENDING, row.token)
            t = threading.Thread(target=remove_meanwhile)
            t.start()
            t.join(30)
        err = tried.get("error")
        # peewee's OperationalError carries the driver's error, whose SQLSTATE says why
        sqlstate = getattr(err and err.__context__, "sqlstate", None)
        assert "cancelled" not in tried and sqlstate == "55P03", tried  # lock_not_available: it waited
        assert Delivery.get_by_id(d.id).status == DeliveryState.SENDING
        # once the hand-over's transaction is over, the removal goes through
        assert store.cancel(Delivery.id == d.id, Reason.REMOVED) == 1


class TestResults:
    def test_results_follow_into_the_recipients(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        rs = recipients_for(c, 4)
        ds = [delivery(DeliveryKind.EMAIL, c, r) for r in rs]
        inv = Invitation.create(
            recipient=rs[2], patient=rs[2].patient, campaign=c, delivery=ds[2], code="X", token="t", url="u",
            expires_at=T0,
        )  # fmt: skip
        got = {x.id: x for x in handed(store.claim("w", T0, 60, 10))}
        nxt = T0 + timedelta(seconds=30)
        written = record(
            [
                Result(got[ds[0].id], DeliveryState.SENT),
                Result(got[ds[1].id], DeliveryState.RETRYING, Reason.SEND_ERROR, "HTTP 503", nxt),
                Result(got[ds[2].id], DeliveryState.FAILED, Reason.SEND_ERROR, "550 no such user"),
                Result(got[ds[3].id], DeliveryState.RETRYING, Reason.OUTCOME_UNKNOWN, "dropped", nxt, unknown=True),
            ],
            T0,
            Guard.HANDOVER,
        )
        assert written == {DeliveryState.SENT: 1, DeliveryState.RETRYING: 2, DeliveryState.FAILED: 1}
        rec = {r.id: r for r in Recipient.select()}
        assert (rec[rs[0].id].status, rec[rs[0].id].sent_at) == (RecipientStatus.SENT, T0)
        assert (rec[rs[1].id].status, rec[rs[1].id].reason, rec[rs[1].id].next_attempt_at) == (
            RecipientStatus.RETRYING,
            "HTTP 503",
            nxt,
        )
        assert (rec[rs[2].id].status, rec[rs[2].id].reason) == (RecipientStatus.FAILED, "550 no such user")
        assert not Invitation.select().where(Invitation.id == inv.id).exists(), "never sent: not an invitation"
        d3 = Delivery.get_by_id(ds[3].id)
        assert (d3.status, d3.error_code, d3.outcomes_unknown, d3.handed_at) == ("retrying", "outcome_unknown", 1, None)

    def test_an_old_claims_failure_never_overwrites_a_newer_claim(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        (d,) = (delivery(DeliveryKind.EMAIL, c, r) for r in recipients_for(c, 1))
        (mine,) = handed(store.claim("slow", T0, 10, 10))
        (theirs,) = store.claim("fast", T0 + timedelta(seconds=11), 10, 10)
        assert theirs.orphaned and theirs.token != mine.token
        late = Result(mine, DeliveryState.RETRYING, Reason.SEND_ERROR, "timeout", T0)
        assert record([late], T0, Guard.HANDOVER) == {}
        row = Delivery.get_by_id(d.id)
        assert (row.status, row.claim_token) == (DeliveryState.SENDING, theirs.token)

    def test_an_old_claims_late_success_is_the_truth(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        (r,) = recipients_for(c, 1)
        d = delivery(DeliveryKind.EMAIL, c, r)
        (mine,) = handed(store.claim("slow", T0, 10, 10))
        (theirs,) = store.claim("fast", T0 + timedelta(seconds=11), 10, 10)
        assert record([Result(mine, DeliveryState.SENT)], T0, Guard.HANDOVER) == {DeliveryState.SENT: 1}
        row = Delivery.get_by_id(d.id)
        assert (row.status, row.claim_token, row.sent_at) == (DeliveryState.SENT, None, T0)
        # the newer claim's decision comes too late to undo it
        stale = Result(theirs, DeliveryState.RETRYING, Reason.OUTCOME_UNKNOWN, "x", T0, unknown=True)
        assert record([stale], T0, Guard.CLAIM) == {}
        assert Delivery.get_by_id(d.id).status == DeliveryState.SENT

    def test_a_send_in_flight_when_the_recipient_was_removed_is_recorded_as_sent(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        (r,) = recipients_for(c, 1)
        delivery(DeliveryKind.EMAIL, c, r)
        (mine,) = handed(store.claim("w", T0, 60, 10))
        Recipient.update(status=RecipientStatus.REMOVED).execute()
        record([Result(mine, DeliveryState.SENT)], T0, Guard.HANDOVER)
        rec = Recipient.get_by_id(r.id)
        assert (rec.status, rec.sent_at) == (RecipientStatus.REMOVED, T0), "sent, with its time, then removed"

    def test_a_claim_guard_result_never_touches_a_row_handed_over(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        (d,) = (delivery(DeliveryKind.EMAIL, c, r) for r in recipients_for(c, 1))
        (mine,) = handed(store.claim("w", T0, 60, 10))
        assert record([Result(mine, DeliveryState.SKIPPED, Reason.DO_NOT_CONTACT)], T0, Guard.CLAIM) == {}
        assert Delivery.get_by_id(d.id).status == DeliveryState.SENDING


def test_backoff_grows_is_capped_and_jittered():
    rng = random.Random(1)
    for n in range(1, 8):
        d = retry.backoff_seconds(n, 30, 3600, rng)
        assert 0.75 * min(3600, 30 * 2 ** (n - 1)) <= d <= min(3600, 30 * 2 ** (n - 1))
    assert all(retry.backoff_seconds(20, 30, 3600, rng) <= 3600 for _ in range(50))
    samples = {round(retry.backoff_seconds(3, 30, 3600, rng), 3) for _ in range(20)}
    assert len(samples) > 10, "jitter spreads retries"
    assert 12 <= retry.retry_delay(3, 12, 30, 3600, rng) <= 13.2, "Retry-After wins over the backoff"
    assert retry.retry_delay(3, 0, 30, 3600, rng) == 0
