"""
The production stack of docs/deploy.md, started from the files in deploy/ as they are.

What the test changes, and only that (an operator changes the same lines):
- deploy/nginx/collab-notes.conf: the lines marked "# site:" (listen ports, server_name,
  certificate paths, the upstream's daphne ports, the /metrics allow range). Each replaced
  line must be found exactly as expected, so a change to the file that the test does not
  know about fails here instead of passing untested.
- deploy/env.example: DJANGO_SECRET_KEY (generated), the host names, DATABASE_URL (this test
  run's PostgreSQL database) and REDIS_URL. Every other line is used as written.
- deploy/systemd/collab-notes@.service: the ExecStart command, with the venv's daphne for
  /srv/notes/.venv/bin/daphne and the port for %i; WorkingDirectory is the checkout.

nginx runs unprivileged-style from a temporary prefix: its own main configuration (standing
in for Debian's /etc/nginx/nginx.conf, which includes the site file the same way), pid file,
logs and temp paths, in the foreground. The certificate is self-signed for 127.0.0.1, made on
the spot; only the test's clients trust it (Python's ssl context, Node's NODE_EXTRA_CA_CERTS,
Chromium's --ignore-certificate-errors-spki-list with its key's hash).
"""

import base64
import hashlib
import http.client
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests import live

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"
SITE_CONF = DEPLOY / "nginx" / "collab-notes.conf"
UNIT = DEPLOY / "systemd" / "collab-notes@.service"
ENV_TEMPLATE = DEPLOY / "env.example"
HOST = "127.0.0.1"  # the site's name: an address, so no client needs a resolver entry
MONITOR = "127.0.0.2"  # the "monitoring host" allowed to read /metrics (another loopback)
FAIL_TIMEOUT = 5.0  # the upstream's fail_timeout in the site file (checked when rendering)


def env_file(path: Path = ENV_TEMPLATE) -> dict[str, str]:
    """The variables an EnvironmentFile sets (the subset of its syntax the template uses)."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
            raise ValueError(f"{path}:{number}: not KEY=value: {line!r}")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values[key] = value
    return values


def production_env(**values: str) -> dict[str, str]:
    """The template's variables with `values` filled in (each must be one the template sets),
    and nothing else from this test run's environment but what a unit's process has."""
    template = env_file()
    unknown = set(values) - set(template)
    assert not unknown, f"deploy/env.example does not set {sorted(unknown)}"
    env = {**template, **values}
    for key in ("PATH", "HOME", "LANG", "NOTES_SPEEDUPS"):
        if key in os.environ:
            env[key] = os.environ[key]
    env["PYTHONUNBUFFERED"] = "1"
    return env


def unit_command(port: int) -> list[str]:
    """The unit's ExecStart for instance `port`, run from this checkout's venv."""
    lines = [line for line in UNIT.read_text().splitlines() if line.startswith("ExecStart=")]
    assert len(lines) == 1, "the unit must have one ExecStart"
    argv = shlex.split(lines[0].removeprefix("ExecStart="))
    assert argv[0] == "/srv/notes/.venv/bin/daphne", argv
    daphne = Path(sys.executable).parent / "daphne"
    return [str(daphne), *(arg.replace("%i", str(port)) for arg in argv[1:])]


def render_site(*, https_port: int, http_port: int, daphne_ports: list[int], folder: Path) -> str:
    """deploy/nginx/collab-notes.conf with this test's site lines."""
    text = SITE_CONF.read_text()
    upstream = "".join(
        f"    server 127.0.0.1:{port} fail_timeout={FAIL_TIMEOUT:g}s;\n" for port in daphne_ports
    )
    replacements = [
        (
            "    server 127.0.0.1:8001 fail_timeout=5s;  # site: one line per daphne process\n"
            "    server 127.0.0.1:8002 fail_timeout=5s;  # site\n"
            "    server 127.0.0.1:8003 fail_timeout=5s;  # site\n",
            upstream,
            1,
        ),
        ("listen 80;", f"listen {HOST}:{http_port};", 1),
        ("listen 443 ssl http2;", f"listen {HOST}:{https_port} ssl http2;", 1),
        ("server_name notes.example.com;", f"server_name {HOST};", 2),
        ("/etc/ssl/notes.example.com/fullchain.pem;", f"{folder / 'cert.pem'};", 1),
        ("/etc/ssl/notes.example.com/privkey.pem;", f"{folder / 'key.pem'};", 1),
        ("allow 10.0.0.0/8;", f"allow {MONITOR};", 1),
    ]
    for old, new, count in replacements:
        found = text.count(old)
        assert found == count, f"{SITE_CONF.name}: expected {old!r} {count}x, found {found}x"
        text = text.replace(old, new)
    return text


MAIN_CONF = """\
# Stands in for Debian's /etc/nginx/nginx.conf, with everything under the test's folder.
{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {folder}/access.log;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    include {folder}/collab-notes.conf;
}}
"""


def make_certificate(folder: Path) -> str:
    """A self-signed certificate for 127.0.0.1 in folder; returns the base64 SHA-256 of its
    public key, which is what Chromium's --ignore-certificate-errors-spki-list takes."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        + ["-nodes", "-days", "2", "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}"]
        + ["-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True,
        capture_output=True,
    )
    spki = subprocess.run(
        ["openssl", "x509", "-in", str(folder / "cert.pem"), "-noout", "-pubkey"],
        check=True,
        capture_output=True,
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"],
        input=spki,
        check=True,
        capture_output=True,
    ).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@dataclass
class DaphneProcess:
    """One daphne started as its systemd unit would start it."""

    port: int
    env: dict = field(repr=False)
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_path.write_text("")
        log = open(self.log_path, "ab")  # the process owns it for its lifetime
        self.process = subprocess.Popen(
            unit_command(self.port),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        live._wait_listening(self.process, self.log_path)

    def stop(self, sig=signal.SIGTERM, timeout: float = 20) -> int:
        """Stop as systemd does (KillSignal=SIGTERM, then SIGKILL after TimeoutStopSec)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def healthy(self) -> bool:
        """/healthz straight from this process, as a load balancer's health check asks it."""
        try:
            connection = http.client.HTTPConnection(HOST, self.port, timeout=5)
            connection.request(
                "GET", "/healthz", headers={"Host": HOST, "X-Forwarded-Proto": "https"}
            )
            return connection.getresponse().status == 200
        except OSError:
            return False

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            assert time.monotonic() < deadline, f"daphne :{self.port} not healthy:\n{self.log()}"
            time.sleep(0.1)

    def metric(self, name: str) -> float:
        """One unlabelled metric of this process, read from its own port."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=5)
        connection.request("GET", "/metrics", headers={"Host": HOST, "X-Forwarded-Proto": "https"})
        text = connection.getresponse().read().decode()
        match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
        assert match, f"no {name} in /metrics of :{self.port}"
        return float(match.group(1))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@dataclass
class Stack:
    folder: Path
    https_port: int
    http_port: int
    spki_hash: str
    env: dict = field(repr=False)
    daphnes: list[DaphneProcess] = field(default_factory=list)
    nginx: subprocess.Popen | None = None

    @property
    def origin(self) -> str:
        return f"https://{HOST}:{self.https_port}"

    @property
    def cert(self) -> Path:
        return self.folder / "cert.pem"

    def tls(self) -> ssl.SSLContext:
        """A client context that trusts this stack's certificate and nothing else."""
        return ssl.create_default_context(cafile=str(self.cert))

    def request(
        self,
        method: str,
        path: str,
        *,
        https: bool = True,
        source: str = HOST,
        headers: dict | None = None,
        body: bytes | None = None,
    ) -> http.client.HTTPResponse:
        """One request through nginx (no redirects followed), from address `source`."""
        if https:
            connection = http.client.HTTPSConnection(
                HOST, self.https_port, context=self.tls(), timeout=15, source_address=(source, 0)
            )
        else:
            connection = http.client.HTTPConnection(
                HOST, self.http_port, timeout=15, source_address=(source, 0)
            )
        connection.request(method, path, body=body, headers=headers or {})
        return connection.getresponse()

    def nginx_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        """manage.py with the production environment, as an operator runs it."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
    )


def start_nginx(stack: Stack, binary: str) -> None:
    folder = stack.folder
    (folder / "tmp").mkdir()
    (folder / "collab-notes.conf").write_text(
        render_site(
            https_port=stack.https_port,
            http_port=stack.http_port,
            daphne_ports=[d.port for d in stack.daphnes],
            folder=folder,
        )
    )
    # As root nginx's workers would switch to "nobody", who cannot read this private folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(MAIN_CONF.format(folder=folder, user=user))
    base = [
        binary,
        "-p",
        str(folder),
        "-c",
        str(folder / "nginx.conf"),
        "-e",
        str(folder / "error.log"),
    ]
    checked = subprocess.run([*base, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, f"nginx refuses the site configuration:\n{checked.stderr}"
    assert "[warn]" not in checked.stderr, checked.stderr
    stack.nginx = subprocess.Popen(
        [*base, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection((HOST, stack.https_port), timeout=1):
                return
        except OSError:
            if stack.nginx.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{stack.nginx_log()}") from None
            time.sleep(0.05)


def stop(stack: Stack) -> None:
    if stack.nginx is not None and stack.nginx.poll() is None:
        stack.nginx.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
        try:
            stack.nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stack.nginx.kill()
            stack.nginx.wait()
    for daphne in stack.daphnes:
        daphne.stop()


def build(folder: Path, *, nginx: str, redis_url: str, processes: int = 2) -> Stack:
    """Certificate, two (or more) daphne processes and nginx in front of them."""
    spki_hash = make_certificate(folder)
    https_port, http_port = live.free_port(), live.free_port()
    env = production_env(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS=HOST,
        CSRF_TRUSTED_ORIGINS=f"https://{HOST}:{https_port}",
        DATABASE_URL=live.database_url(),
        REDIS_URL=redis_url,
    )
    stack = Stack(folder, https_port, http_port, spki_hash, env)
    try:
        for i in range(processes):
            daphne = DaphneProcess(live.free_port(), env, folder / f"daphne-{i}.log")
            stack.daphnes.append(daphne)
            daphne.start()
        start_nginx(stack, nginx)
    except BaseException:
        stop(stack)
        raise
    return stack
