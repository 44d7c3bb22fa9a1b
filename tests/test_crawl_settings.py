"""The hardened Scrapy settings: asserted as values, and proven on real fetches in child processes.

The child-process tests run `scrapy fetch` with the project's settings (no network: a local
file and a local HTTPS server with a self-signed certificate) and check that the crawler
refuses `file://` and refuses a certificate it cannot verify, while the same fetch succeeds
once verification is switched off, which proves the test server itself works.
"""

from __future__ import annotations

import ast
import datetime
import importlib
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings, default_settings

import monitor.crawl.settings as crawl_settings
from monitor import __version__

SETTINGS_FILE = Path(crawl_settings.__file__)


def project_settings() -> Settings:
    settings = Settings()
    settings.setmodule("monitor.crawl.settings", priority="project")
    return settings


@pytest.fixture
def reload_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Lets a test change the environment and re-import the settings module, then restores it."""
    yield monkeypatch
    monkeypatch.undo()
    importlib.reload(crawl_settings)


def test_tls_certificates_are_verified() -> None:
    assert project_settings().getbool("DOWNLOAD_VERIFY_CERTIFICATES") is True
    assert default_settings.DOWNLOAD_VERIFY_CERTIFICATES is False  # why we must set it


def test_only_http_and_https_can_be_downloaded() -> None:
    handlers = {k: v for k, v in project_settings().getwithbase("DOWNLOAD_HANDLERS").items() if v}
    assert sorted(handlers) == ["http", "https"]


def test_no_remote_shells() -> None:
    settings = project_settings()
    assert settings.getbool("TELNETCONSOLE_ENABLED") is False
    assert settings.getbool("REMOTE_CONTROL_ENABLED") is False


def test_responses_are_size_capped() -> None:
    settings = project_settings()
    assert 0 < settings.getint("DOWNLOAD_WARNSIZE") < settings.getint("DOWNLOAD_MAXSIZE") <= 64 * 1024 * 1024


def test_the_crawler_is_polite() -> None:
    settings = project_settings()
    assert settings.getbool("ROBOTSTXT_OBEY") is True
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 1
    assert settings.getfloat("DOWNLOAD_DELAY") >= 1
    assert settings.getbool("AUTOTHROTTLE_ENABLED") is True
    assert settings.getbool("COOKIES_ENABLED") is False


def test_user_agent_names_the_project_and_the_contact(reload_settings: pytest.MonkeyPatch) -> None:
    reload_settings.setenv("ILO_MONITOR_CONTACT", "tenders@ilo.example.nl")
    importlib.reload(crawl_settings)
    agent = crawl_settings.USER_AGENT
    assert agent.startswith(f"ilo-monitor/{__version__} (Big Science Tender Monitor")
    assert "contact: tenders@ilo.example.nl" in agent
    assert "Scrapy" not in agent


def test_user_agent_says_when_no_contact_is_configured(reload_settings: pytest.MonkeyPatch) -> None:
    # No invented address: an operator running live crawls sets ILO_MONITOR_CONTACT.
    reload_settings.delenv("ILO_MONITOR_CONTACT", raising=False)
    importlib.reload(crawl_settings)
    assert "contact: not configured (set ILO_MONITOR_CONTACT))" in crawl_settings.USER_AGENT


def test_database_comes_from_the_environment(reload_settings: pytest.MonkeyPatch) -> None:
    reload_settings.setenv("ILO_MONITOR_DB", "sqlite:////tmp/elsewhere.sqlite")
    importlib.reload(crawl_settings)
    assert crawl_settings.ILO_MONITOR_DB == "sqlite:////tmp/elsewhere.sqlite"
    reload_settings.delenv("ILO_MONITOR_DB")
    importlib.reload(crawl_settings)
    assert crawl_settings.ILO_MONITOR_DB is None


def test_replay_is_never_read_from_the_environment(reload_settings: pytest.MonkeyPatch) -> None:
    reload_settings.setenv("ILO_MONITOR_REPLAY_URL", "http://127.0.0.1:1")
    importlib.reload(crawl_settings)
    assert crawl_settings.ILO_MONITOR_REPLAY_URL is None


def test_every_non_default_value_states_the_default() -> None:
    """Each setting Scrapy also defines, set to another value, has a "# Default: ..." comment above."""
    source = SETTINGS_FILE.read_text(encoding="utf-8")
    lines = source.splitlines()
    undocumented = []
    for node in ast.parse(source).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if not isinstance(target, ast.Name) or not hasattr(default_settings, target.id):
            continue
        if getattr(crawl_settings, target.id) == getattr(default_settings, target.id):
            continue
        comment = []
        for line in reversed(lines[: node.lineno - 1]):
            if not line.startswith("#"):
                break
            comment.append(line)
        if not any(line.startswith("# Default:") for line in comment):
            undocumented.append(target.id)
    assert undocumented == []


# -- real fetches in child processes ------------------------------------------------------------


def scrapy_fetch(url: str, *settings: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "scrapy", "fetch", url]
    for setting in ("DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", "RETRY_ENABLED=False", *settings):
        command += ["-s", setting]
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "monitor.crawl.settings"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_a_file_url_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the contents of a local file")
    fetched = scrapy_fetch(secret.as_uri())
    assert "the contents of a local file" not in fetched.stdout
    assert "Unsupported URL scheme 'file'" in fetched.stderr


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from a self-signed server" if self.path != "/robots.txt" else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def https_url(tmp_path: Path) -> Iterator[str]:
    cert_file, key_file = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/page"
    finally:
        server.shutdown()
        server.server_close()


def test_an_unverifiable_certificate_is_refused(https_url: str) -> None:
    refused = scrapy_fetch(https_url)
    assert "hello from a self-signed server" not in refused.stdout
    assert "certificate verify failed" in refused.stderr, refused.stderr[-3000:]
    # The same fetch without verification gets through: the refusal above was the check's doing.
    accepted = scrapy_fetch(https_url, "DOWNLOAD_VERIFY_CERTIFICATES=False")
    assert "hello from a self-signed server" in accepted.stdout, accepted.stderr[-3000:]
