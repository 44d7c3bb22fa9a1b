"""Crawls on Scrapyd nodes: deploy the project as an egg, dispatch a crawl, follow it, re-dispatch when a node is lost.

With `ILO_MONITOR_SCRAPYD_URLS` set (comma-separated `http://user:password@host:6800` URLs),
`monitor.crawl.jobs.crawl_source` runs a crawl on one of those nodes instead of in a child
process. The crawl-run table stays the one record of every crawl:

1. **pick a node** (`pick_node`): ask every node's `daemonstatus.json` for its running and
   pending jobs and take the one with the most free slots (`slots` per node, Scrapyd's API does
   not report its `max_proc`); unreachable nodes are skipped; with none free, wait;
2. **schedule** (`schedule.json`) the spider with its arguments (since, until...) and the
   settings the crawl needs: `ILO_MONITOR_DB` (the database it stores into and records the run
   in), `ILO_MONITOR_RUN_ID` (the `CrawlRun` created beforehand), and with a replay
   `ILO_MONITOR_REPLAY_URL`. The crawl's `CrawlRunExtension` completes and judges that row, as
   in a child process;
3. **poll** `listjobs.json` until the job is finished. A node that stops answering for
   `lost_after` seconds is *lost*: the job is scheduled again on another node, for the same
   run (notices are upserted, so what the lost crawl stored is not duplicated), and the run's
   `note` says so;
4. a job that finished without closing its run (the crawl process died, a spider argument was
   refused) is marked failed by the caller, with the ERROR lines of the job's log;
5. when the scheduler stops (`stop`), the running job is cancelled (`cancel.json`: Scrapy
   closes the spider and its run) and waited for; nothing new is scheduled.

Security: Scrapyd's API deploys and runs code, and the settings given to `schedule.json`
(including the database URL with its password) can be read back from `listjobs.json`. Nodes
therefore listen on loopback, or behind authentication (`username`/`password` in scrapyd.conf,
the credentials in the URL here) and TLS on a private network.

Deploying: Scrapyd runs a project from an egg with a `scrapy` entry point naming the settings
module. `build_egg()` builds one from the packages of this checkout (in a temporary folder, so
the checkout gains no `setup.py` or `build/`), and `deploy()` uploads it with `addversion.json`;
`scrapyd-deploy <target> --egg <egg>` does the same with the `[deploy]` targets of `scrapy.cfg`.
Scrapyd puts the zipped egg first on `sys.path`, but the project reads its YAML and model
files from the file system; so the egg's entry point is a small bootstrap (`EGG_BOOTSTRAP`)
that unpacks the egg once beside the stored egg and puts that folder first, then loads
`monitor.crawl.settings`: the deployed version is what runs. The nodes need the project's
dependencies installed (`pip install ilo-monitor`, or the same requirements).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from monitor.errors import ConfigurationError, IloMonitorError
from monitor.settings import PROJECT_ROOT, env

logger = logging.getLogger(__name__)

PROJECT: Final = "ilo-monitor"
SETTINGS_MODULE: Final = "monitor.crawl.settings"
# Jobs one node runs at once, when its URL does not say (`#slots=N`): Scrapyd's default
# max_proc_per_cpu (4) on a one-CPU node.
DEFAULT_SLOTS: Final = 4
# How often a job's state is asked for, and how long a node may stay silent before its job is
# given to another node (a restart of Scrapyd itself takes a few seconds).
POLL_SECONDS = 2.0
LOST_AFTER_SECONDS = 30.0
PACKAGES: Final = ("monitor", "alerts", "spiders")
BOOTSTRAP_PACKAGE: Final = "ilo_monitor_egg"
EGG_BOOTSTRAP: Final = '''"""Scrapyd entry point of the ilo-monitor egg: unpack it to files, then load the settings.

Written by monitor.crawl.scrapyd.build_egg. The project reads YAML and model files beside its
modules, which a zipped egg does not have; unpacked once per egg (by content), beside the egg.
"""

import hashlib
import os
import shutil
import sys
import tempfile
import zipfile

_EGG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if zipfile.is_zipfile(_EGG):
    with open(_EGG, "rb") as _handle:
        _DIGEST = hashlib.sha256(_handle.read()).hexdigest()[:16]
    _TARGET = os.path.join(os.path.dirname(_EGG), ".unpacked-" + _DIGEST)
    if not os.path.isdir(_TARGET):
        _PART = tempfile.mkdtemp(prefix=".unpacking-", dir=os.path.dirname(_EGG))
        with zipfile.ZipFile(_EGG) as _archive:
            _archive.extractall(_PART)
        try:
            os.rename(_PART, _TARGET)
        except OSError:  # another crawl unpacked it first
            shutil.rmtree(_PART, ignore_errors=True)
    sys.path.insert(0, _TARGET)
    for _name in [m for m in sys.modules if m.split(".")[0] in ("monitor", "alerts", "spiders")]:
        del sys.modules[_name]

from monitor.crawl.settings import *  # noqa: E402,F403
'''
PACKAGE_DATA: Final = {
    "monitor": ["migrations/*.mako", "migrations/*.py", "migrations/versions/*.py", "*.yaml", "classifier/*.npz"]
}


class ScrapydError(IloMonitorError):
    """A Scrapyd node refused a request (status "error") or answered something unreadable.

    Raised by `Node.call` and everything built on it; the message names the node and endpoint.
    """


class NodeUnreachableError(ScrapydError):
    """A Scrapyd node did not answer at all (connection refused, reset, timed out)."""


@dataclass(frozen=True)
class Node:
    """One Scrapyd node: its base URL (no credentials), its basic-auth header, its slots."""

    url: str
    authorization: str | None = field(default=None, repr=False)
    slots: int = DEFAULT_SLOTS

    @classmethod
    def from_url(cls, text: str) -> Node:
        """`http://user:password@host:6800/#slots=2` → a node (credentials kept out of `url`)."""
        parts = urllib.parse.urlsplit(text.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"ILO_MONITOR_SCRAPYD_URLS: {text!r} is not an http(s) URL")
        slots = DEFAULT_SLOTS
        match = re.fullmatch(r"slots=(\d+)", parts.fragment or "")
        if match:
            slots = max(1, int(match.group(1)))
        authorization = None
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname:  # IPv6 literal
            netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
        base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/", "", ""))
        return cls(base, authorization, slots)

    def call(
        self,
        endpoint: str,
        params: dict[str, Any] | None = None,
        *,
        post: list[tuple[str, str]] | None = None,
        files: dict[str, bytes] | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """GET `endpoint` with `params`, or POST `post` (form) or `files` (multipart); the JSON answer."""
        url = urllib.parse.urljoin(self.url, endpoint)
        data: bytes | None = None
        headers = {"Accept": "application/json"}
        if files is not None:
            data, content_type = _multipart(post or [], files)
            headers["Content-Type"] = content_type
        elif post is not None:
            data = urllib.parse.urlencode(post).encode("utf-8")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif params:
            url += "?" + urllib.parse.urlencode(params)
        if self.authorization:
            headers["Authorization"] = self.authorization
        request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) only, checked)
                body = response.read()
        except urllib.error.HTTPError as error:
            raise ScrapydError(f"{self.url} {endpoint}: HTTP {error.code} {error.reason}") from error
        except (urllib.error.URLError, OSError) as error:  # refused, reset, timed out
            raise NodeUnreachableError(f"{self.url} {endpoint}: {error}") from error
        try:
            answer: dict[str, Any] = json.loads(body)
        except ValueError as error:
            raise ScrapydError(f"{self.url} {endpoint}: not JSON: {body[:200]!r}") from error
        if answer.get("status") != "ok":
            raise ScrapydError(f"{self.url} {endpoint}: {answer.get('message', answer)}")
        return answer

    def load(self) -> int:
        """Jobs running or waiting on this node (`daemonstatus.json`)."""
        status = self.call("daemonstatus.json", timeout=5.0)
        return int(status.get("running", 0)) + int(status.get("pending", 0))

    def log(self, project: str, spider: str, job: str, *, limit: int = 200_000) -> str:
        """The job's log (`logs/<project>/<spider>/<job>.log`), or "" when it cannot be read."""
        url = urllib.parse.urljoin(self.url, f"logs/{project}/{spider}/{job}.log")
        headers = {"Authorization": self.authorization} if self.authorization else {}
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:  # noqa: S310
                return bytes(response.read(limit)).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError):
            return ""


def _multipart(fields: list[tuple[str, str]], files: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = "ilo-monitor-" + uuid.uuid4().hex  # never found inside an egg by chance
    chunks: list[bytes] = []
    for name, value in fields:
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, content in files.items():
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.egg"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def nodes_from_environment() -> list[Node]:
    """The nodes of `ILO_MONITOR_SCRAPYD_URLS` (comma- or space-separated); empty when unset."""
    value = env("SCRAPYD_URLS") or ""
    return [Node.from_url(part) for part in re.split(r"[,\s]+", value) if part]


# -- deploying ---------------------------------------------------------------------------------


def build_egg(out_dir: Path, *, version: str, root: Path = PROJECT_ROOT) -> Path:
    """Build the project's egg (packages, their data files, the `scrapy` settings entry point) into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ilo-monitor-egg-") as tmp:
        work = Path(tmp)
        for package in PACKAGES:
            shutil.copytree(root / package, work / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (work / BOOTSTRAP_PACKAGE).mkdir()
        (work / BOOTSTRAP_PACKAGE / "__init__.py").write_text("", encoding="utf-8")
        (work / BOOTSTRAP_PACKAGE / "settings.py").write_text(EGG_BOOTSTRAP, encoding="utf-8")
        (work / "setup.py").write_text(
            "from setuptools import setup\n"
            f"setup(name={PROJECT.replace('-', '_')!r}, version={version!r}, packages={_packages(work)!r},\n"
            f"      package_data={PACKAGE_DATA!r}, zip_safe=False,\n"
            f"      entry_points={{'scrapy': ['settings = {BOOTSTRAP_PACKAGE}.settings']}})\n",
            encoding="utf-8",
        )
        completed = subprocess.run(
            [sys.executable, "setup.py", "-q", "bdist_egg", "--dist-dir", str(out_dir)],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise ScrapydError(f"building the egg failed: {completed.stderr[-2000:]}")
    eggs = sorted(out_dir.glob("*.egg"), key=lambda path: path.stat().st_mtime)
    if not eggs:
        raise ScrapydError(f"building the egg wrote nothing to {out_dir}")
    return eggs[-1]


def _packages(folder: Path) -> list[str]:
    return sorted(
        ".".join(init.parent.relative_to(folder).parts) for init in folder.rglob("__init__.py") if init.is_file()
    )


def deploy(node: Node, egg: Path, *, version: str, project: str = PROJECT) -> list[str]:
    """Upload `egg` to `node` as `version` of `project` (`addversion.json`); the spiders it found."""
    answer = node.call(
        "addversion.json", post=[("project", project), ("version", version)], files={"egg": egg.read_bytes()}
    )
    spiders = node.call("listspiders.json", {"project": project, "_version": version})
    logger.info("deployed %s %s to %s: %s spider(s)", project, version, node.url, answer.get("spiders"))
    return list(spiders.get("spiders", []))


# -- dispatching -------------------------------------------------------------------------------


@dataclass
class Dispatch:
    """Where a crawl ran and what happened on the way: nodes lost, the final job, its log."""

    node: Node
    job: str
    lost: list[str] = field(default_factory=list)
    log: str = ""
    finished: bool = False


def pick_node(nodes: list[Node], *, exclude: set[str] | frozenset[str] = frozenset()) -> Node | None:
    """The reachable node with the most free slots (None: none reachable or none free)."""
    best: tuple[int, Node] | None = None
    for node in nodes:
        if node.url in exclude:
            continue
        try:
            free = node.slots - node.load()
        except ScrapydError as error:
            logger.warning("Scrapyd node skipped: %s", error)
            continue
        if free > 0 and (best is None or free > best[0]):
            best = (free, node)
    return best[1] if best else None


def schedule(node: Node, spider: str, *, args: dict[str, str], settings: dict[str, Any], project: str = PROJECT) -> str:
    """Schedule `spider` on `node`; the job id."""
    post = [("project", project), ("spider", spider)]
    post += [("setting", f"{name}={_setting_text(value)}") for name, value in settings.items()]
    post += [(name, str(value)) for name, value in args.items()]
    return str(node.call("schedule.json", post=post)["jobid"])


def _setting_text(value: Any) -> str:
    # As on the `scrapy crawl -s` command line: JSON for dicts and lists, text for the rest.
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def job_state(node: Node, job: str, project: str = PROJECT) -> str | None:
    """ "pending", "running" or "finished" (`listjobs.json`); None when the node does not know the job."""
    jobs = node.call("listjobs.json", {"project": project}, timeout=5.0)
    for state in ("pending", "running", "finished"):
        if any(entry.get("id") == job for entry in jobs.get(state, [])):
            return state
    return None


def dispatch(
    spider: str,
    nodes: list[Node],
    *,
    args: dict[str, str],
    settings: dict[str, Any],
    timeout: float,
    project: str = PROJECT,
    poll: float | None = None,
    lost_after: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    stop: threading.Event | None = None,
) -> Dispatch:
    """Run `spider` on a node and wait until its job has finished (see the module docstring).

    Returns with `finished` False when `timeout` passed first (the job is cancelled) or when
    every node was lost. When `stop` is set (the scheduler is shutting down), the job is
    cancelled once, which Scrapyd delivers as SIGINT: Scrapy closes the spider and its run
    cleanly, as a child process's crawl does; the job is then waited for as usual, so that the
    caller finds the run closed.
    """
    if not nodes:
        raise ConfigurationError("no Scrapyd node configured (ILO_MONITOR_SCRAPYD_URLS)")
    poll = POLL_SECONDS if poll is None else poll
    lost_after = LOST_AFTER_SECONDS if lost_after is None else lost_after
    deadline = clock() + timeout
    lost: list[str] = []
    while True:
        node = None
        while node is None:
            if stop is not None and stop.is_set():
                return Dispatch(nodes[0], "", lost)  # stopping: nothing new is scheduled
            node = pick_node(nodes, exclude=set(lost))
            if node is None:
                if len(lost) >= len(nodes) or clock() >= deadline:
                    return Dispatch(nodes[0], "", lost)
                sleep(poll)  # every node busy (or momentarily unreachable): wait for a slot
        try:
            job = schedule(node, spider, args=args, settings=settings, project=project)
        except NodeUnreachableError:
            lost.append(node.url)
            continue
        logger.info("crawl of %s scheduled on %s as job %s", spider, node.url, job)
        silent_since: float | None = None
        cancelled = False
        while True:
            if stop is not None and stop.is_set() and not cancelled:
                logger.info("stopping: cancelling job %s on %s", job, node.url)
                _cancel(node, project, job)
                cancelled = True
            if clock() >= deadline:
                _cancel(node, project, job)
                return Dispatch(node, job, lost, node.log(project, spider, job))
            try:
                state = job_state(node, job, project)
                silent_since = None
            except NodeUnreachableError:
                silent_since = silent_since if silent_since is not None else clock()
                if clock() - silent_since >= lost_after:
                    logger.warning("Scrapyd node %s lost during job %s: dispatching again", node.url, job)
                    lost.append(node.url)
                    break
                state = "unknown"
            if state == "finished":
                return Dispatch(node, job, lost, node.log(project, spider, job), finished=True)
            if state is None:
                if cancelled:  # a pending job that the cancel removed: nothing ran, nothing to wait for
                    return Dispatch(node, job, lost, node.log(project, spider, job))
                lost.append(node.url)  # the node restarted and forgot the job: it is gone there
                break
            sleep(poll)


def _cancel(node: Node, project: str, job: str) -> None:
    """Ask `node` to stop `job` (Scrapy then closes the spider); a failure is logged, not raised."""
    try:
        node.call("cancel.json", post=[("project", project), ("job", job)])
    except ScrapydError as error:
        logger.warning("could not cancel job %s on %s: %s", job, node.url, error)


def crawl_settings(*, db_url: str, replay_url: str | None, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings a crawl on a node gets: the database, a replay's, then the caller's overrides."""
    result: dict[str, Any] = {"ILO_MONITOR_DB": db_url}
    if replay_url:
        # As monitor.crawl.replay.run_crawl: no politeness delays against a replay, no cache.
        result.update(
            {
                "ILO_MONITOR_REPLAY_URL": replay_url,
                "DOWNLOAD_DELAY": 0,
                "AUTOTHROTTLE_ENABLED": False,
                "HTTPCACHE_ENABLED": False,
            }
        )
    result.update(settings)
    return result


# -- the command line: `ilo-monitor scrapyd ...` -----------------------------------------------


def _version() -> str:
    from monitor import __version__

    # Scrapyd runs the newest version of a project: a timestamp keeps every deploy newer.
    return f"{__version__}.{time.strftime('%Y%m%d%H%M%S', time.gmtime())}"


def _cli() -> Any:
    import click

    from monitor.commandline import ErrorGroup

    @click.group("scrapyd", cls=ErrorGroup)
    def group() -> None:
        """Deploy the crawlers to Scrapyd nodes and look at them (ILO_MONITOR_SCRAPYD_URLS)."""

    @group.command("egg")
    @click.option("--output", type=click.Path(path_type=Path), default=Path("dist"), show_default=True)
    def egg_command(output: Path) -> None:
        """Build the project's egg for Scrapyd (prints its path; for `scrapyd-deploy --egg`)."""
        click.echo(str(build_egg(output, version=_version())))

    @group.command("deploy")
    def deploy_command() -> None:
        """Build the egg and upload it to every node of ILO_MONITOR_SCRAPYD_URLS."""
        nodes = nodes_from_environment()
        if not nodes:
            raise ConfigurationError("ILO_MONITOR_SCRAPYD_URLS is not set")
        version = _version()
        with tempfile.TemporaryDirectory() as tmp:
            egg = build_egg(Path(tmp), version=version)
            for node in nodes:
                spiders = deploy(node, egg, version=version)
                click.echo(f"{node.url}: {PROJECT} {version}, {len(spiders)} spider(s)")

    @group.command("status")
    def status_command() -> None:
        """Running and pending jobs of every node."""
        for node in nodes_from_environment():
            try:
                click.echo(f"{node.url}: {node.load()} job(s) running or pending, {node.slots} slot(s)")
            except ScrapydError as error:
                click.echo(f"{node.url}: unreachable ({error})")

    return group


COMMANDS: Final = [_cli()]  # registered by monitor.cli

if __name__ == "__main__":  # `python -m monitor.crawl.scrapyd egg`
    COMMANDS[0]()
