"""The outbox: claims with leases, ordering between a broadcast's rows, backoff, results."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta

from helpers import add_patients

from core import outbox
from core.enums import DeliveryKind, DeliveryState, RecipientStatus
from core.models import Campaign, Delivery, Invitation, Patient, Recipient
from core.outbox import Result

T0 = datetime(2026, 3, 2, 15, 0, 0)


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


class TestClaim:
    def test_claims_due_rows_with_a_lease(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        rs = recipients_for(c, 3)
        due = [delivery(DeliveryKind.EMAIL, c, r) for r in rs[:2]]
        later = delivery(DeliveryKind.EMAIL, c, rs[2], due=T0 + timedelta(minutes=5))
        got = outbox.claim("w1", T0, 60, 10)
        assert ids(got) == [d.id for d in due]
        assert {g.key for g in got} == {d.idempotency_key for d in due} and all(g.attempts == 1 for g in got)
        row = Delivery.get_by_id(due[0].id)
        assert (row.status, row.claimed_by, row.lease_until) == (
            DeliveryState.SENDING,
            "w1",
            T0 + timedelta(seconds=60),
        )
        assert outbox.claim("w2", T0 + timedelta(seconds=30), 60, 10) == []  # leased
        assert Delivery.get_by_id(later.id).status == DeliveryState.PENDING

    def test_an_expired_lease_is_claimable_again(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        d = delivery(DeliveryKind.EMAIL, c, recipients_for(c, 1)[0])
        assert ids(outbox.claim("dead", T0, 60, 10)) == [d.id]
        (again,) = outbox.claim("w2", T0 + timedelta(seconds=61), 60, 10)
        assert again.id == d.id and again.attempts == 2
        assert Delivery.get_by_id(d.id).claimed_by == "w2"

    def test_limit_and_disjoint_claims(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        for r in recipients_for(c, 10):
            delivery(DeliveryKind.EMAIL, c, r)
        a = outbox.claim("a", T0, 60, 4)
        b = outbox.claim("b", T0, 60, 4)
        rest = outbox.claim("c", T0, 60, 4)
        assert (len(a), len(b), len(rest)) == (4, 4, 2)
        assert not set(ids(a)) & set(ids(b)) and not set(ids(a) + ids(b)) & set(ids(rest))

    def test_concurrent_claimers_never_share_a_row(self, db, db_url):
        c = campaign("invitation", starts_on=None, ends_on=None)
        rs = recipients_for(c, 300)
        Delivery.insert_many(
            [
                {
                    "kind": DeliveryKind.EMAIL,
                    "campaign": c.id,
                    "recipient": r.id,
                    "due_at": T0,
                    "idempotency_key": f"k{r.id}",
                }
                for r in rs
            ]
        ).execute()
        got: dict[str, list[int]] = {}

        def worker(name):
            mine = []
            while True:
                batch = outbox.claim(name, T0, 60, 7)
                if not batch:
                    break
                mine += ids(batch)
            got[name] = mine
            from core.models import database

            database.close()

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        every = [i for mine in got.values() for i in mine]
        assert len(every) == 300 == len(set(every))

    def test_put_goes_first_and_in_order(self, db):
        c = campaign()
        r1, r2 = recipients_for(c, 2, status=RecipientStatus.ASSIGNED)
        put1 = delivery(DeliveryKind.PUT, c, content_version=1)
        put2 = delivery(DeliveryKind.PUT, c, content_version=2)
        pubs = [delivery(DeliveryKind.PUBLISH, c, r) for r in (r1, r2)]
        assert ids(outbox.claim("w", T0, 60, 10)) == [put1.id]  # not put2, not the publishes
        assert outbox.claim("w", T0, 60, 10) == []
        outbox.record(
            "w", [Result(outbox.Claimed(put1.id, DeliveryKind.PUT, c.id, None, "", 1, 1), DeliveryState.SENT)], T0
        )
        assert ids(outbox.claim("w", T0, 60, 10)) == [put2.id]
        outbox.record(
            "w",
            [Result(outbox.Claimed(put2.id, DeliveryKind.PUT, c.id, None, "", 1, 2), DeliveryState.FAILED, "x")],
            T0,
        )
        assert ids(outbox.claim("w", T0, 60, 10)) == [p.id for p in pubs]

    def test_push_and_unpublish_wait_for_their_publish(self, db):
        c = campaign()
        r1, r2 = recipients_for(c, 2)
        pub = delivery(DeliveryKind.PUBLISH, c, r1)
        push1 = delivery(DeliveryKind.PUSH, c, r1)
        push2 = delivery(DeliveryKind.PUSH, c, r2)
        unpub = delivery(DeliveryKind.UNPUBLISH, c, r1)
        exp = delivery(DeliveryKind.EXPIRE, c)
        assert ids(outbox.claim("w", T0, 60, 10)) == sorted([pub.id, push2.id])
        outbox.record(
            "w", [Result(outbox.Claimed(pub.id, DeliveryKind.PUBLISH, c.id, r1.id, "", 1, 1), DeliveryState.SENT)], T0
        )
        # the expire still waits for the unpublish
        assert ids(outbox.claim("w", T0, 60, 10)) == sorted([push1.id, unpub.id])
        assert Delivery.get_by_id(exp.id).status == DeliveryState.PENDING

    def test_a_push_waits_until_its_recipient_is_in_the_feed(self, db):
        c = campaign()
        (r,) = recipients_for(c, 1, in_feed=False)
        push = delivery(DeliveryKind.PUSH, c, r)
        assert outbox.claim("w", T0, 60, 10) == []  # the window opened, publish_due has not run yet
        Recipient.update(in_feed=True).where(Recipient.id == r.id).execute()
        assert ids(outbox.claim("w", T0, 60, 10)) == [push.id]

    def test_expire_waits_for_the_unpublish(self, db):
        c = campaign()
        (r1,) = recipients_for(c, 1)
        unpub = delivery(DeliveryKind.UNPUBLISH, c, r1)
        exp = delivery(DeliveryKind.EXPIRE, c)
        assert ids(outbox.claim("w", T0, 60, 10)) == [unpub.id]
        outbox.record(
            "w",
            [Result(outbox.Claimed(unpub.id, DeliveryKind.UNPUBLISH, c.id, r1.id, "", 1, 1), DeliveryState.SENT)],
            T0,
        )
        assert ids(outbox.claim("w", T0, 60, 10)) == [exp.id]

    def test_release_gives_the_attempt_back(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        a, b = (delivery(DeliveryKind.EMAIL, c, r) for r in recipients_for(c, 2))
        Delivery.update(attempts=2, status=DeliveryState.RETRYING).where(Delivery.id == b.id).execute()
        outbox.claim("w", T0, 60, 10)
        assert outbox.release("other", [a.id, b.id]) == 0
        assert outbox.release("w", [a.id, b.id]) == 2
        ra, rb = Delivery.get_by_id(a.id), Delivery.get_by_id(b.id)
        assert (ra.status, ra.attempts, ra.claimed_by) == (DeliveryState.PENDING, 0, None)
        assert (rb.status, rb.attempts) == (DeliveryState.RETRYING, 2)
        outbox.claim("w", T0, 60, 10)
        assert outbox.release_all("w") == 2
        assert Delivery.get_by_id(a.id).attempts == 1  # started: the attempt counts


class TestRecord:
    def test_results_and_recipients_follow(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        rs = recipients_for(c, 6)
        ds = [delivery(DeliveryKind.EMAIL, c, r) for r in rs]
        Recipient.update(status=RecipientStatus.REMOVED).where(Recipient.id == rs[5].id).execute()
        claimed = {x.id: x for x in outbox.claim("w", T0, 60, 10)}
        inv = Invitation.create(
            recipient=rs[2],
            patient=rs[2].patient,
            campaign=c,
            delivery=ds[2],
            code="AAAA-AAAA",
            token="t",
            url="u",
            expires_at=T0,
        )
        nxt = T0 + timedelta(seconds=30)
        written = outbox.record(
            "w",
            [
                Result(claimed[ds[0].id], DeliveryState.SENT),
                Result(claimed[ds[1].id], DeliveryState.RETRYING, "HTTP 503", nxt),
                Result(claimed[ds[2].id], DeliveryState.FAILED, "550 no such user"),
                Result(claimed[ds[3].id], DeliveryState.SKIPPED, "do not contact"),
                Result(claimed[ds[4].id], DeliveryState.CANCELLED, "recipient is removed"),
                Result(claimed[ds[5].id], DeliveryState.SENT),
            ],
            T0,
        )
        assert written == {
            DeliveryState.SENT: 2,
            DeliveryState.RETRYING: 1,
            DeliveryState.FAILED: 1,
            DeliveryState.SKIPPED: 1,
            DeliveryState.CANCELLED: 1,
        }
        rec = {r.id: Recipient.get_by_id(r.id) for r in rs}
        dl = {d.id: Delivery.get_by_id(d.id) for d in ds}
        assert (rec[rs[0].id].status, rec[rs[0].id].sent_at) == (RecipientStatus.SENT, T0)
        assert (dl[ds[0].id].status, dl[ds[0].id].sent_at, dl[ds[0].id].claimed_by) == (DeliveryState.SENT, T0, None)
        assert (rec[rs[1].id].status, rec[rs[1].id].reason, rec[rs[1].id].next_attempt_at) == (
            RecipientStatus.RETRYING,
            "HTTP 503",
            nxt,
        )
        assert (dl[ds[1].id].status, dl[ds[1].id].due_at, dl[ds[1].id].last_error) == (
            DeliveryState.RETRYING,
            nxt,
            "HTTP 503",
        )
        assert (rec[rs[2].id].status, rec[rs[2].id].reason) == (RecipientStatus.FAILED, "550 no such user")
        assert not Invitation.select().where(Invitation.id == inv.id).exists()
        assert (rec[rs[3].id].status, rec[rs[3].id].reason) == (RecipientStatus.SKIPPED, "do not contact")
        assert rec[rs[4].id].status == RecipientStatus.QUEUED and dl[ds[4].id].status == DeliveryState.CANCELLED
        assert rec[rs[5].id].status == RecipientStatus.REMOVED, "a removed recipient stays removed"

    def test_a_lost_lease_is_not_overwritten(self, db):
        c = campaign("invitation", starts_on=None, ends_on=None)
        (r,) = recipients_for(c, 1)
        d = delivery(DeliveryKind.EMAIL, c, r)
        (mine,) = outbox.claim("slow", T0, 10, 10)
        (theirs,) = outbox.claim("fast", T0 + timedelta(seconds=11), 10, 10)
        assert outbox.record("fast", [Result(theirs, DeliveryState.SENT)], T0) == {DeliveryState.SENT: 1}
        assert outbox.record("slow", [Result(mine, DeliveryState.FAILED, "timeout")], T0) == {}
        assert (
            Delivery.get_by_id(d.id).status == DeliveryState.SENT
            and Recipient.get_by_id(r.id).status == RecipientStatus.SENT
        )

    def test_publish_failures_fail_the_recipient_success_leaves_it(self, db):
        c = campaign()
        r1, r2, r3 = recipients_for(c, 3, status=RecipientStatus.ASSIGNED)
        ds = [delivery(DeliveryKind.PUBLISH, c, r) for r in (r1, r2, r3)]
        cl = {x.id: x for x in outbox.claim("w", T0, 60, 10)}
        outbox.record(
            "w",
            [
                Result(cl[ds[0].id], DeliveryState.SENT),
                Result(cl[ds[1].id], DeliveryState.FAILED, "unknown app account"),
                Result(cl[ds[2].id], DeliveryState.RETRYING, "HTTP 500", T0 + timedelta(seconds=5)),
            ],
            T0,
        )
        got = [Recipient.get_by_id(r.id) for r in (r1, r2, r3)]
        assert [(g.status, g.reason) for g in got] == [
            (RecipientStatus.ASSIGNED, ""),
            (RecipientStatus.FAILED, "unknown app account"),
            (RecipientStatus.ASSIGNED, ""),
        ]

    def test_deferred_rows_wait_without_using_an_attempt(self, db):
        c = campaign()
        (r,) = recipients_for(c, 1)
        d = delivery(DeliveryKind.PUSH, c, r)
        (cl,) = outbox.claim("w", T0, 60, 10)
        later = T0 + timedelta(days=2)
        outbox.record("w", [Result(cl, DeliveryState.PENDING, "", later)], T0)
        row = Delivery.get_by_id(d.id)
        assert (row.status, row.attempts, row.due_at) == (DeliveryState.PENDING, 0, later)
        assert Recipient.get_by_id(r.id).status == RecipientStatus.QUEUED


def test_backoff_grows_with_jitter_and_is_capped():
    rng = random.Random(7)
    for n, expected in [(1, 30), (2, 60), (3, 120), (5, 480)]:
        d = outbox.backoff_seconds(n, 30, 3600, rng)
        assert 0.75 * expected <= d <= expected
    assert all(outbox.backoff_seconds(20, 30, 3600, rng) <= 3600 for _ in range(50))
    samples = {round(outbox.backoff_seconds(3, 30, 3600, rng), 3) for _ in range(20)}
    assert len(samples) > 10, "jittered"
    assert 12 <= outbox.retry_delay(3, 12, 30, 3600, rng) <= 13.2, "Retry-After wins over the backoff"
    assert outbox.retry_delay(3, 0, 30, 3600, rng) == 0
