"""Idempotent creates: replays, scope, and concurrent duplicates."""

import collections
import random
import time
from concurrent.futures import ThreadPoolExecutor

from helpers import new_idem, ref_number


def _create(api, key, **payload):
    body = {"visibility": "public"}
    body.update(payload)
    return api.post("/v1/incidents", key=key, json=body, timeout=60)


def test_replay_returns_same_incident(api, db, org):
    idem = new_idem()
    first = _create(api, org.creator, idempotency_key=idem, name="Original name")
    assert first.status == 200, first.describe()
    assert not first.replayed, "a first create must not say Idempotent-Replayed: true"
    inc = first.body["incident"]
    n = ref_number(inc)

    second = _create(api, org.creator, idempotency_key=idem, name="Different name", status="declined",
                     summary="ignored", mode="test", slack_team_id="TIGNORED")
    assert second.status == 200, second.describe()
    assert second.header("Idempotent-Replayed") == "true"
    assert second.body == first.body, "a replay must return the existing incident unchanged"
    assert second.request_id != first.request_id

    # other keys of the same organisation replay too: idempotency is per organisation
    third = _create(api, org.admin, idempotency_key=idem, visibility="private")
    assert third.status == 200 and third.replayed, third.describe()
    assert third.body["incident"]["id"] == inc["id"]
    assert third.body["incident"]["visibility"] == "public"

    rows = db.query("select id, name, status from incidents where organisation_id = :'o' and idempotency_key = :'k'",
                    o=org.id, k=idem)
    assert rows == [(inc["id"], "Original name", "triage")]
    # no reference number consumed by the replays
    nxt = _create(api, org.creator, idempotency_key=new_idem())
    assert nxt.status == 200 and not nxt.replayed
    assert ref_number(nxt.body["incident"]) == n + 1


def test_replay_ignores_a_payload_that_would_not_validate(api, db, org):
    """The key is looked up before the rest of the body is checked: a known
    key replays whatever else the new payload says (CONTRACT: the new
    payload is ignored); a new key with the same payload is still a 422."""
    idem = new_idem()
    first = _create(api, org.creator, idempotency_key=idem, name="Kept")
    assert first.status == 200 and not first.replayed, first.describe()
    before = org.incident_count()
    bad = {"idempotency_key": idem, "visibility": "sideways", "status": 7,
           "custom_field_entries": "not a list", "name": ["x"]}
    again = api.post("/v1/incidents", key=org.creator, json=bad)
    assert again.status == 200 and again.replayed, again.describe()
    assert again.body == first.body
    assert org.incident_count() == before
    bad["idempotency_key"] = new_idem()
    r = api.post("/v1/incidents", key=org.creator, json=bad)
    assert r.status == 422, r.describe()
    assert org.incident_count() == before
    # no visibility at all: still the replay
    r = api.post("/v1/incidents", key=org.creator, json={"idempotency_key": idem})
    assert r.status == 200 and r.replayed and r.body == first.body, r.describe()


def test_replay_reads_the_key_as_a_json_parser_does(api, org):
    """Repeated names: the last wins (as json-c keeps it); keys written with
    escapes replay through the full parse."""
    a, b = new_idem(), new_idem()
    first = _create(api, org.creator, idempotency_key=a)
    assert first.status == 200 and not first.replayed
    raw = ('{"idempotency_key":"%s","visibility":"public","idempotency_key":"%s"}' % (b, a)).encode()
    r = api.post("/v1/incidents", key=org.creator, data=raw,
                 headers={"Content-Type": "application/json"})
    assert r.status == 200 and r.replayed and r.body == first.body, r.describe()
    raw = ('{"idempotency_key":"%s","visibility":"public","idempotency_key":"%s"}' % (a, b)).encode()
    r = api.post("/v1/incidents", key=org.creator, data=raw,
                 headers={"Content-Type": "application/json"})
    assert r.status == 200 and not r.replayed, r.describe()

    quoted = new_idem() + '"\\/\u00e9'
    one = _create(api, org.creator, idempotency_key=quoted)
    two = _create(api, org.creator, idempotency_key=quoted)
    assert one.status == 200 and not one.replayed, one.describe()
    assert two.status == 200 and two.replayed and two.body == one.body, two.describe()
    escaped = ('{"idempotency_key":"%s","visibility":"public"}' % a.replace("-", "\\u002d")).encode()
    r = api.post("/v1/incidents", key=org.creator, data=escaped,
                 headers={"Content-Type": "application/json"})
    assert r.status == 200 and r.replayed and r.body == first.body, r.describe()


def test_keys_are_exact_strings(api, org):
    base = new_idem()
    ids = set()
    for k in (base, base.upper(), base + " ", " " + base):
        r = _create(api, org.creator, idempotency_key=k)
        assert r.status == 200 and not r.replayed, (k, r.describe())
        ids.add(r.body["incident"]["id"])
    assert len(ids) == 4


def test_idempotency_is_per_organisation(api, db, org, other_org):
    idem = new_idem()
    a = _create(api, org.creator, idempotency_key=idem)
    b = _create(api, other_org.creator, idempotency_key=idem)
    assert a.status == 200 and b.status == 200
    assert not a.replayed and not b.replayed
    assert a.body["incident"]["id"] != b.body["incident"]["id"]
    assert db.count("select count(*) from incidents where idempotency_key = :'k'", k=idem) == 2


def test_replay_after_other_creates_returns_current_state(api, org):
    idem = new_idem()
    first = _create(api, org.creator, idempotency_key=idem, name="Kept")
    for _ in range(3):
        assert _create(api, org.creator, idempotency_key=new_idem()).status == 200
    again = _create(api, org.creator, idempotency_key=idem, name="Not kept")
    assert again.replayed and again.body == first.body


def test_concurrent_identical_creates(api, db, ctx):
    """5 idempotency keys x 50 identical requests in parallel: exactly one
    row per key, every caller gets its id, references 1..5 without gaps."""
    o = ctx.new_org("idem-concurrent")
    n_keys, per_key = 5, 50
    idems = [new_idem() for _ in range(n_keys)]
    jobs = [(i, k) for k in idems for i in range(per_key)]
    random.Random(1).shuffle(jobs)
    keys = [o.creator, o.admin]

    def one(job):
        i, k = job
        try:
            return k, _create(api, keys[i % 2], idempotency_key=k, name="Concurrent " + k[-6:])
        except Exception as exc:  # noqa: BLE001 - reported below
            return k, exc

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, jobs, timeout=120))
    elapsed = time.monotonic() - t0

    errors = [(k, r) for k, r in results if isinstance(r, Exception)]
    assert not errors, "transport errors: %r" % errors[:5]
    bad = [r.describe() for _, r in results if r.status != 200]
    assert not bad, "%d of %d concurrent creates failed, e.g. %s" % (len(bad), len(results), bad[:3])

    rows = db.query("select idempotency_key, id, reference_number from incidents where organisation_id = :'o'",
                    o=o.id)
    by_key = collections.defaultdict(list)
    for k, iid, ref in rows:
        by_key[k].append((iid, int(ref)))
    assert sorted(by_key) == sorted(idems), "unexpected rows: %r" % rows
    for k in idems:
        assert len(by_key[k]) == 1, "%d rows for one idempotency key" % len(by_key[k])
    assert sorted(ref for v in by_key.values() for _, ref in v) == list(range(1, n_keys + 1))

    fresh = collections.Counter()
    for k, r in results:
        inc = r.body["incident"]
        assert inc["id"] == by_key[k][0][0], "a caller got another incident's id"
        assert ref_number(inc) == by_key[k][0][1]
        if not r.replayed:
            fresh[k] += 1
    assert all(fresh[k] == 1 for k in idems), (
        "exactly one create per key must be non-replayed, got %r" % dict(fresh))
    assert elapsed < 90, "250 creates took %.1fs" % elapsed
