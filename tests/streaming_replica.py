"""A real PostgreSQL streaming replica, for the replica tests and the HTTP benchmark.

``streaming_replica()`` makes one with ``pg_basebackup -R`` and starts it with ``pg_ctl`` on
a free port, in a temporary folder it removes afterwards. The primary is the server of
``source`` (127.0.0.1:5432 by default) when that server accepts replication connections;
when it does not (its pg_hba.conf has no ``replication`` line, and its configuration is not
ours to change), a private primary is made with ``initdb`` beside the replica, so the pair
is still a real primary streaming to a real hot standby. Nothing of the source server's
configuration is touched.

``ReplicaUnavailable`` says precisely why no replica can be had on this machine (no server
binaries, no ``postgres`` account to run them as root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

SOURCE = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_BIN_DIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
             "/usr/lib/postgresql/15/bin", "/usr/local/pgsql/bin", "/usr/local/bin", "/usr/bin")
# A hot standby refuses to start with less of these than its primary has.
_MATCH_PRIMARY = ("max_connections", "max_worker_processes", "max_wal_senders",
                  "max_prepared_transactions", "max_locks_per_transaction")


class ReplicaUnavailable(RuntimeError):
    """This machine cannot run a streaming replica; the message says why."""


@dataclass
class Pair:
    primary: URL
    """The primary server (database ``postgres``)."""
    replica: URL
    """The replica server (database ``postgres``)."""
    folder: Path

    def primary_url(self, database: str) -> str:
        return self.primary.set(database=database).render_as_string(hide_password=False)

    def replica_url(self, database: str) -> str:
        return self.replica.set(database=database).render_as_string(hide_password=False)


def _binary(name: str) -> str:
    for folder in _BIN_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ReplicaUnavailable(f"no {name} binary (looked in {', '.join(_BIN_DIRS)} and "
                                 "PATH): the PostgreSQL server binaries are not installed")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its programs as ``postgres``."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        raise ReplicaUnavailable("running as root and there is no postgres account to run "
                                 "the PostgreSQL server as") from None
    if runuser is None:
        raise ReplicaUnavailable("running as root without runuser to start the server as "
                                 "the postgres account")
    return [runuser, "-u", "postgres", "--"]


def _run(command: list[str], what: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*_as_server_user(), *command], capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != 0:
        raise ReplicaUnavailable(f"{what} failed: {(done.stderr or done.stdout).strip()}")
    return done


def _own(folder: Path) -> None:
    if os.geteuid() == 0:
        import pwd

        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
    folder.chmod(0o700)


def _write_config(data: Path, folder: Path, port: int, settings: dict[str, str],
                  extra: str = "") -> None:
    lines = [f"port = {port}", "listen_addresses = '127.0.0.1'",
             f"unix_socket_directories = '{folder}'", "hot_standby = on",
             *(f"{name} = {value}" for name, value in settings.items()), extra]
    (data / "postgresql.conf").write_text("\n".join(lines) + "\n")
    (data / "pg_hba.conf").write_text("local all all trust\n"
                                      "host all all 127.0.0.1/32 trust\n"
                                      "host replication all 127.0.0.1/32 trust\n")
    if os.geteuid() == 0:
        import pwd

        account = pwd.getpwnam("postgres")
        for name in ("postgresql.conf", "pg_hba.conf"):
            os.chown(data / name, account.pw_uid, account.pw_gid)


def _settings_of(server: URL) -> dict[str, str]:
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return {name: str(conn.execute(text(f"SHOW {name}")).scalar_one())
                    for name in _MATCH_PRIMARY}
    finally:
        engine.dispose()


def _basebackup(server: URL, target: Path) -> None:
    _run([_binary("pg_basebackup"), "-h", str(server.host or "127.0.0.1"),
          "-p", str(server.port or 5432), "-U", str(server.username or "postgres"),
          "-D", str(target), "-R", "-X", "stream", "-c", "fast"],
         f"pg_basebackup from {server.host}:{server.port}")


def _start(data: Path, log: Path) -> None:
    _run([_binary("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "120", "start"],
         f"pg_ctl start of {data}")


def _stop(data: Path) -> None:
    if (data / "postmaster.pid").exists():
        subprocess.run([*_as_server_user(), _binary("pg_ctl"), "-D", str(data), "-m",
                        "immediate", "-w", "stop"], capture_output=True, timeout=120,
                       check=False)


def _private_primary(folder: Path) -> URL:
    data = folder / "primary"
    _run([_binary("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
         "initdb of a private primary")
    port = free_port()
    _write_config(data, folder, port, {}, "wal_level = replica\nmax_wal_senders = 10")
    _start(data, folder / "primary.log")
    return make_url(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")


def _wait_for_recovery(replica: URL) -> None:
    engine = create_engine(replica, isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                with engine.connect() as conn:
                    if conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one():
                        return
                    raise ReplicaUnavailable("the new server is not in recovery: not a "
                                             "replica")
            except ReplicaUnavailable:
                raise
            except Exception as error:  # still starting
                if time.monotonic() > deadline:
                    raise ReplicaUnavailable(f"the replica did not answer: {error}") from None
            time.sleep(0.2)
    finally:
        engine.dispose()


@contextmanager
def streaming_replica(source: str = SOURCE) -> Iterator[Pair]:
    """A primary and a hot standby streaming from it, both answering on 127.0.0.1; the
    replica (and a private primary, if one was made) stopped and removed afterwards."""
    for name in ("pg_basebackup", "pg_ctl", "initdb"):
        _binary(name)
    _as_server_user()
    folder = Path(tempfile.mkdtemp(prefix="stw_replica_"))
    _own(folder)
    replica_data = folder / "replica"
    primary_data = folder / "primary"
    try:
        primary = make_url(source).set(database="postgres")
        try:
            _basebackup(primary, replica_data)
        except ReplicaUnavailable as refused:
            if "replication" not in str(refused):
                raise
            shutil.rmtree(replica_data, ignore_errors=True)
            primary = _private_primary(folder)
            _basebackup(primary, replica_data)
        port = free_port()
        _write_config(replica_data, folder, port, _settings_of(primary))
        _start(replica_data, folder / "replica.log")
        replica = primary.set(port=port)
        _wait_for_recovery(replica)
        yield Pair(primary=primary, replica=replica, folder=folder)
    finally:
        _stop(replica_data)
        _stop(primary_data)
        shutil.rmtree(folder, ignore_errors=True)


def stop_replica(pair: Pair) -> None:
    """Stop the replica now (to see what a server does when its replica is gone)."""
    _stop(pair.folder / "replica")
