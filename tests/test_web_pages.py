"""The web pages through Flask's test client: tokens, CSRF, validation, escaping, unsubscribe, exports.

Fast (no browser): each test builds the small world of test_web_support in a fresh SQLite file.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import icalendar
import pytest
from bs4 import BeautifulSoup
from lxml import etree
from sqlalchemy import select
from test_web_support import HOSTILE, MONDAY, PASSWORD, SECRET, build_world, company_link, csrf, log_in, make_app

from alerts.tokens import FEEDBACK, UNSUBSCRIBE, Signer
from monitor.db import open_database, session_scope
from monitor.matching.models import CompanyDecision, Feedback, Match, Profile, Recipient
from monitor.models import NoticeRow
from monitor.web.tokens import CompanyLinks


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return build_world(tmp_path)


def _recipient(url: str, email: str) -> Recipient:
    with session_scope(open_database(url)) as session:
        return session.scalars(select(Recipient).where(Recipient.email == email)).one()


def test_ilo_pages_need_a_login_and_a_right_password(world: str) -> None:
    client = make_app(world).test_client()
    response = client.get("/ilo/digest")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    token = csrf(client.get("/login").get_data(as_text=True))
    wrong = client.post("/login", data={"email": "jan@ilo.example.nl", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "wrong password" in wrong.get_data(as_text=True)
    assert client.get("/ilo/notices").status_code == 302
    log_in(client)
    assert client.get("/ilo/notices").status_code == 200


def test_forms_without_the_session_csrf_token_are_refused(world: str) -> None:
    client = make_app(world).test_client()
    assert client.post("/login", data={"email": "jan@ilo.example.nl", "password": "x"}).status_code == 400
    log_in(client)
    for data in ({"areas": "vacuum"}, {"areas": "vacuum", "csrf_token": "forged"}):
        assert client.post("/ilo/notices/1/areas", data=data).status_code == 400
    with session_scope(open_database(world)) as session:
        assert session.get_one(NoticeRow, 1).area_corrections == []
    # Another session's token is no good either.
    other = make_app(world).test_client()
    other_token = log_in(other)
    assert client.post("/ilo/notices/1/notes", data={"note": "x", "csrf_token": other_token}).status_code == 400


def test_invalid_input_is_shown_next_to_its_field_and_nothing_is_saved(world: str) -> None:
    client = make_app(world).test_client()
    token = log_in(client)
    response = client.post("/ilo/notices/1/areas", data={"areas": "vacuum warp_drive", "csrf_token": token})
    assert response.status_code == 400
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    error = soup.find(id="areas-error-1")
    assert error is not None and "warp_drive" in error.get_text()
    assert soup.find("input", {"name": "areas"})["value"] == "vacuum warp_drive"  # what was typed, kept
    with session_scope(open_database(world)) as session:
        row = session.get_one(NoticeRow, 1)
        assert row.area_corrections == [] and [a["id"] for a in row.technology_areas] == ["cryogenics"]
        assert len(row.versions) == 1

    # The company form: a bad keyword and an unknown area, each next to its field; nothing saved.
    page = client.get(company_link("acme")).get_data(as_text=True)
    data = {
        "csrf_token": csrf(page),
        "areas": "vacuum nonsense",
        "keywords": 'cryostat\n"unclosed',
        "organisations": "cern",
        "frequency": "weekly",
        "recipients": ["1"],
        "action": "save",
    }
    response = client.post(company_link("acme") + "profiles/1", data=data)
    assert response.status_code == 400
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert "nonsense" in soup.find(id="areas-error").get_text()
    assert soup.find(id="keywords-error") is not None
    with session_scope(open_database(world)) as session:
        profile = session.get_one(Profile, 1)
        assert profile.keywords == ["cryostat"] and profile.areas == [] and len(profile.versions) == 0


def test_ilo_corrects_areas_removes_and_adds_companies(world: str) -> None:
    client = make_app(world).test_client()
    token = log_in(client)
    response = client.post("/ilo/notices/1/areas", data={"areas": "vacuum cryogenics", "csrf_token": token})
    assert response.status_code == 302
    remove = {"company": "acme", "action": "remove", "csrf_token": token}
    assert client.post("/ilo/notices/1/companies", data=remove).status_code == 302
    add = {"company": "cryo", "action": "add", "csrf_token": token}
    assert client.post("/ilo/notices/4/companies", data=add).status_code == 302
    note = {"note": "Ask Acme about the cold box", "csrf_token": token}
    assert client.post("/ilo/notices/1/notes", data=note).status_code == 302
    with session_scope(open_database(world)) as session:
        row = session.get_one(NoticeRow, 1)
        assert sorted(a["id"] for a in row.technology_areas) == ["cryogenics", "vacuum"]
        assert row.versions[-1].kind == "corrected" and row.versions[-1].cause == "ILO Jan"
        feedback = session.scalars(select(Feedback).where(Feedback.notice_id == 1)).one()
        assert (feedback.company_id, feedback.relevant) == ("acme", False)
        assert session.scalar(select(Match).where(Match.notice_id == 1)) is None
        added = session.scalars(select(Match).where(Match.notice_id == 4)).one()
        assert added.reasons == ["added by ILO Jan"]
        # The matcher runs again (e.g. the notice changed): the decisions are applied again.
        from monitor.matching.service import apply_decisions, match_notices

        match_notices(session, [row, session.get_one(NoticeRow, 4)], MONDAY)
        apply_decisions(session, [1, 4], MONDAY)
        assert session.scalar(select(Match).where(Match.notice_id == 1)) is None
        assert len(session.scalars(select(Match).where(Match.notice_id == 4)).all()) == 1
        assert len(session.scalars(select(CompanyDecision)).all()) == 2
    page = client.get("/ilo/notices/1").get_data(as_text=True)
    assert "Ask Acme about the cold box" in page and "corrected" in page


def test_hostile_scraped_titles_and_links_render_inert(world: str) -> None:
    client = make_app(world).test_client()
    log_in(client)
    for path in ("/ilo/digest", "/ilo/notices", "/ilo/notices/3", company_link("cryo")):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert "<script>" not in html and "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
        soup = BeautifulSoup(html, "html.parser")
        assert soup.find("script") is None and soup.find("img") is None
        assert all(a["href"].startswith(("/", "https://", "http://")) for a in soup.find_all("a"))
        assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none'
        assert response.headers["Referrer-Policy"] == "no-referrer"
    text = BeautifulSoup(client.get("/ilo/notices/3").get_data(as_text=True), "html.parser").find(id="title")
    assert text.get_text() == HOSTILE  # shown as the text it is


def test_company_tokens_tampered_expired_or_for_another_purpose_are_refused(world: str) -> None:
    client = make_app(world).test_client()
    good = CompanyLinks(SECRET).token("acme")
    assert client.get(f"/company/{good}/").status_code == 200
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    other_company = CompanyLinks(SECRET).token("cryo")
    forged = CompanyLinks("another secret").token("acme")
    signer = Signer(SECRET)
    unsubscribe_token = signer.unsubscribe_token(recipient_id=1)
    feedback_token = signer.feedback_token(company_id="acme", notice_id=1, recipient_id=1, relevant=True)
    for token in (tampered, forged, unsubscribe_token, feedback_token, "garbage"):
        response = client.get(f"/company/{token}/")
        assert response.status_code == 403, token
        assert "Acme" not in response.get_data(as_text=True)
    # A company link opens only its own company.
    assert "Cryo B.V." in client.get(f"/company/{other_company}/").get_data(as_text=True)
    # Expired: a link older than its 90 days.
    expired = CompanyLinks(SECRET, max_age=1)
    old = expired.token("acme")
    time.sleep(2.1)
    with pytest.raises(Exception, match="expired"):
        expired.company_id(old)
    # And the reverse: a company link is no unsubscribe or feedback token.
    assert client.post(f"/unsubscribe/{good}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert client.get(f"/feedback/{good}").status_code == 400
    assert _recipient(world, "a@acme.example.nl").unsubscribed_at is None
    assert signer.loads(UNSUBSCRIBE, unsubscribe_token) and signer.loads(FEEDBACK, feedback_token)


def test_one_click_post_unsubscribes_and_get_never_does(world: str) -> None:
    client = make_app(world).test_client()
    token = Signer(SECRET).unsubscribe_token(recipient_id=_recipient(world, "a@acme.example.nl").id)
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "Yes, unsubscribe" in page.get_data(as_text=True)
    client.get(f"/unsubscribe/{token}")
    assert _recipient(world, "a@acme.example.nl").unsubscribed_at is None
    # A plain POST without the one-click body and without CSRF: refused.
    assert make_app(world).test_client().post(f"/unsubscribe/{token}", data={}).status_code == 400
    # RFC 8058: a fresh client (no cookies), the one-click body, nothing else.
    fresh = make_app(world).test_client()
    response = fresh.post(
        f"/unsubscribe/{token}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200 and "a@acme.example.nl is unsubscribed" in response.get_data(as_text=True)
    assert _recipient(world, "a@acme.example.nl").unsubscribed_at == MONDAY
    assert _recipient(world, "b@acme.example.nl").unsubscribed_at is None
    # The confirmation page's own button (with its CSRF token) works too, for the ILO list.
    ilo_token = Signer(SECRET).unsubscribe_token(email="ilo@ilo.example.nl")
    form = client.get(f"/unsubscribe/{ilo_token}").get_data(as_text=True)
    done = client.post(f"/unsubscribe/{ilo_token}", data={"csrf_token": csrf(form)})
    assert "ilo@ilo.example.nl is unsubscribed" in done.get_data(as_text=True)


def test_feedback_links_ask_on_get_and_record_on_post(world: str) -> None:
    client = make_app(world).test_client()
    token = Signer(SECRET).feedback_token(company_id="acme", notice_id=1, recipient_id=1, relevant=False)
    page = client.get(f"/feedback/{token}").get_data(as_text=True)
    with session_scope(open_database(world)) as session:
        assert session.scalars(select(Feedback)).all() == []
    assert client.post(f"/feedback/{token}", data={"csrf_token": csrf(page)}).status_code == 200
    with session_scope(open_database(world)) as session:
        assert [f.relevant for f in session.scalars(select(Feedback))] == [False]


def test_exports_are_well_formed(world: str) -> None:
    client = make_app(world).test_client()
    log_in(client)
    notices = list(csv.DictReader(io.StringIO(client.get("/ilo/export/notices.csv").get_data(as_text=True))))
    assert len(notices) == 4
    hostile = next(r for r in notices if r["source_id"] == "3")
    assert hostile["title"] == HOSTILE and hostile["url"] == ""  # the javascript: link never leaves
    matches = list(csv.DictReader(io.StringIO(client.get("/ilo/export/matches.csv").get_data(as_text=True))))
    assert {(m["company"], m["source_id"]) for m in matches} >= {("acme", "1"), ("cryo", "2")}

    calendar = icalendar.Calendar.from_ical(client.get("/ilo/export/deadlines.ics").data)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 4 and len({str(e["UID"]) for e in events}) == 4
    assert all(e.decoded("DTSTART").utcoffset() is not None for e in events)
    company = icalendar.Calendar.from_ical(client.get("/ilo/companies/acme/deadlines.ics").data)
    summaries = sorted(str(e["SUMMARY"]) for e in company.walk("VEVENT"))
    assert summaries == ["Deadline: " + HOSTILE, "Deadline: Cryostat for HL-LHC"]  # both mention cryostat
    token_calendar = client.get(company_link("acme") + "deadlines.ics")
    assert token_calendar.status_code == 200 and b"Cryostat for HL-LHC" in token_calendar.data

    feed = etree.fromstring(client.get("/ilo/profiles/1/feed.atom").data)
    atom = "{http://www.w3.org/2005/Atom}"
    assert feed.tag == f"{atom}feed"
    entries = feed.findall(f"{atom}entry")
    by_title = {e.findtext(f"{atom}title"): e for e in entries}
    assert set(by_title) == {"Cryostat for HL-LHC", HOSTILE}  # the title as text, escaped by lxml
    assert by_title["Cryostat for HL-LHC"].find(f"{atom}link").get("href") == "https://example.org/notices/1"
    assert by_title[HOSTILE].find(f"{atom}link") is None  # no javascript: link


def test_cli_users_calendar_feed_and_link(world: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import click
    from click.testing import CliRunner

    from monitor.web.cli import COMMANDS

    monkeypatch.setenv("ILO_MONITOR_SECRET", SECRET)
    cli = click.Group()
    for command in COMMANDS:
        cli.add_command(command)
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = runner.invoke(cli, [*args, "--db", world], input=stdin)
        return result.exit_code, result.output

    code, out = run("users", "add", "Piet@ILO.example.nl", "--name", "Piet", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0 and "piet@ilo.example.nl (Piet) created" in out
    code, out = run("users", "add", "piet@ilo.example.nl", "--password-stdin", stdin=PASSWORD + "\n")
    assert code != 0 and "already an account" in out
    code, out = run("users", "add", "kees@ilo.example.nl", "--password-stdin", stdin="short\n")
    assert code != 0 and "at least 10 characters" in out
    code, out = run("users", "list")
    assert code == 0 and "jan@ilo.example.nl" in out and "piet@ilo.example.nl" in out

    ics = tmp_path / "acme.ics"
    assert run("calendar", "--company", "acme", "--output", str(ics))[0] == 0
    assert len(list(icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT"))) == 2
    assert run("calendar", "--ilo", "--output", str(tmp_path / "ilo.ics"))[0] == 0
    assert run("calendar", "--output", str(ics))[0] != 0  # neither --company nor --ilo
    atom = tmp_path / "feed.atom"
    assert run("feed", "1", "--output", str(atom))[0] == 0
    assert etree.parse(str(atom)).getroot().tag == "{http://www.w3.org/2005/Atom}feed"
    code, out = run("link", "acme")
    token = out.strip().rstrip("/").rsplit("/", 1)[1]
    assert code == 0 and CompanyLinks(SECRET).company_id(token) == "acme"
