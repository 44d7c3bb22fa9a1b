"""The Scrapy settings of ilo-monitor (`scrapy.cfg`: `default = monitor.crawl.settings`).

Every value that differs from Scrapy's default says what the default is and why we differ.
The defaults are hardened: certificates are verified, only http(s) can be fetched, no telnet
console, responses are size-capped, robots.txt is obeyed and the User-Agent says who we are.
URLs and contacts come from the environment (`ILO_MONITOR_*`, see `monitor.settings`); a
setting given on the command line (`scrapy crawl -s NAME=VALUE`, as `run_crawl` does) wins.
"""

from __future__ import annotations

from monitor import __version__
from monitor.settings import data_dir, env

# What people who see our requests in their logs read the crawler is. The project has no public
# address of its own yet, so the contact comes from the operator (ILO_MONITOR_CONTACT).
PROJECT_DESCRIPTION = "Big Science Tender Monitor of the Dutch ILO-network"

# Default: "scrapybot". Our name in Scrapy's log lines.
BOT_NAME = "ilo-monitor"

# Default: []. One module per source in the top-level `spiders` package.
SPIDER_MODULES = ["spiders"]
# Default: "". Where `scrapy genspider` writes a new spider.
NEWSPIDER_MODULE = "spiders"

# --- Identity and politeness -------------------------------------------------------------------

# Default: "Scrapy/<version> (+https://scrapy.org)". Site operators must be able to reach a
# person: ILO_MONITOR_CONTACT (an email address or URL) is put in every request.
USER_AGENT = (
    f"ilo-monitor/{__version__} ({PROJECT_DESCRIPTION}; "
    f"contact: {env('CONTACT', 'not configured (set ILO_MONITOR_CONTACT)')})"
)

# Default: False. We read public procurement portals and follow their robots.txt rules.
ROBOTSTXT_OBEY = True

# Default: 16. A monitor needs a few hundred requests a day; there is no reason to hurry.
CONCURRENT_REQUESTS = 4

# Default: 8. One request at a time per site: procurement portals are small public services.
CONCURRENT_REQUESTS_PER_DOMAIN = 1

# Default: 0. At least one second between requests to the same site (spiders may ask for more
# in `custom_settings`; replayed crawls set 0 on the command line, which has a higher priority).
DOWNLOAD_DELAY = 1.0

# Default: False. AutoThrottle slows down further when a site answers slowly.
AUTOTHROTTLE_ENABLED = True
# Default: 5.0. The first delay, before any latency is known.
AUTOTHROTTLE_START_DELAY = 2.0
# Default: 60.0 (kept, stated so that the ceiling is visible here).
AUTOTHROTTLE_MAX_DELAY = 60.0
# Default: 1.0 (kept): on average one request in flight per site.
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# Default: True. Public APIs and notice pages need no session; we keep no cookies from anyone.
COOKIES_ENABLED = False

# Default: 180. A notice or a page of search results is small; a stuck request should fail soon
# and be retried rather than hold a slot for three minutes.
DOWNLOAD_TIMEOUT = 60

# Default: [500, 502, 503, 504, 522, 524, 408, 429]. Scrapy retries 429 and 503 at once, which a
# rate-limited API punishes; monitor.crawl.middlewares.RetryAfterMiddleware waits as asked instead.
RETRY_HTTP_CODES = [500, 502, 504, 522, 524, 408]

# --- Hardening ---------------------------------------------------------------------------------

# Default: False (Scrapy accepts any certificate). Procurement data must come from the real
# site: verify the certificate chain and the host name. In Scrapy 2.19 this is the documented
# switch of the default context factory; DOWNLOADER_CLIENTCONTEXTFACTORY is deprecated there.
DOWNLOAD_VERIFY_CERTIFICATES = True

# Default: file, data, ftp and s3 handlers enabled. A scraped link must never make the crawler
# read a local file or talk to another protocol: only http and https stay.
DOWNLOAD_HANDLERS: dict[str, str | None] = {"file": None, "data": None, "ftp": None, "s3": None}

# Default: enabled, on a local port. Nobody needs a Python shell into a running crawl.
TELNETCONSOLE_ENABLED = False

# Default: True (new in Scrapy 2.19). An HTTP server on localhost that runs Python code sent to
# it, its token written to a job file in the user's profile: the same risk as telnet, off too.
REMOTE_CONTROL_ENABLED = False

# Default: 1 GiB. The largest documents we fetch are multilingual TED notices (a few MiB) and
# search pages of 250 notices; anything near 32 MiB is not what we asked for.
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
# Default: 32 MiB. Warn early enough to notice a source that starts sending odd payloads.
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024

# --- Components --------------------------------------------------------------------------------

# Default: {}. Validation drops what breaks the notice contract before storage sees it.
ITEM_PIPELINES = {
    "monitor.crawl.pipelines.ValidatePipeline": 300,
    "monitor.crawl.pipelines.StorePipeline": 800,
}

# Default: {}. Each extension raises NotConfigured unless its setting below is given.
EXTENSIONS = {
    "monitor.crawl.extensions.StatsDumpExtension": 500,
    "monitor.crawl.extensions.CrawlRunExtension": 510,
}

# Default: {}. The replay middleware sits after robots.txt, user agent and retries (so they
# see the real URLs) and before the downloader stats (so a replayed request counts once).
# The Retry-After middleware sits just after Scrapy's retries (550) so that it sees a 429/503
# before them; the recorder (`sources record`) next to the stats, where responses are final.
DOWNLOADER_MIDDLEWARES = {
    "monitor.crawl.middlewares.RetryAfterMiddleware": 560,
    "monitor.crawl.replay.ReplayMiddleware": 800,
    "monitor.crawl.replay.RecordMiddleware": 840,
}

# --- Conditional requests ----------------------------------------------------------------------
# Off here; a source with `conditional_requests: true` in monitor/sources.yaml turns the cache on
# for its spider (BaseSpider.update_settings). The RFC 2616 policy stores only responses that
# carry validators (ETag, Last-Modified) or a freshness lifetime, and revalidates them with
# If-None-Match / If-Modified-Since: an unchanged page costs the source a 304, not the body.

# Default: "scrapy.extensions.httpcache.DummyPolicy" (replays everything, never revalidates).
HTTPCACHE_POLICY = "scrapy.extensions.httpcache.RFC2616Policy"
# Default: "httpcache" under the project's .scrapy folder. Kept with the database's files.
HTTPCACHE_DIR = str(data_dir() / "httpcache")
# Default: False. Gzip the stored bodies: search pages and notices compress well.
HTTPCACHE_GZIP = True

# --- Output ------------------------------------------------------------------------------------

# Default: "DEBUG". Every request at DEBUG drowns the lines an operator needs.
LOG_LEVEL = "INFO"

# Default: None (JSON feeds escape every non-ASCII character). Buyer names are multilingual.
FEED_EXPORT_ENCODING = "utf-8"

# --- ilo-monitor's own settings ----------------------------------------------------------------

# The database the StorePipeline writes to; None means `monitor.settings.default_db_url()`.
ILO_MONITOR_DB = env("DB")

# Base URL of a replay server (`monitor.crawl.replay`); None in real crawls. Only ever given on
# the command line by `run_crawl`, never read from the environment: a stray variable must not
# silently divert production crawls.
ILO_MONITOR_REPLAY_URL: str | None = None

# Path of a JSON file the StatsDumpExtension writes the crawl's stats to; None disables it.
ILO_MONITOR_STATS_FILE: str | None = None

# Whether the CrawlRunExtension records every crawl as a `crawl_runs` row in ILO_MONITOR_DB.
ILO_MONITOR_RECORD_RUNS = True
# Id of a `crawl_runs` row created by the caller (`monitor.crawl.jobs.crawl_source`) for the
# extension to complete; None: the extension creates the row itself.
ILO_MONITOR_RUN_ID: int | None = None

# Folder where RecordMiddleware saves every exchange in the replay format (`sources record`);
# None disables it.
ILO_MONITOR_RECORD_DIR: str | None = None

# RetryAfterMiddleware (429/503): attempts per request, exponential backoff without Retry-After
# (base × 2^attempt seconds, capped), and the most a request may wait in all before the page is
# given up as lost (TED's blocks can last a day: no crawl waits that long, it fails and says so).
ILO_MONITOR_BACKOFF_TIMES = 5
ILO_MONITOR_BACKOFF_BASE = 10.0
ILO_MONITOR_BACKOFF_CAP = 300.0
ILO_MONITOR_BACKOFF_MAX_WAIT = 900.0
