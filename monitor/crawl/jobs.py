"""Running one source's crawl as a recorded, incremental job: what `ilo-monitor crawl` and the scheduler call.

`crawl_source()`:

1. reads the source's entry of `monitor/sources.yaml` and its cursor (the end of the window of
   its last succeeded run), and chooses the window: explicit `since`/`until` (a backfill), else
   from the cursor minus the overlap, else the first backfill, up to today;
2. creates a `running` `CrawlRun` and runs the crawl in a child process (`run_crawl`) with the
   run's id, so the crawl's `CrawlRunExtension` completes and judges that very row;
3. when the child died before closing the run (killed, a spider argument refused, a crash),
   marks the run failed with the child's error lines: a crawl never goes unrecorded.

With `ILO_MONITOR_SCRAPYD_URLS` set, step 2 runs the crawl on a Scrapyd node instead
(`monitor.crawl.scrapyd.dispatch`: a free node, re-dispatched when its node is lost), with the
same run id and database URL, and step 3 reads the job's log from the node. The node must reach
the database (and, for a replay, the replay server) at the URLs given.

The clock is read by the caller (`now`) and passed down.
"""

from __future__ import annotations

import re
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from monitor.crawl import scrapyd
from monitor.crawl.replay import _ERROR_LINE, CrawlResult, ReplayServer, run_crawl
from monitor.crawl.runs import CrawlRun, fail_run, next_window
from monitor.crawl.sources import source_config
from monitor.db import session_scope


def crawl_source(
    name: str,
    engine: Engine,
    *,
    now: datetime,
    since: date | None = None,
    until: date | None = None,
    replay: Path | ReplayServer | None = None,
    spider_args: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
    timeout: float = 3600.0,
    stop: threading.Event | None = None,
) -> tuple[CrawlRun, CrawlResult]:
    """Crawl source `name` into `engine`'s database (see the module docstring); the run and the crawl's result.

    With `replay`, the crawl is answered from that recording folder (a `ReplayServer` started
    here), or by that running `ReplayServer` (tests that look at what was requested).
    `stop` (the scheduler's shutdown event) cancels a crawl running on Scrapyd; a child
    process is stopped by the scheduler itself (SIGTERM to its crawl children).
    """
    config = source_config(name)
    with session_scope(engine) as session:
        window = next_window(
            session,
            name,
            today=now.date(),
            overlap_days=config.window_overlap_days,
            backfill_days=config.default_backfill_days,
            since=since,
            until=until,
        )
        run = CrawlRun(
            source=name,
            state="running",
            started_at=now,
            window_since=window[0],
            window_until=window[1],
            arguments={"since": window[0].isoformat(), "until": window[1].isoformat(), **(spider_args or {})},
        )
        session.add(run)
        session.flush()
        run_id = run.id
    arguments = {"since": window[0].isoformat(), "until": window[1].isoformat(), **(spider_args or {})}
    overrides = {"ILO_MONITOR_RUN_ID": run_id, **(settings or {})}
    db_url = engine.url.render_as_string(hide_password=False)
    nodes = scrapyd.nodes_from_environment()
    lost: list[str] = []

    def crawl(replay_url: str | None) -> CrawlResult:
        if not nodes:
            return run_crawl(
                name, db_url=db_url, replay_url=replay_url, spider_args=arguments, settings=overrides, timeout=timeout
            )
        outcome = scrapyd.dispatch(
            name,
            nodes,
            args=arguments,
            settings=scrapyd.crawl_settings(db_url=db_url, replay_url=replay_url, settings=overrides),
            timeout=timeout,
            stop=stop,
        )
        lost.extend(outcome.lost)
        errors = [line for line in outcome.log.splitlines() if _ERROR_LINE.match(line)]
        if not outcome.finished:
            errors.append(f"crawl of {name} on Scrapyd did not finish (timeout or every node lost: {outcome.lost})")
        return CrawlResult(name, 0 if outcome.finished else -1, {}, outcome.log, errors)

    if isinstance(replay, ReplayServer):
        result = crawl(replay.url)
    elif replay is not None:
        with ReplayServer(replay) as server:
            result = crawl(server.url)
    else:
        result = crawl(None)
    with session_scope(engine) as session:
        recorded = session.get(CrawlRun, run_id)
        assert recorded is not None
        if nodes:
            # A node's crawl reports through the run row only: its stats are there.
            result.stats = dict(recorded.stats or {})
        if lost:
            recorded.note = "; ".join(
                filter(None, [recorded.note, f"re-dispatched after losing Scrapyd node(s) {', '.join(lost)}"])
            )
        if recorded.state == "running":
            fail_run(
                recorded,
                f"the crawl process ended without closing the run (exit code {result.returncode})",
                now=now,
                error_messages=[*result.errors, *_exception_lines(result.log)] or [result.log[-500:]],
            )
        session.flush()
        session.expunge(recorded)
    return recorded, result


_EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?\w*(?:Error|Exception): .+")


def _exception_lines(log: str) -> list[str]:
    """The "SomeError: message" lines of tracebacks in a log: what killed a crawl before it closed."""
    return [line.strip() for line in log.splitlines() if _EXCEPTION_LINE.match(line.strip())][:5]
