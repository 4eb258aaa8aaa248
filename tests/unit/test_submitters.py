"""The TDB and CyberTipline submitters against local fakes of the APIs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fake_apis import FakeCyberTipline, FakeTdb
from tests.unit.test_ncmec import T, tip
from tests.unit.test_tdb import restriction
from veilleur.compliance import ncmec, tdb
from veilleur.compliance.config import load_compliance_policy
from veilleur.compliance.ncmec_client import CyberTiplineClient, NcmecError, PackagedFile
from veilleur.compliance.tdb_client import TdbAuthError, TdbSubmitter
from veilleur.taxonomy import Target

POLICY = load_compliance_policy()


def statements(n: int) -> list[dict[str, Any]]:
    return [tdb.statement(restriction(decision_id=f"decision-{i}",
                                      target=Target.of("message", f"m{i}")), POLICY)
            for i in range(n)]


def submitter(fake: FakeTdb, sleeps: list[float] | None = None) -> TdbSubmitter:
    return TdbSubmitter(httpx.Client(transport=fake.transport()), "secret",
                        base_url="https://tdb.test/api/v1/",
                        sleep=(sleeps.append if sleeps is not None else lambda _s: None))


def test_batches_of_at_most_100_and_nothing_sent_twice() -> None:
    fake = FakeTdb()
    out = submitter(fake).submit(statements(250))
    assert fake.posts == [100, 100, 50] and len(out.submitted) == 250
    assert all(out.submitted.values())  # each with its uuid
    again = submitter(fake).submit(statements(250), known=set(out.submitted))
    assert fake.posts == [100, 100, 50] and not again.submitted  # idempotent by puid


def test_puids_the_api_already_has_are_recognised_and_the_rest_sent() -> None:
    fake = FakeTdb()
    submitter(fake).submit(statements(3)[:2])
    out = submitter(fake).submit(statements(3))  # our records lost: the API tells us
    assert sorted(out.already) == sorted(s["puid"] for s in statements(3)[:2])
    assert len(out.submitted) == 1 and len(fake.stored) == 3


def test_429_and_5xx_are_retried_with_back_off() -> None:
    fake, sleeps = FakeTdb(fail_next=[429, 503, 500]), []
    out = submitter(fake, sleeps).submit(statements(5))
    assert len(out.submitted) == 5 and out.retries == 3
    assert sleeps == [2.0, 2.0, 2.0]  # Retry-After: 2 beats 0.5, 1, 2
    fake = FakeTdb(fail_next=[500] * 10)
    out = submitter(fake).submit(statements(2))
    assert len(out.failed) == 2 and not fake.stored


def test_an_ambiguous_timeout_is_reconciled_before_anything_is_resent() -> None:
    fake = FakeTdb(fail_next=["timeout-after-store"])
    out = submitter(fake).submit(statements(4))
    assert len(out.submitted) == 4 and len(fake.stored) == 4
    assert fake.posts == [4]  # stored on the first try: checked, not resent


def test_statements_the_api_refuses_are_reported_and_the_rest_stored() -> None:
    batch = statements(3)
    fake = FakeTdb(reject={batch[1]["puid"]})
    out = submitter(fake).submit(batch)
    assert list(out.rejected) == [batch[1]["puid"]]
    assert set(out.submitted) == {batch[0]["puid"], batch[2]["puid"]}
    bad = statements(1)[0] | {"territorial_scope": ["EL"]}
    out = submitter(FakeTdb()).submit([bad])
    assert "Greece is GR" in out.rejected[bad["puid"]][0]  # never sent: local validation


def test_a_bad_token_stops_the_run() -> None:
    with pytest.raises(TdbAuthError):
        TdbSubmitter(httpx.Client(transport=FakeTdb().transport()), "wrong",
                     base_url="https://tdb.test/api/v1/").submit(statements(1))


def client(fake: FakeCyberTipline) -> CyberTiplineClient:
    return CyberTiplineClient(httpx.Client(transport=fake.transport()), "esp", "pw",
                              base_url="https://ncmec.test/ispws")


def files() -> list[PackagedFile]:
    meta = ncmec.ReportedFile("a1", "p.jpg", T, None, None, None, True, True)
    chat = ncmec.ReportedFile("chat", "chat.csv", None, None, None, None, True, False)
    return [PackagedFile(meta, b"\xff\xd8 generated test bytes"),
            PackagedFile(chat, ncmec.chat_csv([]), supplemental=True)]


def test_the_documented_flow_files_a_report_with_its_files() -> None:
    fake = FakeCyberTipline()
    c = client(fake)
    assert c.status()
    filed = c.file(ncmec.report_xml(tip()), files())
    report = fake.reports[filed.report_id]
    assert fake.calls == ["status", "submit", "upload", "fileinfo", "upload", "fileinfo",
                          "finish"]
    assert report["state"] == "finished" and len(report["files"]) == 2
    assert "<fileViewedByEsp>true</fileViewedByEsp>" in report["info"][0]
    assert filed.file_ids == ["f1", "f2"] and len(filed.request_ids) == 6


@pytest.mark.parametrize(("fault", "code"), [({"upload": 1110}, 1110),
                                             ({"fileinfo": 4100}, 4100),
                                             ({"finish": 1000}, 1000)])
def test_a_failure_after_submit_retracts_the_report(fault: dict[str, int], code: int) -> None:
    fake = FakeCyberTipline(fail=fault)
    with pytest.raises(NcmecError) as err:
        client(fake).file(ncmec.report_xml(tip()), files())
    assert err.value.code == code and fake.calls[-1] == "retract"
    assert next(iter(fake.reports.values()))["state"] == "retracted"


def test_a_file_ncmec_received_differently_is_an_error() -> None:
    fake = FakeCyberTipline(wrong_md5=True)
    with pytest.raises(NcmecError, match="different file"):
        client(fake).file(ncmec.report_xml(tip()), files())
    assert fake.calls[-1] == "retract"


def test_an_out_of_order_report_never_leaves() -> None:
    fake = FakeCyberTipline()
    xml = ncmec.report_xml(tip()).replace("<reporter>", "<reporter><bogus/>")
    with pytest.raises(NcmecError, match="4100"):
        client(fake).submit(xml)
    assert fake.calls == []


def test_bad_credentials_are_reported() -> None:
    c = CyberTiplineClient(httpx.Client(transport=FakeCyberTipline().transport()), "esp",
                           "wrong", base_url="https://ncmec.test/ispws")
    with pytest.raises(NcmecError, match="authentication"):
        c.submit(ncmec.report_xml(tip()))
