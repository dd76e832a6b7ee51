"""Start or stop the PostgreSQL server (with pgvector) that CI's PostgreSQL tests run against.

    python .ci/postgres.py start [DATA_DIR]   # prints the SQLAlchemy URL for LLAMASYS_TEST_POSTGRES_URL
    python .ci/postgres.py stop [DATA_DIR]

The server is `pgserver` from PyPI (a self-contained PostgreSQL build that bundles the pgvector
extension; Debian's own package has no pgvector for bookworm), listening on a Unix socket in DATA_DIR
only (default /tmp/llamasys-ci-postgres), trusted local authentication, superuser `postgres`. Run as
root it runs the server as a system user `pgserver` (created with useradd) and, as pgserver does, makes
the folders above DATA_DIR and its own binaries traversable for that user. The tests create a database
of their own in it and drop it afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT_DATA = Path("/tmp/llamasys-ci-postgres")


def start(data: Path) -> str:
    import pgserver

    server = pgserver.get_server(data, cleanup_mode=None)  # keeps running after this process exits
    versions = server.psql("CREATE EXTENSION IF NOT EXISTS vector; SELECT extversion FROM pg_extension;")
    if "vector" not in server.psql("SELECT extname FROM pg_extension;"):
        raise SystemExit(f"the PostgreSQL server in {data} has no pgvector extension:\n{versions}")
    # pgserver gives postgresql://postgres:@/postgres?host=<socket dir>; SQLAlchemy names the driver
    return server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)


def stop(data: Path) -> None:
    import pgserver

    if (data / "postmaster.pid").exists():
        pgserver.get_server(data, cleanup_mode="delete")  # stopped and deleted when this process exits


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[1] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    data = Path(argv[2]) if len(argv) == 3 else DEFAULT_DATA
    if argv[1] == "start":
        print(start(data))
    else:
        stop(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
