"""`serve` as a process: it starts, holds the lock, and on SIGTERM stops cleanly and lets go of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import new_database_url

from monitor.db import open_database
from monitor.scheduling import lock
from monitor.scheduling.service import crawl_children

SCHEDULE = """\
crawl_defaults: {cron: "0 3 1 1 *", jitter: 0}
digests: {every_minutes: 600}
"""


def wait_for(predicate, seconds: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_sigterm_stops_the_scheduler_cleanly_and_releases_the_lock(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text(SCHEDULE)
    url = new_database_url(tmp_path, "serve")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    env.pop("ILO_MONITOR_SMTP_HOST", None)
    code = "import sys; from monitor.scheduling.cli import serve; serve(sys.argv[1:])"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "--schedule", str(schedule), "--db", url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        engine = open_database(url)
        assert wait_for(lambda: lock.current(engine) is not None), "the scheduler never took its lock"
        second = subprocess.run(
            [sys.executable, "-c", code, "--schedule", str(schedule), "--db", url],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "another scheduler runs on this database" in second.stderr
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "scheduler stopped" in output
    assert lock.current(engine) is None


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="Linux /proc")
def test_crawl_children_are_found_to_be_stopped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "scrapy", "crawl"])
    try:
        assert child.pid in crawl_children()
    finally:
        child.terminate()
        child.wait(10)
