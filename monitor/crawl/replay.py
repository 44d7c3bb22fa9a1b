"""Replaying recorded HTTP exchanges to a real crawl, for the tests and for `ilo-monitor demo`.

A real crawl (start requests, robots.txt, pagination, middlewares, pipelines, storage) runs in a
child process against a local server that answers from a recording, so nothing touches the
network and the spiders keep their real URLs.

1. **Recording format.** One folder per source, `tests/fixtures/<source>/`, holds
   `exchanges.json`: a list of objects

   - `method`: "GET" or "POST";
   - `url`: the absolute original URL (`https://api.ted.europa.eu/v3/notices/search`);
   - `match_body` (optional, POST): the JSON body the request must carry, compared as parsed
     JSON; without it any body matches;
   - `status`, `headers` (an object), `body_file`: the answer, its body in a file relative to
     the folder;
   - `times` (optional): answer only the first N matching requests, then let the next matching
     exchange answer (a 429 with `Retry-After`, then the 200 for the same request);
   - `delay` (optional): seconds to wait before answering (a server too slow for the crawler's
     `DOWNLOAD_TIMEOUT`).

   The first exchange that matches method, URL (canonicalised) and body, and has answers left,
   answers. A redirect must give an absolute `Location`. An optional `spider_args.json` holds
   the spider arguments the recording was made for (`recorded_spider_args`). Recordings without
   `times` and `delay` (all older ones) behave as before.
2. **`ReplayServer`**: a threaded HTTP server on 127.0.0.1 (random port) serving a recording
   under `/replay/<scheme>/<host>/<path>?<query>`. A request that matches nothing is answered
   404 with a body saying so and kept in `unmatched`; robots.txt requests that are not recorded
   get a plain 404 (allow everything) and are not counted as unmatched.
3. **`ReplayMiddleware`**: a downloader middleware, on only when the `ILO_MONITOR_REPLAY_URL`
   setting is given, that sends every request to the replay server and gives the response back
   its original URL and request, so spiders and robots.txt handling never see the difference.
4. **`run_crawl`**: runs `scrapy crawl` in a child process (a Twisted reactor cannot be
   restarted in one process) and returns a `CrawlResult`: exit code, stats, log, ERROR lines.
5. **`RecordMiddleware`**: on only with the `ILO_MONITOR_RECORD_DIR` setting (`ilo-monitor
   sources record`), saves every exchange of a live crawl in this format, so an operator with
   internet can refresh a recording.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from w3lib.url import canonicalize_url

from monitor.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

PREFIX = "/replay/"
SETTINGS_MODULE = "monitor.crawl.settings"
_NO_BODY: Any = object()  # `match_body` absent: any body matches


# -- 1. The recording ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One recorded request and the answer to give it."""

    method: str
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    match_body: Any = _NO_BODY
    times: int | None = None
    delay: float = 0.0

    def matches(self, method: str, url: str, body: bytes) -> bool:
        if self.method != method or canonicalize_url(self.url) != canonicalize_url(url):
            return False
        if self.match_body is _NO_BODY:
            return True
        try:
            return bool(json.loads(body or b"null") == self.match_body)
        except ValueError:
            return False


def load_recording(folder: Path | str) -> list[Exchange]:
    """The exchanges of a recording folder (see the module docstring for the format)."""
    folder = Path(folder)
    path = folder / "exchanges.json"
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of exchanges")
    exchanges: list[Exchange] = []
    for number, entry in enumerate(entries):
        try:
            body_file = entry.get("body_file")
            exchanges.append(
                Exchange(
                    method=str(entry.get("method", "GET")).upper(),
                    url=str(entry["url"]),
                    status=int(entry.get("status", 200)),
                    headers={str(k): str(v) for k, v in (entry.get("headers") or {}).items()},
                    body=(folder / body_file).read_bytes() if body_file else b"",
                    match_body=entry.get("match_body", _NO_BODY),
                    times=int(entry["times"]) if entry.get("times") is not None else None,
                    delay=float(entry.get("delay") or 0.0),
                )
            )
        except (KeyError, TypeError, ValueError, OSError) as error:
            raise ValueError(f"{path}: exchange {number}: {error}") from error
    return exchanges


def recorded_spider_args(folder: Path | str) -> dict[str, str]:
    """The spider arguments a recording was made for (`spider_args.json`; empty when absent)."""
    path = Path(folder) / "spider_args.json"
    if not path.exists():
        return {}
    return {str(k): str(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}


def replay_path(url: str) -> str:
    """`https://host/path?q` → `/replay/https/host/path?q`: where the replay server serves it."""
    parts = urlsplit(url)
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{PREFIX}{parts.scheme}/{parts.netloc}{path}{query}"


def original_url(path: str) -> str | None:
    """The inverse of `replay_path`; None for a path outside `/replay/`."""
    if not path.startswith(PREFIX):
        return None
    scheme, _, rest = path[len(PREFIX) :].partition("/")
    if not scheme or not rest:
        return None
    return f"{scheme}://{rest}"


# -- 2. The server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """A request the replay server saw, and the status it answered."""

    method: str
    url: str
    status: int
    body: bytes = b""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # HTTP/1.0: one request per connection, which keeps the server trivially thread-safe.
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = original_url(self.path) or self.path
        exchange = self.server.replay.match(self.command, url, body)
        if exchange is not None:
            if exchange.delay:
                time.sleep(exchange.delay)  # this server's own thread: the crawler is not blocked
            try:
                self._answer(exchange.status, exchange.headers, exchange.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test): nothing to answer any more
        elif urlsplit(url).path == "/robots.txt":
            # Not recorded: "no robots.txt", which allows everything, as on a real site.
            self._answer(404, {"Content-Type": "text/plain"}, b"")
        else:
            self.server.replay.unmatched.append(Served(self.command, url, 404, body))
            message = f"ilo-monitor replay: no recorded exchange for {self.command} {url}\n"
            self._answer(404, {"Content-Type": "text/plain; charset=utf-8"}, message.encode())
            return
        self.server.replay.served.append(Served(self.command, url, exchange.status if exchange else 404))

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        # Say so explicitly: without it the client pools the connection we are about to close,
        # and its next POST (which it may not resend on its own) fails on the dead socket.
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # The test output and the demo's terminal are not the place for an access log.
        logger.debug("replay: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, replay: ReplayServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replay = replay


class ReplayServer:
    """A local HTTP server answering from a recording; use as a context manager.

    `url` is the value for the `ILO_MONITOR_REPLAY_URL` setting (and `run_crawl(replay_url=)`);
    `unmatched` lists the requests no exchange matched, `served` the others.
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.exchanges = load_recording(self.folder)
        self.unmatched: list[Served] = []
        self.served: list[Served] = []
        self._answered: dict[int, int] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def match(self, method: str, url: str, body: bytes) -> Exchange | None:
        """The exchange that answers this request (counted against its `times`), or None."""
        with self._lock:
            for number, exchange in enumerate(self.exchanges):
                if not exchange.matches(method, url, body):
                    continue
                answered = self._answered.get(number, 0)
                if exchange.times is not None and answered >= exchange.times:
                    continue
                self._answered[number] = answered + 1
                return exchange
        return None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the replay server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ReplayServer:
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="replay-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# -- 3. The middleware --------------------------------------------------------------------------

_META_KEY = "ilo_monitor_replay"


class ReplayMiddleware:
    """Send every request to the replay server at `ILO_MONITOR_REPLAY_URL`, keeping real URLs.

    A request for `https://host/path?q` is replaced by one for
    `<replay>/replay/https/host/path?q`; its response gets the original URL and request back, so
    that callbacks, robots.txt rules and redirects all work with the URLs the spider asked for.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReplayMiddleware:
        base_url = crawler.settings.get("ILO_MONITOR_REPLAY_URL")
        if not base_url:
            raise NotConfigured("ILO_MONITOR_REPLAY_URL is not set")
        logger.info("Replaying recorded exchanges from %s", base_url)
        return cls(str(base_url))

    def process_request(self, request: Request) -> Request | None:
        if request.url.startswith(self.base_url + "/"):
            return None  # already replayed (or robots.txt of the replay server itself)
        replayed_url = self.base_url + replay_path(request.url)
        # The replaced request goes back to the scheduler and through the middlewares again.
        # dont_filter: it duplicates nothing and is not off-site, it is the same request at
        # another address; dont_obey_robotstxt: robots.txt was applied to its real URL already.
        return request.replace(
            url=replayed_url,
            dont_filter=True,
            meta={**request.meta, "dont_obey_robotstxt": True, _META_KEY: (replayed_url, request)},
        )

    def process_response(self, request: Request, response: Response) -> Response:
        replayed_url, original = request.meta.get(_META_KEY, (None, None))
        if original is None or request.url != replayed_url:
            return response
        return response.replace(url=original.url, request=original)


# -- 4. Running a crawl -------------------------------------------------------------------------

_ERROR_LINE = re.compile(r"^\S+ \S+ \[[^\]]*\] (?:ERROR|CRITICAL): ")


@dataclass
class CrawlResult:
    """What a child crawl did, from its exit code, stats and log."""

    spider: str
    returncode: int
    stats: dict[str, Any]
    log: str
    errors: list[str] = field(default_factory=list)

    @property
    def finish_reason(self) -> str | None:
        reason = self.stats.get("finish_reason")
        return str(reason) if reason is not None else None

    @property
    def items_scraped(self) -> int:
        return int(self.stats.get("item_scraped_count", 0))

    @property
    def items_dropped(self) -> int:
        return int(self.stats.get("item_dropped_count", 0))

    @property
    def invalid_documents(self) -> int:
        return int(self.stats.get("ilo_monitor/invalid_document", 0))

    @property
    def stored(self) -> dict[str, int]:
        """Outcomes of the store pipeline: new, changed, unchanged, error."""
        return {
            outcome: int(self.stats.get(f"ilo_monitor/store/{outcome}", 0))
            for outcome in ("new", "changed", "unchanged", "error")
        }

    @property
    def ok(self) -> bool:
        """Finished normally with no ERROR logged (it may still have found nothing)."""
        return self.returncode == 0 and self.finish_reason == "finished" and not self.errors

    def summary(self) -> str:
        stored = ", ".join(f"{k} {v}" for k, v in self.stored.items())
        return (
            f"{self.spider}: exit {self.returncode}, finish reason {self.finish_reason}, "
            f"{self.items_scraped} scraped, {self.items_dropped} dropped, "
            f"{self.invalid_documents} invalid documents, stored: {stored}, {len(self.errors)} errors"
        )


def _setting_value(value: Any) -> str:
    # Scrapy parses dict and list settings given as JSON text, and "True"/"False" as booleans.
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def run_crawl(
    spider_name: str,
    *,
    db_url: str | None,
    replay_url: str | None = None,
    spider_args: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
    timeout: float = 600.0,
) -> CrawlResult:
    """Run `scrapy crawl <spider_name>` in a child process and report what it did.

    `db_url` is the database to store into (None: the default database); with `replay_url` the
    crawl is answered by a `ReplayServer` and runs without delays. `settings` override
    everything else (they are given with `-s`, the command line's priority).
    """
    overrides: dict[str, Any] = {}
    if db_url:
        overrides["ILO_MONITOR_DB"] = db_url
    if replay_url:
        # Politeness is for real sites: a replay answers from memory. The HTTP cache is off: it
        # would key the replay server's random port and fill the user's cache folder.
        overrides.update(
            {
                "ILO_MONITOR_REPLAY_URL": replay_url,
                "DOWNLOAD_DELAY": 0,
                "AUTOTHROTTLE_ENABLED": False,
                "HTTPCACHE_ENABLED": False,
            }
        )
    with tempfile.TemporaryDirectory(prefix="ilo-monitor-crawl-") as tmp:
        stats_file = Path(tmp) / "stats.json"
        log_file = Path(tmp) / "crawl.log"
        overrides.update({"ILO_MONITOR_STATS_FILE": str(stats_file), "LOG_FILE": str(log_file)})
        overrides.update(settings or {})
        command = [sys.executable, "-m", "scrapy", "crawl", spider_name]
        for name, value in overrides.items():
            command += ["-s", f"{name}={_setting_value(value)}"]
        for name, value in (spider_args or {}).items():
            command += ["-a", f"{name}={value}"]
        env = {**os.environ, "SCRAPY_SETTINGS_MODULE": SETTINGS_MODULE}
        # In a checkout, run where scrapy.cfg is; an installed copy has only the environment
        # variable, which is enough for `scrapy crawl`.
        cwd = PROJECT_ROOT if (PROJECT_ROOT / "scrapy.cfg").exists() else Path(tmp)
        errors: list[str] = []
        try:
            completed = subprocess.run(
                command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
            returncode, output = completed.returncode, completed.stdout + completed.stderr
        except subprocess.TimeoutExpired as expired:
            returncode = -1
            output = _text(expired.stdout) + _text(expired.stderr)
            errors.append(f"crawl of {spider_name} timed out after {timeout:.0f} s and was killed")
        log = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
        if output.strip():
            log += "\n--- output of the crawl process ---\n" + output
        stats: dict[str, Any] = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    errors += [line for line in log.splitlines() if _ERROR_LINE.match(line)]
    if returncode != 0 and not errors:
        errors.append(f"crawl of {spider_name} exited with code {returncode}")
    return CrawlResult(spider=spider_name, returncode=returncode, stats=stats, log=log, errors=errors)


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


# -- 5. Recording a live crawl ------------------------------------------------------------------

# Response headers worth keeping in a recording (the rest are the server's business).
_KEPT_HEADERS = ("content-type", "etag", "last-modified", "retry-after", "location", "cache-control")


class RecordMiddleware:
    """Save every exchange of a crawl into `ILO_MONITOR_RECORD_DIR` in the recording format.

    Bodies go to `bodies/NNNN.<json|xml|html|bin>`, `exchanges.json` is written when the spider
    closes (robots.txt is left out, as in the project's recordings). Review what was saved
    before committing it: it is what the source said on that day, credentials never included.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.entries: list[dict[str, Any]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RecordMiddleware:
        folder = crawler.settings.get("ILO_MONITOR_RECORD_DIR")
        if not folder:
            raise NotConfigured("ILO_MONITOR_RECORD_DIR is not set")
        middleware = cls(Path(folder))
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def process_response(self, request: Request, response: Response) -> Response:
        if urlsplit(request.url).path == "/robots.txt":
            return response
        number = len(self.entries) + 1
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1").lower()
        suffix = next((s for s in ("json", "xml", "html") if s in content_type), "bin")
        body_file = f"bodies/{number:04d}.{suffix}"
        (self.folder / "bodies").mkdir(parents=True, exist_ok=True)
        (self.folder / body_file).write_bytes(response.body)
        headers = {
            name.decode("latin-1"): (response.headers.get(name) or b"").decode("latin-1")
            for name in response.headers
            if name.decode("latin-1").lower() in _KEPT_HEADERS
        }
        entry: dict[str, Any] = {"method": request.method, "url": request.url}
        if request.method == "POST" and request.body:
            try:
                entry["match_body"] = json.loads(request.body)
            except ValueError:
                pass  # not JSON: any body matches
        entry.update({"status": response.status, "headers": headers, "body_file": body_file})
        self.entries.append(entry)
        return response

    def spider_closed(self, spider: Spider) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "exchanges.json"
        path.write_text(json.dumps(self.entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        logger.info("Recorded %d exchanges in %s", len(self.entries), path)
