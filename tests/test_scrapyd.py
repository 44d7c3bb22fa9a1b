"""Crawls through real Scrapyd nodes on loopback: deploy the egg, dispatch a replayed crawl, lose a node.

Two `scrapyd` processes are started on 127.0.0.1 with a temporary configuration (random ports,
basic authentication, a short poll interval). The project's egg is built once and deployed
with `scrapyd-deploy` (the `[deploy]` section of scrapy.cfg) to one node and with `deploy()`
(addversion.json) to the other. Then `crawl_source`, with `ILO_MONITOR_SCRAPYD_URLS` set, runs
the TenderNed recording on a node exactly as it would in a child process: the run is recorded
and judged by the crawl's own extension in the test database. Last, the node running a slowed
crawl is killed (its whole process group, crawl included): the job goes to the other node and
the run still succeeds, saying it was re-dispatched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from monitor import db
from monitor.crawl import scrapyd
from monitor.crawl.jobs import crawl_source
from monitor.crawl.replay import CrawlResult
from monitor.crawl.runs import CrawlRun
from monitor.db import session_scope
from monitor.models import NoticeRow

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
USER, PASSWORD = "ilo", "s3cret-for-tests"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningNode:
    process: subprocess.Popen[bytes]
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"http://{USER}:{PASSWORD}@127.0.0.1:{self.port}/#slots=1"

    @property
    def node(self) -> scrapyd.Node:
        return scrapyd.Node.from_url(self.url)

    def kill(self) -> None:
        # The whole session: Scrapyd and the crawl processes it started, as when a machine dies.
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_node(folder: Path) -> RunningNode:
    folder.mkdir(parents=True)
    port = free_port()
    (folder / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        "bind_address = 127.0.0.1\n"
        f"http_port = {port}\n"
        f"username = {USER}\n"
        f"password = {PASSWORD}\n"
        "poll_interval = 0.2\n"
        "max_proc = 2\n"
        f"eggs_dir = {folder / 'eggs'}\n"
        f"dbs_dir = {folder / 'dbs'}\n"
        f"logs_dir = {folder / 'logs'}\n"
        "items_dir =\n",
        encoding="utf-8",
    )
    # Scrapyd reads ./scrapyd.conf; a scrapy.cfg above it would make it a project's own server.
    env = {k: v for k, v in os.environ.items() if k not in ("SCRAPY_SETTINGS_MODULE", "SCRAPY_PROJECT")}
    log = (folder / "scrapyd.out").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "scrapyd"],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    running = RunningNode(process, port, folder)
    deadline = time.monotonic() + 30
    while True:
        try:
            running.node.call("daemonstatus.json")
            return running
        except scrapyd.NodeUnreachableError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "scrapyd.out").read_text()) from None
            time.sleep(0.1)


@pytest.fixture(scope="module")
def egg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scrapyd.build_egg(tmp_path_factory.mktemp("egg"), version="0.1.0.1")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory, egg: Path) -> Iterator[list[RunningNode]]:
    # Started once for the module (a few seconds each); the test that kills one comes last.
    tmp_path = tmp_path_factory.mktemp("scrapyd")
    started = [start_node(tmp_path / "node-a"), start_node(tmp_path / "node-b")]
    try:
        # Node A by scrapyd-deploy with the project's [deploy] section (a copy of scrapy.cfg with
        # a target for this node), node B by our own addversion.json client.
        checkout = tmp_path / "checkout"
        checkout.mkdir()
        config = (ROOT / "scrapy.cfg").read_text(encoding="utf-8")
        config += (
            f"\n[deploy:test]\nurl = http://127.0.0.1:{started[0].port}/\nusername = {USER}\npassword = {PASSWORD}\n"
        )
        (checkout / "scrapy.cfg").write_text(config, encoding="utf-8")
        deployed = subprocess.run(
            [sys.executable, "-m", "scrapyd_client.deploy", "test", "--egg", str(egg), "--version", "0.1.0.1"],
            cwd=checkout,
            capture_output=True,
            text=True,
            check=False,
        )
        assert deployed.returncode == 0, deployed.stderr + deployed.stdout
        assert json.loads(deployed.stdout)["status"] == "ok"
        assert "tenderned" in scrapyd.deploy(started[1].node, egg, version="0.1.0.1")
        yield started
    finally:
        for running in started:
            running.kill()


def test_nodes_refuse_requests_without_the_password(nodes: list[RunningNode]) -> None:
    anonymous = scrapyd.Node(f"http://127.0.0.1:{nodes[0].port}/")
    with pytest.raises(scrapyd.ScrapydError, match="401"):
        anonymous.call("daemonstatus.json")
    assert {p for n in nodes for p in n.node.call("listprojects.json")["projects"]} == {"ilo-monitor"}


def test_a_replayed_crawl_runs_on_a_node_and_is_recorded(
    nodes: list[RunningNode], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ILO_MONITOR_SCRAPYD_URLS", ",".join(n.url for n in nodes))
    monkeypatch.setattr(scrapyd, "POLL_SECONDS", 0.3)
    engine = db.open_database(db_url)
    run, result = crawl_source(
        "tenderned",
        engine,
        now=NOW,
        since=date(2026, 11, 16),
        replay=FIXTURES / "tenderned",
        spider_args={"page_size": "4"},
        timeout=120,
    )
    assert run.state == "succeeded", (run.failure_reasons, result.log[-3000:])
    assert (run.items_new, run.window_until) == (5, date(2026, 11, 20))
    assert result.stats["finish_reason"] == "finished"
    assert "Recording this crawl as run" in result.log  # the node's log came back
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(NoticeRow)) == 5


def test_a_job_whose_node_dies_is_dispatched_again(
    nodes: list[RunningNode], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second page answers after 3 s: long enough to kill the node mid-crawl.
    folder = _slow_second_page(tmp_path, delay=3)
    monkeypatch.setenv("ILO_MONITOR_SCRAPYD_URLS", ",".join(n.url for n in nodes))
    monkeypatch.setattr(scrapyd, "POLL_SECONDS", 0.3)
    monkeypatch.setattr(scrapyd, "LOST_AFTER_SECONDS", 1.5)
    engine = db.open_database(db_url)
    outcome: dict[str, object] = {}
    worker = _crawl_in_background(engine, folder, outcome)
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline:
        for running in nodes:
            if running.node.call("listjobs.json", {"project": "ilo-monitor"})["running"]:
                victim = running
        time.sleep(0.2)
    assert victim is not None, "no node ever ran the job"
    time.sleep(1.5)  # mid-crawl: the first page is stored, the second is being waited for
    victim.kill()
    worker.join(timeout=120)
    assert not worker.is_alive()
    run = outcome["run"]
    assert isinstance(run, CrawlRun)
    survivor = next(n for n in nodes if n is not victim)
    assert run.state == "succeeded", run.failure_reasons
    assert run.note and f"losing Scrapyd node(s) {victim.node.url}" in run.note
    finished = survivor.node.call("listjobs.json", {"project": "ilo-monitor"})["finished"]
    assert run.id is not None and finished  # the survivor ran the job to its end
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(NoticeRow)) == 5  # nothing twice
        assert session.scalar(select(func.count()).select_from(CrawlRun)) == 1


def test_a_job_is_cancelled_when_the_scheduler_stops(
    nodes: list[RunningNode], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second page answers after 5 s: the crawl is still running when the stop comes. Scrapy's
    # graceful stop lets that request finish, then closes the spider instead of going on.
    folder = _slow_second_page(tmp_path, delay=5)
    monkeypatch.setenv("ILO_MONITOR_SCRAPYD_URLS", ",".join(n.url for n in nodes))
    monkeypatch.setattr(scrapyd, "POLL_SECONDS", 0.3)
    engine = db.open_database(db_url)
    stop = threading.Event()
    outcome: dict[str, object] = {}
    finished_before = len(_jobs(nodes, "finished"))
    worker = _crawl_in_background(engine, folder, outcome, stop=stop)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _stored(engine):
        time.sleep(0.2)  # until the first page is stored: the second is being waited for
    stop.set()
    worker.join(timeout=60)
    assert not worker.is_alive()
    run = outcome["run"]
    assert isinstance(run, CrawlRun)
    # Scrapy closed the spider on the node's signal and its extension closed the run: a
    # shutdown is not a complete crawl (the scheduler then records it as `interrupted`).
    result = outcome["result"]
    assert isinstance(result, CrawlResult)
    assert (run.state, run.finish_reason) == ("failed", "shutdown"), (run.failure_reasons, result.log[-3000:])
    assert len(_jobs(nodes, "finished")) == finished_before + 1  # not dispatched again elsewhere
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(NoticeRow)) >= 1  # what was stored stays



def test_nothing_is_scheduled_once_the_scheduler_is_stopping(nodes: list[RunningNode]) -> None:
    stop = threading.Event()
    stop.set()
    before = len(_jobs(nodes, "finished")) + len(_jobs(nodes, "running")) + len(_jobs(nodes, "pending"))
    outcome = scrapyd.dispatch("tenderned", [n.node for n in nodes], args={}, settings={}, timeout=30, stop=stop)
    assert (outcome.job, outcome.finished) == ("", False)
    after = len(_jobs(nodes, "finished")) + len(_jobs(nodes, "running")) + len(_jobs(nodes, "pending"))
    assert after == before

def _jobs(nodes: list[RunningNode], state: str) -> list[dict[str, object]]:
    """The jobs in `state` on the nodes still alive (an earlier test kills one)."""
    found: list[dict[str, object]] = []
    for running in nodes:
        try:
            found += running.node.call("listjobs.json", {"project": "ilo-monitor"})[state]
        except scrapyd.NodeUnreachableError:
            continue
    return found


def _stored(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(NoticeRow)) or 0


def _slow_second_page(tmp_path: Path, *, delay: float) -> Path:
    """The TenderNed recording, its second page answered after `delay` seconds (a crawl to interrupt)."""
    folder = tmp_path / "tenderned"
    shutil.copytree(FIXTURES / "tenderned", folder)
    exchanges = json.loads((folder / "exchanges.json").read_text(encoding="utf-8"))
    for exchange in exchanges:
        if "page=1" in exchange["url"]:
            exchange["delay"] = delay
    (folder / "exchanges.json").write_text(json.dumps(exchanges), encoding="utf-8")
    return folder


def _crawl_in_background(
    engine: Engine, folder: Path, outcome: dict[str, object], stop: threading.Event | None = None
) -> threading.Thread:
    """`crawl_source` of the replayed TenderNed in a thread (started); its run and result land in `outcome`."""

    def crawl() -> None:
        outcome["run"], outcome["result"] = crawl_source(
            "tenderned",
            engine,
            now=NOW,
            since=date(2026, 11, 16),
            replay=folder,
            spider_args={"page_size": "4"},
            timeout=120,
            stop=stop,
        )

    worker = threading.Thread(target=crawl)
    worker.start()
    return worker
