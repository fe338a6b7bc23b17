"""Shared pytest fixtures."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# The clock of every test: the pipeline reads "today" from this setting (never the machine's
# date), so the loaded partitions end with the 2026-27 season whatever day the tests run.
os.environ.setdefault("JACKPOT_TODAY", "2026-11-30")

# ---------------------------------------------------------------------------------------------
# A real PostgreSQL 15 server for the Dagster instance tests (test_postgres_instance.py).
# ---------------------------------------------------------------------------------------------

PG_BIN = Path(os.environ.get("JACKPOT_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_SUPERUSER = "jackpot"
PG_PASSWORD = "jackpot-test-password"  # a throw-away local test server
PG_DATABASE = "dagster_test"


@dataclass(frozen=True)
class PostgresServer:
    """Connection details of the test server (password authentication over TCP)."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    socket_dir: str

    @property
    def dsn(self) -> str:
        """A libpq keyword/value connection string, e.g. for ``psycopg2.connect``."""
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={self.dbname}"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(argv: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as the ``postgres`` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _run(argv: list[str], cwd: Path, what: str, timeout: float = 60) -> None:
    result = subprocess.run(
        _as_postgres(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"PostgreSQL {what} failed (exit {result.returncode}): {' '.join(argv)}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start a private PostgreSQL 15 server for the test session and stop it at the end.

    initdb + pg_ctl on a temporary directory (owned by ``postgres`` when running as root),
    listening on a free port of 127.0.0.1 with its unix socket inside the directory and
    ``fsync=off``. A database ``dagster_test`` is created; the yielded ``PostgresServer`` holds
    host, port, user, password and database name."""
    import psycopg2

    missing = [b for b in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / b).is_file()]
    if missing:
        pytest.fail(
            f"PostgreSQL 15 server binaries not found in {PG_BIN} (missing: {', '.join(missing)}). "
            "Install them with `apt-get install -y postgresql` (as root; CI does this in .ci/run).",
            pytrace=False,
        )

    # Not under pytest's tmp_path: /tmp/pytest-of-root is mode 700, unreadable to `postgres`.
    base = Path(tempfile.mkdtemp(prefix="jackpot-pg-"))
    data_dir, socket_dir = base / "data", base / "sock"
    socket_dir.mkdir()
    pwfile = base / "pwfile"
    pwfile.write_text(PG_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        for path in (socket_dir, pwfile):
            shutil.chown(path, "postgres", "postgres")
    log_file = base / "server.log"
    started = False
    try:
        _run(
            [
                str(PG_BIN / "initdb"),
                "-D", str(data_dir),
                "-U", PG_SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            base,
            "initdb",
        )  # fmt: skip
        port = 0
        for attempt in range(3):  # the free port may be taken between probing and binding
            port = _free_port()
            options = (
                f"-c port={port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={socket_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=100"
            )
            result = subprocess.run(
                _as_postgres(
                    [
                        str(PG_BIN / "pg_ctl"),
                        "start",
                        "-D", str(data_dir),
                        "-l", str(log_file),
                        "-w", "-t", "30",
                        "-o", options,
                    ]
                ),
                cwd=base,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )  # fmt: skip
            if result.returncode == 0:
                started = True
                break
            if attempt == 2:
                log = log_file.read_text() if log_file.exists() else ""
                pytest.fail(
                    f"pg_ctl start failed (exit {result.returncode}):\n{result.stdout}\n"
                    f"{result.stderr}\nserver log:\n{log}",
                    pytrace=False,
                )
            time.sleep(0.2)

        server = PostgresServer(
            host="127.0.0.1",
            port=port,
            user=PG_SUPERUSER,
            password=PG_PASSWORD,
            dbname=PG_DATABASE,
            socket_dir=str(socket_dir),
        )
        admin = psycopg2.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            dbname="postgres",
            connect_timeout=10,
        )
        try:
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        finally:
            admin.close()
        yield server
    finally:
        if started:
            subprocess.run(
                _as_postgres(
                    [str(PG_BIN / "pg_ctl"), "stop", "-D", str(data_dir), "-m", "fast", "-w"]
                ),
                cwd=base,
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Other shared fixtures go below.
# ---------------------------------------------------------------------------------------------
