"""The managed local Neo4j: Community 5.26 LTS jars from Maven Central, run as
its own Java process with its own home, conf, data and logs folders.

Folders (override with ``PROVEX_HOME`` / ``PROVEX_CACHE``):

- jars:   ``~/.cache/provex/neo4j-<version>/lib`` (fetched once with ``mvn``)
- server: ``~/.local/share/provex/neo4j/`` with ``conf/``, ``data/``, ``logs/``,
  ``password`` (0600) and ``server.json`` (pid, port) while it runs.

Bolt listens on 127.0.0.1 only, auth on, HTTP off.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from provex.vocab.errors import ServerError

NEO4J_VERSION = "5.26.30"
JAVA_MIN = 17
MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"
ADMIN_CLASS = "org.neo4j.cli.AdminTool"
POM = Path(__file__).with_name("neo4j-pom.xml")
JVM_FLAGS = [
    "-Xms512m",
    "-Xmx2g",  # heap: ample for provex on a 2-core / 24 GB machine
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
]


@dataclass(frozen=True)
class Status:
    running: bool
    uri: str
    pid: int | None
    version: str
    home: str
    data: str
    password_file: str
    note: str = ""


class ManagedServer:
    def __init__(self, home: Path, cache: Path, port: int = 7687) -> None:
        self.home = home
        self.cache = cache
        self.default_port = port

    @classmethod
    def from_env(cls) -> ManagedServer:
        home = Path(os.environ.get("PROVEX_HOME", Path.home() / ".local/share/provex")) / "neo4j"
        cache = Path(os.environ.get("PROVEX_CACHE", Path.home() / ".cache/provex"))
        return cls(home, cache, int(os.environ.get("PROVEX_NEO4J_PORT", "7687")))

    # -- paths --------------------------------------------------------------
    @property
    def lib(self) -> Path:
        return self.cache / f"neo4j-{NEO4J_VERSION}" / "lib"

    @property
    def state_file(self) -> Path:
        return self.home / "server.json"

    @property
    def password_file(self) -> Path:
        return self.home / "password"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "neo4j.log"

    @property
    def console_log(self) -> Path:
        return self.home / "logs" / "console.log"

    @property
    def port(self) -> int:
        state = self._state()
        return int(state["port"]) if state else self.default_port

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    def password(self) -> str:
        if not self.password_file.exists():
            raise ServerError(
                f"No managed Neo4j password at {self.password_file}: run `provex neo4j start` first, "
                "or set NEO4J_URI to use another server."
            )
        return self.password_file.read_text().strip()

    # -- lifecycle ----------------------------------------------------------
    def status(self) -> Status:
        state = self._state()
        pid = state.get("pid") if state else None
        running = bool(pid) and _alive(pid)
        return Status(
            running=running,
            uri=self.uri,
            pid=pid if running else None,
            version=NEO4J_VERSION,
            home=str(self.home),
            data=str(self.home / "data"),
            password_file=str(self.password_file),
        )

    def start(self, port: int | None = None, pick_free: bool = False, timeout: float = 120) -> Status:
        """Start the server, or reuse the running one. Idempotent."""
        current = self.status()
        if current.running:
            return Status(**{**current.__dict__, "note": "already running; reused"})
        check_java()
        self.fetch()
        port = self._choose_port(port or self.default_port, pick_free)
        self._prepare(port)
        pid = self._spawn()
        self._write_state({"pid": pid, "port": port, "version": NEO4J_VERSION})
        self._wait_ready(pid, port, timeout)
        return Status(**{**self.status().__dict__, "note": "started"})

    def stop(self, timeout: float = 60) -> bool:
        """Stop the server; returns whether one was running."""
        state = self._state()
        pid = state.get("pid") if state else None
        if not pid or not _alive(pid):
            self.state_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.3)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)
        return True

    # -- steps --------------------------------------------------------------
    def fetch(self) -> Path:
        """Fetch the Neo4j jars with Maven, once."""
        marker = self.lib / ".complete"
        if marker.exists():
            return self.lib
        if not shutil.which("mvn"):
            raise ServerError(
                "Maven (`mvn`) is needed once to fetch the Neo4j jars from Maven Central: "
                "install it (e.g. `apt-get install maven`), or set NEO4J_URI to use another Neo4j 5."
            )
        self.lib.mkdir(parents=True, exist_ok=True)
        cmd = ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
               f"-Dneo4j.version={NEO4J_VERSION}", f"-DoutputDirectory={self.lib}", "-DincludeScope=runtime"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise ServerError(f"Fetching Neo4j {NEO4J_VERSION} with Maven failed:\n{tail}\nCheck access to Maven Central.")
        marker.write_text(NEO4J_VERSION)
        return self.lib

    def _choose_port(self, port: int, pick_free: bool) -> int:
        if port_free(port):
            return port
        if pick_free:
            return free_port()
        raise ServerError(
            f"Port {port} on 127.0.0.1 is already in use. Stop what uses it, choose another with "
            "`provex neo4j start --port N`, or let provex pick one with `--pick-free-port`."
        )

    def _prepare(self, port: int) -> None:
        for sub in ("conf", "data", "logs", "plugins", "import"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        (self.home / "conf" / "neo4j.conf").write_text(self._conf(port))
        if not self.password_file.exists():
            self._set_initial_password()

    def _conf(self, port: int) -> str:
        h = self.home
        return "\n".join([
            "# written by provex; edits are overwritten at the next `provex neo4j start`",
            "server.default_listen_address=127.0.0.1",
            "server.default_advertised_address=127.0.0.1",
            f"server.bolt.listen_address=127.0.0.1:{port}",
            f"server.bolt.advertised_address=127.0.0.1:{port}",
            "server.http.enabled=false",
            "server.https.enabled=false",
            f"server.directories.data={h / 'data'}",
            f"server.directories.logs={h / 'logs'}",
            f"server.directories.plugins={h / 'plugins'}",
            f"server.directories.import={h / 'import'}",
            "server.memory.pagecache.size=1g",
            "db.memory.transaction.total.max=1g",
            "dbms.security.auth_enabled=true",
            "dbms.security.allow_csv_import_from_file_urls=false",
            "dbms.usage_report.enabled=false",
            "db.transaction.timeout=10m",
            # the transaction logs serve recovery and backups; provex's graph is rebuilt from its sources,
            # so keep 1 GB after each checkpoint (the default, 2 days, held 31 GB after a few 1M-prediction ingests)
            "db.tx_log.rotation.retention_policy=1G size",
            "",
        ])

    def _set_initial_password(self) -> None:
        password = "p" + secrets.token_urlsafe(24)  # never a leading "-", which the admin tool reads as an option
        env = {**os.environ, "NEO4J_HOME": str(self.home), "NEO4J_CONF": str(self.home / "conf")}
        cmd = ["java", "-cp", f"{self.lib}/*", ADMIN_CLASS, "dbms", "set-initial-password", password]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise ServerError(f"Setting the Neo4j initial password failed:\n{done.stdout}{done.stderr}")
        self.password_file.touch(mode=0o600)
        os.chmod(self.password_file, 0o600)
        self.password_file.write_text(password + "\n")

    def _spawn(self) -> int:
        cmd = ["java", *JVM_FLAGS, "-cp", f"{self.lib}/*", MAIN_CLASS,
               f"--home-dir={self.home}", f"--config-dir={self.home / 'conf'}"]
        env = {**os.environ, "NEO4J_HOME": str(self.home), "NEO4J_CONF": str(self.home / "conf")}
        with open(self.console_log, "ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True, cwd=self.home)
        return proc.pid

    def _wait_ready(self, pid: int, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                self.state_file.unlink(missing_ok=True)
                raise ServerError(f"Neo4j exited during start-up. Last lines of its logs:\n{self.log_tail()}")
            if not port_free(port) and "Started." in _read(self.log_file):
                return
            time.sleep(0.5)
        self.stop()
        raise ServerError(f"Neo4j did not start within {timeout:.0f}s. Last lines of its logs:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        text = _read(self.log_file) + _read(self.console_log)
        return "\n".join(text.strip().splitlines()[-lines:]) or "(no log output)"

    def _state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _write_state(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state))


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_java() -> None:
    """Raise a ServerError unless Java >= 17 is on PATH."""
    if not shutil.which("java"):
        raise ServerError(f"Java {JAVA_MIN}+ is needed to run the managed Neo4j: install it "
                          "(e.g. `apt-get install openjdk-17-jre-headless`), or set NEO4J_URI.")
    out = subprocess.run(["java", "-version"], capture_output=True, text=True)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):
        major = int(match.group(2))
    if major < JAVA_MIN:
        raise ServerError(f"Neo4j {NEO4J_VERSION} needs Java {JAVA_MIN}+, found Java {major or 'unknown'}: "
                          "install a newer JDK and put it first on PATH, or set NEO4J_URI.")
