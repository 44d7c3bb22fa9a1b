"""Shared parts of the web tests: a small world (companies, notices, an ILO account) and the app.

No tests here; the `test_` name only puts it where pytest looks (like test_alerts_support).
Notices are stored the day before `MONDAY`, so they make up the ILO digest of week 2026-W48,
which has ended and is the one an ILO reviews at `MONDAY`.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from test_alerts_support import MONDAY, SECRET, add_company, make_db, notice, store

from monitor.db import open_database, session_scope
from monitor.models import NoticeRow
from monitor.web.app import create_app
from monitor.web.auth import add_user
from monitor.web.tokens import CompanyLinks

PASSWORD = "correct horse battery"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> Cryostat'
__all__ = ["MONDAY", "SECRET", "build_world", "csrf", "log_in", "make_app"]


def _area(area_id: str) -> dict[str, Any]:
    return {"id": area_id, "score": 0.9, "evidence": ["stated by the test"]}


def build_world(tmp_path: Any) -> str:
    """acme (keyword cryostat, two recipients), cryo (keyword magnet), four notices, one ILO."""
    url = make_db(tmp_path)
    engine = open_database(url)
    day_before = MONDAY.replace(day=29)
    with session_scope(engine) as session:
        add_company(session, "acme", ["a@acme.example.nl", "b@acme.example.nl"], keywords=["cryostat"])
        add_company(session, "cryo", ["c@cryo.example.nl"], keywords=["magnet"])
        records = [
            notice("1", "Cryostat for HL-LHC"),
            notice("2", "Superconducting magnet test bench", technology_areas=[_area("magnets_superconductivity")]),
            notice("3", HOSTILE),
            notice("4", "Turbomolecular pumps", technology_areas=[_area("vacuum")]),
        ]
        store(session, records, day_before)
        # The contract refuses such links at the door; set one anyway, as an older row might
        # hold, to check that the pages never render a non-http(s) link (defence in depth).
        hostile = session.scalars(select(NoticeRow).where(NoticeRow.source_id == "3")).one()
        hostile.url = "javascript:alert(1)"
        hostile.documents = [{"url": "javascript:alert(2)", "title": "<b>doc</b>"}]
        add_user(session, "jan@ilo.example.nl", "Jan", PASSWORD, day_before)
    return url


def make_app(url: str) -> Flask:
    app = create_app(url, now=lambda: MONDAY, secret=SECRET, base_url="https://monitor.example.nl")
    app.config["TESTING"] = True
    return app


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in(client: FlaskClient) -> str:
    """Log in as the world's ILO; returns the session's CSRF token."""
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": "jan@ilo.example.nl", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf(client.get("/ilo/digest").get_data(as_text=True))


def company_link(company_id: str) -> str:
    return f"/company/{CompanyLinks(SECRET).token(company_id)}/"
