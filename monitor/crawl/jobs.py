"""Running one source's crawl as a recorded, incremental job: what `ilo-monitor crawl` and the scheduler call.

`crawl_source()`:

1. reads the source's entry of `monitor/sources.yaml` and its cursor (the end of the window of
   its last succeeded run), and chooses the window: explicit `since`/`until` (a backfill), else
   from the cursor minus the overlap, else the first backfill, up to today;
2. creates a `running` `CrawlRun` and runs the crawl in a child process (`run_crawl`) with the
   run's id, so the crawl's `CrawlRunExtension` completes and judges that very row;
3. when the child died before closing the run (killed, a spider argument refused, a crash),
   marks the run failed with the child's error lines: a crawl never goes unrecorded.

The clock is read by the caller (`now`) and passed down.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from monitor.crawl.replay import CrawlResult, ReplayServer, run_crawl
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
) -> tuple[CrawlRun, CrawlResult]:
    """Crawl source `name` into `engine`'s database (see the module docstring); the run and the crawl's result.

    With `replay`, the crawl is answered from that recording folder (a `ReplayServer` started
    here), or by that running `ReplayServer` (tests that look at what was requested).
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
    if isinstance(replay, ReplayServer):
        result = run_crawl(
            name, db_url=db_url, replay_url=replay.url, spider_args=arguments, settings=overrides, timeout=timeout
        )
    elif replay is not None:
        with ReplayServer(replay) as server:
            result = run_crawl(
                name, db_url=db_url, replay_url=server.url, spider_args=arguments, settings=overrides, timeout=timeout
            )
    else:
        result = run_crawl(name, db_url=db_url, spider_args=arguments, settings=overrides, timeout=timeout)
    with session_scope(engine) as session:
        recorded = session.get(CrawlRun, run_id)
        assert recorded is not None
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
