"""The local development broker: a single-node Apache Kafka (KRaft, broker+controller).

Jars come from Maven Central once (deploy/kafka/pom.xml, `mvn dependency:copy-dependencies`)
into a cache dir; later starts need no network. Everything else lives under
``<data_dir>/kafka``: server.properties (rewritten at each start), the log dirs (``logs``),
the pid file, ``broker.log`` (Log4j, quiet) and ``broker.out`` (the JVM's stdout/stderr).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hub.errors import BrokerError
from hub.settings import Settings

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
HOST = "127.0.0.1"
NODE_ID = 1

_T = TypeVar("_T")
_children: dict[int, subprocess.Popen[bytes]] = {}  # brokers this process started


@dataclass(frozen=True)
class SecureListener:
    """A SASL_SSL listener for the clients (SCRAM-SHA-512 over TLS) in place of the PLAINTEXT
    one on MOTCUA_BROKER_PORT. The broker talks to itself (inter-broker, controller) over
    PLAINTEXT on 127.0.0.1:`internal_port`; the SCRAM users are created when the log dirs are
    formatted, so they are those of the first start of a data dir."""

    keystore: Path  # PKCS12: the broker's key and certificate (chain)
    keystore_password: str
    users: Mapping[str, str]  # SCRAM-SHA-512 user name -> password
    internal_port: int

    def scram_arguments(self) -> list[str]:
        """kafka-storage format's --add-scram, one per user (KRaft stores them at format)."""
        args: list[str] = []
        for name, password in self.users.items():
            if any(c in name + password for c in '",[]=\\') or not name or not password:
                raise BrokerError(f"SCRAM user {name!r}: a name or password Kafka cannot quote")
            args += ["--add-scram", f'SCRAM-SHA-512=[name="{name}",password="{password}"]']
        return args


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str


# --- paths -------------------------------------------------------------------------------


def kafka_dir(settings: Settings) -> Path:
    return (settings.data_dir / "kafka").resolve()


def bootstrap(settings: Settings) -> str:
    return f"{HOST}:{settings.broker_port}"


def deploy_dir() -> Path:
    """The pom and the Log4j configuration: deploy/kafka of the source tree, or the copy a
    wheel ships as hub/_deploy_kafka."""
    here = Path(__file__).resolve().parent
    for path in (here.parent / "deploy" / "kafka", here / "_deploy_kafka"):
        if (path / "pom.xml").is_file():
            return path
    raise BrokerError(f"deploy/kafka/pom.xml not found next to {here}: reinstall motcua-hub")


def lib_dir(settings: Settings) -> Path:
    """Jar cache: $MOTCUA_KAFKA_LIB_DIR, else ~/.cache/motcua-hub/kafka-<version>/lib."""
    override = os.environ.get("MOTCUA_KAFKA_LIB_DIR")
    if override:
        return Path(override).expanduser().resolve()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "motcua-hub" / f"kafka-{settings.kafka_version}" / "lib"


def _tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log, Java stack frames left out (the messages are what helps)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    kept = [line for line in text if not line.lstrip().startswith(("at ", "... "))]
    return "\n".join(line[:300] for line in kept[-lines:])


# --- jars ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch(settings: Settings) -> Path:
    """Resolve the broker's jars with Maven once; return the lib dir."""
    lib = lib_dir(settings)
    if any(lib.glob("kafka_2.13-*.jar")):
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("Maven (mvn) is needed once to fetch the Kafka jars; install maven")
    with _locked(lib.parent / ".fetch.lock"):
        if any(lib.glob("kafka_2.13-*.jar")):  # another process fetched meanwhile
            return lib
        partial = lib.parent / "lib.partial"
        shutil.rmtree(partial, ignore_errors=True)
        cmd = [
            mvn, "-q", "-B", "-f", str(deploy_dir() / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}", f"-Dkafka.version={settings.kafka_version}",
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            output = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            raise BrokerError(
                f"could not fetch Kafka {settings.kafka_version} with Maven "
                f"(MOTCUA_KAFKA_VERSION):\n{output}"
            )
        shutil.rmtree(lib, ignore_errors=True)
        partial.rename(lib)
    return lib


# --- process ----------------------------------------------------------------------------


def _read_pid(settings: Settings) -> int | None:
    try:
        return int((kafka_dir(settings) / "broker.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return b"kafka.Kafka" in cmdline and state not in ("Z", "X")


def status(settings: Settings) -> BrokerStatus:
    pid = _read_pid(settings)
    running = pid is not None and _alive(pid)
    return BrokerStatus(
        running=running, pid=pid if running else None, bootstrap=bootstrap(settings)
    )


def port_free(port: int, host: str = HOST) -> bool:
    """Whether `port` can be bound on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _listeners(settings: Settings, secure: SecureListener | None) -> str:
    port, cport = settings.broker_port, settings.broker_controller_port
    if secure is None:
        return f"""listeners=PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{cport}
advertised.listeners=PLAINTEXT://{HOST}:{port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT"""
    iport = secure.internal_port
    # the advertised host is the one the certificate names (127.0.0.1): clients check it
    return f"""listeners=SASL_SSL://{HOST}:{port},INTERNAL://{HOST}:{iport},CONTROLLER://{HOST}:{cport}
advertised.listeners=SASL_SSL://{HOST}:{port},INTERNAL://{HOST}:{iport}
listener.security.protocol.map=SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\\
  org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location={secure.keystore}
ssl.keystore.password={secure.keystore_password}
ssl.key.password={secure.keystore_password}
ssl.client.auth=none"""


def _server_properties(settings: Settings, logs: Path, secure: SecureListener | None) -> str:
    cport = settings.broker_controller_port
    return f"""# written by motcua-hub (hub/broker.py) at each start: edits are lost
process.roles=broker,controller
node.id={NODE_ID}
controller.quorum.voters={NODE_ID}@{HOST}:{cport}
controller.listener.names=CONTROLLER
{_listeners(settings, secure)}
log.dirs={logs}
num.partitions=6
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=87600
num.network.threads=2
num.io.threads=4
"""


def _run_sync(make: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine from sync code, also when called inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make()).result()


async def _answers(address: str) -> bool:
    """True when the broker answers a metadata request naming itself."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=address, request_timeout_ms=5000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers")) and cluster.get("controller_id", -1) != -1
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def _tcp_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
        return True
    return False


def start(
    settings: Settings,
    say: Callable[[str], None] = lambda _: None,
    secure: SecureListener | None = None,
) -> str:
    """Start the broker detached (if not running) and return its bootstrap address once it
    answers. `say` receives progress lines for a person. With `secure`, the clients' listener
    is SASL_SSL (see `SecureListener`)."""
    address = bootstrap(settings)
    current = status(settings)
    if current.running:
        say(f"broker already running (pid {current.pid}) at {address}")
        return address
    java = shutil.which("java")
    if java is None:
        raise BrokerError("java (17+) is needed to run the local Kafka broker")
    if settings.broker_port == settings.broker_controller_port:
        raise BrokerError("MOTCUA_BROKER_PORT and MOTCUA_BROKER_CONTROLLER_PORT must differ")
    ports = [("MOTCUA_BROKER_PORT", settings.broker_port),
             ("MOTCUA_BROKER_CONTROLLER_PORT", settings.broker_controller_port)]  # fmt: skip
    if secure is not None:
        ports.append(("the internal listener's port", secure.internal_port))
    for name, port in ports:
        if not port_free(port):
            raise BrokerError(f"port {port} is in use ({name}): is another Kafka running?")

    if not any(lib_dir(settings).glob("kafka_2.13-*.jar")):
        say(f"fetching Kafka {settings.kafka_version} jars with Maven into {lib_dir(settings)}")
    lib = fetch(settings)
    home = kafka_dir(settings)
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    props = home / "server.properties"
    props.write_text(_server_properties(settings, logs, secure))
    props.chmod(0o600)  # it holds the keystore password
    out = home / "broker.out"
    classpath = f"{lib}/*"
    jvm = [
        java, f"-Xmx{settings.broker_heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true", f"-Dkafka.logs.dir={home}",
        f"-Dlog4j2.configurationFile={deploy_dir() / 'log4j2.xml'}", "-cp", classpath,
    ]  # fmt: skip

    if not (logs / "meta.properties").exists():
        # a Kafka cluster id may start with "-": pass it as --cluster-id=..., never as a lone word
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        fmt = subprocess.run(
            [*jvm, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
             "-c", str(props), *(secure.scram_arguments() if secure else [])],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if fmt.returncode != 0:
            head = "\n".join((fmt.stdout + fmt.stderr).splitlines()[:15])
            raise BrokerError(f"formatting {logs} failed:\n{head}")

    with out.open("ab") as sink:
        proc = subprocess.Popen(
            [*jvm, "kafka.Kafka", str(props)],
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=home,
        )  # fmt: skip
    _children[proc.pid] = proc
    (home / "broker.pid").write_text(f"{proc.pid}\n")
    say(f"starting Kafka {settings.kafka_version} (pid {proc.pid}), data in {home}")

    # a secure broker is asked on its own PLAINTEXT listener: no client credentials here
    own = address if secure is None else f"{HOST}:{secure.internal_port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if _tcp_open(settings.broker_port) and _run_sync(lambda: _answers(own)):
            say(f"broker running at {address}")
            return address
        time.sleep(0.3)
    died = proc.poll() is not None
    if not died:
        stop(settings)
    why = (
        f"exited with code {proc.returncode}"
        if died
        else f"did not answer in {START_TIMEOUT_S:.0f} s"
    )
    raise BrokerError(
        f"the local Kafka broker {why}; tail of {home}/broker.log and broker.out:\n"
        f"{_tail(home / 'broker.log')}\n{_tail(out)}"
    )


def stop(settings: Settings) -> bool:
    """SIGTERM the broker, SIGKILL after 30 s. False if it was not running."""
    pid_file = kafka_dir(settings) / "broker.pid"
    pid = _read_pid(settings)
    if pid is None or not _alive(pid):
        pid_file.unlink(missing_ok=True)
        _children.pop(pid or -1, None)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    child = _children.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=10)
    pid_file.unlink(missing_ok=True)
    return True
