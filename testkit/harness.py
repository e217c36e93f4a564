"""Test and benchmark harness: local origin servers, a real `mitmdump` with the add-on, a plain client.

Used by the tests and the benchmarks (as `testkit.harness`), so they all measure the same thing the
user runs.
Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import http.client
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parent.parent
ADDON = REPO / "proxy_addon" / "wink.py"
#: The Accept header a Chromium browser sends for <img>: takes WebP, so the add-on answers with WebP.
WEBP_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


class Route(NamedTuple):
    body: bytes
    content_type: str
    status: int = 200
    headers: Mapping[str, str] = {}


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes
    ms: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (the proxy is told not to verify upstream certificates)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "origin-cert.pem", directory / "origin-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes; no 40 ms delayed-ACK stalls
    server: _OriginServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._reply(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._reply(body=False)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self._reply(body=True)

    def _reply(self, body: bool) -> None:
        self.server.hits.append(self.path)
        route = self.server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            route = Route(b"not found\n", "text/plain", 404)
        payload, status = route.body, route.status
        if "range" in self.headers and status == 200 and payload:
            payload, status = payload[:100], 206  # enough of a range response for the proxy to leave alone
        self.send_response(status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(payload)))
        if status == 206:
            self.send_header("Content-Range", f"bytes 0-{len(payload) - 1}/{len(route.body)}")
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _OriginServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, Route], context: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes, self.context, self.hits = routes, context, []

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.context is not None:  # the handshake then happens in the handler's thread
            sock = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address


class Origin:
    """An HTTP server on 127.0.0.1 serving fixed routes: path -> Route.

    HTTPS with tls_dir (a self-signed certificate made there) or with cert_chain (certificate, key).
    """

    def __init__(
        self, routes: dict[str, Route], tls_dir: Path | None = None, cert_chain: tuple[Path, Path] | None = None
    ) -> None:
        if cert_chain is None and tls_dir is not None:
            cert_chain = self_signed(tls_dir)
        context = None
        if cert_chain is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*cert_chain)
        self.server = _OriginServer(routes, context)
        self.scheme = "https" if context else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def routes(self) -> dict[str, Route]:
        return self.server.routes

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class H2Origin:
    """An HTTPS server on 127.0.0.1 that speaks HTTP/2 (and HTTP/1.1, by ALPN), serving fixed routes.

    Most image hosts and CDNs speak HTTP/2: mitmproxy then speaks it to the browser too, and a photo held
    for its look holds up no other request. hypercorn does the protocol; this is a small ASGI app on it.
    """

    def __init__(self, routes: dict[str, Route], tls_dir: Path) -> None:
        from hypercorn.config import Config

        self.routes = routes
        self.port = free_port()
        cert, key = self_signed(tls_dir)
        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.certfile, config.keyfile = str(cert), str(key)
        config.accesslog = config.errorlog = None
        self._loop = asyncio.new_event_loop()
        self._stopping = asyncio.Event()
        self.thread = threading.Thread(target=self._serve, args=(config,), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while True:  # listening once a connection is accepted
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or not self.thread.is_alive():
                    raise RuntimeError("the HTTP/2 origin did not start") from None
                time.sleep(0.02)

    def _serve(self, config: Any) -> None:
        from hypercorn.asyncio import serve

        shutdown = self._stopping.wait
        self._loop.run_until_complete(serve(self._app, config, shutdown_trigger=shutdown))  # type: ignore[arg-type]

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        route = self.routes.get(scope["path"]) or Route(b"not found\n", "text/plain", 404)
        headers = [(b"content-type", route.content_type.encode()), (b"content-length", str(len(route.body)).encode())]
        headers += [(name.lower().encode(), value.encode()) for name, value in route.headers.items()]
        await send({"type": "http.response.start", "status": route.status, "headers": headers})
        await send({"type": "http.response.body", "body": route.body if scope["method"] != "HEAD" else b""})

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stopping.set)
        self.thread.join(5)  # a client still connected keeps the (daemon) thread a while longer; fine at exit


class Mitmdump:
    """`mitmdump [-s proxy_addon/wink.py]` on a free loopback port, with its own confdir and cache."""

    def __init__(
        self,
        workdir: Path,
        addon: bool = True,
        flow_detail: str | None = "0",
        file_size_limit: int | None = None,
        scripts: tuple[Path, ...] = (),
        **options: Any,
    ) -> None:
        """flow_detail=None leaves mitmdump's (and the add-on's) own default, as the README's command.
        file_size_limit (bytes, RLIMIT_FSIZE) makes larger writes fail, as a full disk would.
        scripts: more mitmproxy scripts, loaded after the add-on (their hooks run after its own)."""
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.confdir = workdir / "confdir"
        self.port = free_port()
        self.log_path = workdir / f"mitmdump-{self.port}.log"
        settings = {
            "confdir": str(self.confdir),
            "ssl_insecure": "true",
            "termlog_verbosity": "info",
        }
        if flow_detail is not None:
            settings["flow_detail"] = flow_detail
        if addon:
            settings |= {"wink_cache_dir": str(workdir / "cache"), **{k: str(v) for k, v in options.items()}}
        command = [
            str(Path(sys.executable).parent / "mitmdump"),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(self.port),
        ]
        if addon:
            command += ["-s", str(ADDON)]
        for script in scripts:
            command += ["-s", str(script)]
        for name, value in settings.items():
            command += ["--set", f"{name}={value}"]
        self.addon = addon
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (lives as long as the process)

        def limit_files() -> None:
            if file_size_limit is not None:
                import resource

                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=limit_files if file_size_limit is not None else None,
        )
        self.client = Client(self.port, self.ca)

    @property
    def ca(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120.0, warm: bool = True) -> None:
        """Until the proxy answers (and, with the add-on, every worker has loaded its models)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mitmdump exited with {self.process.returncode}:\n{self.log()[-4000:]}")
            try:
                if not self.addon:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        if self.ca.is_file():
                            return
                else:
                    workers = self.status()["workers"]
                    if not warm or workers["ready"] >= workers["count"]:
                        return
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"mitmdump not ready after {timeout} s:\n{self.log()[-4000:]}")

    def status(self) -> dict[str, Any]:
        return json.loads(self.client.get("http://wink.proxy/api/status").body)

    def secret(self) -> str:
        """The control API's per-install secret, read from the confdir as a local script would."""
        return json.loads((self.confdir / "wink-control.json").read_text())["secret"]

    def control(self, path: str, value: dict[str, Any]) -> Reply:
        """POST a change to the control API as a local script that read the secret."""
        headers = {"content-type": "application/json", "x-wink-secret": self.secret()}
        return self.client.request("POST", f"http://wink.proxy{path}", json.dumps(value).encode(), headers)

    def fork_server_pids(self) -> list[int]:
        """The process the workers are forked from (multiprocessing's fork server), while one runs."""
        return [pid for pid in _children(self.process.pid) if "forkserver" in _cmdline(pid)]

    def worker_pids(self) -> list[int]:
        """The proxy's worker processes (the API does not name them): the children of its fork server."""
        return sorted(pid for server in self.fork_server_pids() for pid in _children(server))

    def rss_kb(self) -> int:
        """The proxy's resident memory now, in kB."""
        return _status_kb(self.process.pid, "VmRSS")

    def memory_peak_kb(self) -> dict[str, int]:
        """Peak resident memory (VmHWM) of the proxy, of its fork server and of each worker process, in kB
        (a worker's count includes the pages it shares with the fork server it was forked from)."""
        peaks = {"proxy": _vm_hwm(self.process.pid)}
        if self.addon:
            for pid in self.fork_server_pids():
                peaks["fork server"] = _vm_hwm(pid)
            for pid in self.worker_pids():
                peaks[f"worker {pid}"] = _vm_hwm(pid)
        return peaks

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _vm_hwm(pid: int) -> int:
    return _status_kb(pid, "VmHWM")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Client:
    """A minimal HTTP client through the proxy (no environment proxy settings, no retries).

    http:// URLs go to the proxy in absolute form; https:// ones through a CONNECT tunnel verified
    against the proxy's CA. Connections are kept per origin, as a browser would.
    """

    def __init__(self, proxy_port: int, ca: Path, timeout: float = 60.0) -> None:
        self.proxy_port, self.ca, self.timeout = proxy_port, ca, timeout
        self._connections: dict[str, http.client.HTTPConnection] = {}
        self._context: ssl.SSLContext | None = None

    def _connection(self, key: str, scheme: str, host: str, port: int) -> http.client.HTTPConnection:
        if key not in self._connections:
            if scheme == "https":
                if self._context is None:
                    self._context = ssl.create_default_context(cafile=str(self.ca))
                connection = http.client.HTTPSConnection(
                    "127.0.0.1", self.proxy_port, timeout=self.timeout, context=self._context
                )
                connection.set_tunnel(host, port)
            else:
                connection = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=self.timeout)
            self._connections[key] = connection
        return self._connections[key]

    def request(
        self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Reply:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = f"{parts.scheme}://{parts.hostname}:{port}"
        target = url if parts.scheme == "http" else parts.path or "/"
        if parts.scheme != "http" and parts.query:
            target += f"?{parts.query}"
        for attempt in (0, 1):  # a kept-alive connection the proxy closed meanwhile is reopened once
            connection = self._connection(key, parts.scheme, parts.hostname or "", port)
            started = time.perf_counter()
            try:
                connection.request(method, target, body=body, headers=dict(headers or {}))
                response = connection.getresponse()
                data = response.read()
            except Exception as error:
                connection.close()
                self._connections.pop(key, None)
                stale = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
                if attempt or not isinstance(error, stale):
                    raise
                continue
            ms = (time.perf_counter() - started) * 1000
            if response.getheader("connection", "").lower() == "close":
                connection.close()
                self._connections.pop(key, None)
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data, ms)
        raise AssertionError("unreachable")

    def get(self, url: str, **headers: str) -> Reply:
        return self.request("GET", url, headers={k.replace("_", "-"): v for k, v in headers.items()})

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()


def fetch_all(
    proxy_port: int, ca: Path, urls: list[str], in_flight: int = 20, accept: str = WEBP_ACCEPT
) -> list[Reply | None]:
    """GET every URL through the proxy, `in_flight` at a time, one client (one browser connection) per
    thread; a request that raised gives None. Replies come back in the order of `urls`."""
    local = threading.local()
    clients: list[Client] = []

    def fetch(url: str) -> Reply | None:
        if not hasattr(local, "client"):
            local.client = Client(proxy_port, ca)
            clients.append(local.client)
        try:
            return local.client.get(url, accept=accept)
        except Exception:
            return None

    with ThreadPoolExecutor(in_flight) as pool:
        replies = list(pool.map(fetch, urls))
    for client in clients:
        client.close()
    return replies


def temp_workdir(prefix: str = "wink-proxy-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


class RedisServer:
    """Debian's `redis-server` on a free loopback port, in a temporary folder, with a password and no
    persistence; `kill` and `start` again on the same port, as an outage. `tls_dir`: TLS only."""

    #: The memory budget and eviction policy docs/deploy.md recommends (docs/decisions.md).
    MAXMEMORY = "64mb"
    POLICY = "volatile-lru"

    def __init__(self, workdir: Path, tls_dir: Path | None = None) -> None:
        self.workdir, self.tls_dir = workdir, tls_dir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.password = "pw-" + os.urandom(8).hex()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return self.db_url(0)

    def db_url(self, db: int) -> str:
        """The URL of one of the server's numbered databases."""
        scheme = "rediss" if self.tls_dir else "redis"
        url = f"{scheme}://:{self.password}@127.0.0.1:{self.port}/{db}"
        if self.tls_dir:
            url += f"?ssl_ca_certs={self.tls_dir / 'origin-cert.pem'}"
        return url

    def empty_db_url(self, db: int) -> str:
        """The URL of database `db`, emptied first: a proxy on it starts with an empty cache, as one
        with its cache on disk does in a fresh folder."""
        import redis

        redis.Redis.from_url(self.db_url(db)).flushdb()
        return self.db_url(db)

    def start(self) -> None:
        command = ["redis-server", "--bind", "127.0.0.1", "--dir", str(self.workdir), "--save", ""]
        command += ["--appendonly", "no", "--requirepass", self.password, "--maxmemory", self.MAXMEMORY]
        command += ["--maxmemory-policy", self.POLICY]
        if self.tls_dir:
            cert, key = self.tls_dir / "origin-cert.pem", self.tls_dir / "origin-key.pem"
            if not cert.is_file():
                self_signed(self.tls_dir)
            command += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(cert)]
            command += ["--tls-key-file", str(key), "--tls-auth-clients", "no"]
        else:
            command += ["--port", str(self.port)]
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.workdir / "redis.log").read_text()[-2000:])
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.05)
        raise TimeoutError("redis-server did not listen")

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing is saved (there is no persistence anyway)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
