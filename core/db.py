"""Open the database named by a URL and keep its schema at the program's version."""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import quote, unquote

import peewee as pw

from core import dberrors, dbfiles, migrations, pgurl
from core.errors import DatabaseError, DatabaseProblem
from core.i18n import _
from core.models import Meta, database
from core.textcheck import quoted_value

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -16000,
}
CONNECT_TIMEOUT_SECONDS = 10  # PostgreSQL, unless the URL sets ?connect_timeout=


def _unicode_lower(value):
    return value.lower() if isinstance(value, str) else value


def connect(url: str, group: str = "", *, must_exist: bool = False) -> pw.Database:
    """A peewee Database for `sqlite:///PATH` or `postgresql://USER@HOST:PORT/DB?k=v`.

    Sets this process's umask (core.dbfiles) first: the one place every clinicast
    process passes before it creates a file. For SQLite, a folder or file that would
    lock someone out is named with its fix before SQLite fails naming nothing;
    `must_exist` (a session, the daemon: anything but init, the demo and tests) makes
    no file — the first command run before `init` would otherwise create the database
    owned by whoever ran it, in no group."""
    dbfiles.set_umask()
    if url.startswith("sqlite:///"):
        path = str(dbfiles.sqlite_path(url))
        if not group and not must_exist:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        dbfiles.check_access(Path(path), group)  # the folder's problems first, with their fix
        if must_exist and not Path(path).exists():
            raise not_created(Path(path))
        # every transaction takes the write lock up front (BEGIN IMMEDIATE): a deferred one
        # that reads then writes fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT,
        # no busy wait) when another process wrote in between — two staff creating at once
        db = pw.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=dbfiles.BUSY_SECONDS, lock_type="IMMEDIATE")
        # SQLite's own lower() folds ASCII only: "Émilie" must match "émilie" as on PostgreSQL
        db.register_function(_unicode_lower, "lower", 1, deterministic=True)
    elif url.startswith(("postgresql://", "postgres://")):
        from core import orm

        orm.load_driver()
        # libpq's reading: ?host= (a socket folder), ?port=, ?user= replace the URL's own
        params: dict[str, str | int] = dict(pgurl.params(url))
        name = str(params.pop("dbname", ""))
        # no JIT compiling: clinicast's statements are short, and PostgreSQL compiled any
        # that its estimate thought costly (a count over a million rows, an assign's
        # insert) for longer than it then ran (issue #21)
        params["options"] = f"{params.get('options', '')} -c jit=off".strip()
        # a server that never answers (a wrong port whose service waits for the client to
        # speak, a firewall that drops) is said within seconds, not waited for ever
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        db = pw.PostgresqlDatabase(name, prefer_psycopg3=True, **params)
    else:
        raise DatabaseError(
            _("unsupported database URL {url}; expected sqlite:///PATH or postgresql://...").format(
                url=quoted_value(url)
            )
        )
    return db


def bind(url: str, group: str = "", *, must_exist: bool = False) -> pw.Database:
    """Open the URL and make it the database every model uses (`must_exist`: as connect)."""
    return _use(connect(url, group, must_exist=must_exist), group)


def not_created(path: Path) -> DatabaseError:
    return DatabaseError(
        _("{path} does not exist yet: run `clinicast init` as the service account (or root) to create it").format(
            path=path
        ),
        DatabaseProblem.EMPTY,
    )


def bind_to_look(url: str, group: str = "") -> pw.Database:
    """`clinicast config check`: the database as it is, opened only to read. Never
    creates the file, its folder, a WAL or a SHM (run by root before `init`, a check
    that created them would lock the service account out). SQLite: a file nobody has
    open is read as immutable (SQLite's read-only mode would still make a -wal and a
    -shm owned by whoever checks); one in use is read through its existing WAL."""
    return _use(look(url, group), group)


def look(url: str, group: str = "") -> pw.Database:
    """The database of `url` opened only to read, as bind_to_look says, and not bound:
    what core.preferences reads a staff member's language from before anything runs."""
    from urllib.parse import quote

    path = dbfiles.sqlite_path(url)
    if path is None:  # PostgreSQL: reading creates nothing
        return connect(url, group)
    try:
        path.stat()
    except FileNotFoundError:
        raise not_created(path) from None
    except PermissionError:  # a folder above it closed to this user: check_access names it
        pass
    dbfiles.check_access(path, group)
    in_use = all(Path(f"{path}{s}").exists() for s in ("-wal", "-shm"))
    uri = f"file:{quote(str(path))}?" + ("mode=ro" if in_use else "immutable=1")
    return pw.SqliteDatabase(uri, uri=True, timeout=dbfiles.BUSY_SECONDS)


def _use(db: pw.Database, group: str) -> pw.Database:
    if database.obj is not None:
        try:
            database.obj.close()
        except Exception:  # noqa: BLE001 - the old connection may already be broken
            pass
    database.initialize(db)
    _GROUP[0] = group
    return db


def _runner():
    from playhouse.migrations import Runner

    return Runner(database.obj, str(migrations.DIRECTORY), table_name=migrations.HISTORY_TABLE)


def schema_version() -> int:
    """The number of the last migration applied; 0 for an empty database. Databases
    made before the history table existed say it in `meta` (version 1)."""
    tables = set(database.get_tables())
    if migrations.HISTORY_TABLE in tables:
        applied = [n for (n,) in database.execute_sql(f"SELECT name FROM {migrations.HISTORY_TABLE}").fetchall()]
        if applied:
            return max(migrations.number(n) for n in applied)
    if Meta._meta.table_name not in tables:
        return 0
    row = Meta.get_or_none(Meta.key == "schema_version")
    return int(row.value) if row else 0


def check_schema() -> None:
    """Refuse a database that is behind (needs `clinicast init`) or newer than the program."""
    try:
        v = schema_version()
    except pw.PeeweeException as e:
        raise explain(e) from None
    latest = migrations.LATEST
    if v == 0:
        lost = unreachable_schema()  # on PostgreSQL, init may not be what it needs
        if lost is not None:
            raise lost
        raise DatabaseError(_("the database is empty: run `clinicast init` to create it"), DatabaseProblem.EMPTY)
    if v < latest:
        raise DatabaseError(
            _(
                "the database schema is at version {version}, this program needs {latest}: "
                "run `clinicast init` to migrate it"
            ).format(version=v, latest=latest),
            DatabaseProblem.BEHIND,
        )
    if v > latest:
        raise DatabaseError(
            _(
                "the database schema is at version {version}, newer than this program (version {latest}): "
                "upgrade clinicast"
            ).format(version=v, latest=latest),
            DatabaseProblem.NEWER,
        )


_MIGRATE_LOCK = 0x636C696E6963  # "clinic": the advisory lock migrations take turns with


@contextlib.contextmanager
def _one_at_a_time():
    """On PostgreSQL, one `init` at a time for the whole database: deploy/clinicast.service
    runs it before each daemon start, and hosts started together ran it at once — all but
    one failing half way on the tables the first was making. A session lock: held across
    the migrations' own transactions, gone with the connection if the process dies."""
    if not is_postgres():
        yield
        return
    database.execute_sql("SELECT pg_advisory_lock(%s)", (_MIGRATE_LOCK,))
    try:
        yield
    finally:
        try:
            database.execute_sql("SELECT pg_advisory_unlock(%s)", (_MIGRATE_LOCK,))
        except pw.PeeweeException:  # the connection is gone, and its lock with it
            pass


def migrate() -> tuple[int, int]:
    """Apply every pending migration, each in its own transaction; (from, to). Run by
    several processes at once, each waits for the one before and finds its work done."""
    with _one_at_a_time():
        return _migrate()


def _migrate() -> tuple[int, int]:
    before = schema_version()
    if before > migrations.LATEST:
        raise DatabaseError(
            _(
                "the database schema is at version {version}, newer than this program (version {latest}): "
                "upgrade clinicast"
            ).format(version=before, latest=migrations.LATEST),
            DatabaseProblem.NEWER,
        )
    if not before:
        lost = unreachable_schema()  # never a second, empty clinicast beside the real one
        if lost is not None:
            raise lost
    runner = _runner()
    if before and not runner.History.table_exists():
        # made by a version that recorded only meta.schema_version: its steps are applied
        done = [n for n in migrations.names() if migrations.number(n) <= before]
        runner.fake(done[-1])
    runner.up()
    Meta.insert(key="schema_version", value=str(migrations.LATEST)).on_conflict(
        conflict_target=[Meta.key], update={Meta.value: str(migrations.LATEST)}
    ).execute()
    return before, migrations.LATEST


_DEFAULT_PATH = '"$user", public'  # PostgreSQL's own search_path: the URL or the role set none


def unreachable_schema() -> DatabaseError | None:
    """Why a PostgreSQL database that shows no clinicast table is not one `init` should
    make (None when it is, and on SQLite): the schema holding clinicast's tables is on the
    search_path but this role may not use it (the README's GRANT USAGE was not run for
    it); the URL sets no search_path, or one naming a schema that does not exist, while
    clinicast's tables are in another schema of this database (init would make a second,
    empty clinicast); no schema of the search_path exists or may be used."""
    if not is_postgres():
        return None
    try:
        return _unreachable_schema()
    except pw.PeeweeException as e:
        return explain(e)


def _unreachable_schema() -> DatabaseError | None:
    role, path_text = database.execute_sql("SELECT current_user, current_setting('search_path')").fetchone()
    path = []
    for part in path_text.split(","):
        name = part.strip()
        if name.startswith('"') and name.endswith('"'):
            name = name[1:-1].replace('""', '"')
        path.append(role if name == "$user" else name)
    rows = database.execute_sql(
        "SELECT n.nspname, has_schema_privilege(n.oid, 'USAGE'), "
        "EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = %s AND c.relkind = 'r') "
        "FROM pg_namespace n",
        (migrations.HISTORY_TABLE,),
    ).fetchall()
    usable = {name: usage for name, usage, _held in rows}
    holding = sorted(name for name, _usage, held in rows if held)
    on_path = [name for name in path if name in usable]
    for name in on_path:
        if name in holding and not usable[name]:
            return DatabaseError(
                _(
                    "the role {role} may not use the schema {schema}, which holds clinicast's tables: its owner runs "
                    "GRANT USAGE ON SCHEMA {schema} TO {role} (then the README's other GRANTs for PostgreSQL)"
                ).format(role=role, schema=name),
                DatabaseProblem.NOT_WRITABLE,
            )
    elsewhere = [name for name in holding if name not in path]
    named = path_text.strip() != _DEFAULT_PATH and any(usable.get(name) for name in on_path)
    if elsewhere and not named:  # an own schema named on purpose is a clinicast of its own
        schema = elsewhere[0]
        missing = [name for name in path if name not in usable and name != role]
        fix = _(
            "clinicast's tables are in the schema {schema}, which [database] url does not reach: add "
            "`?options=-csearch_path%3D{schema}` to it (or `ALTER ROLE {role} SET search_path = {schema}`)"
        ).format(schema=schema, role=role)
        if missing and path_text.strip() != _DEFAULT_PATH:
            return DatabaseError(
                _("the schema {missing} does not exist; {fix}").format(missing=missing[0], fix=fix),
                DatabaseProblem.UNREACHABLE,
            )
        return DatabaseError(fix, DatabaseProblem.UNREACHABLE)
    if not any(usable.get(name) for name in on_path):
        closed = [name for name in on_path if not usable[name]]
        if closed:
            return DatabaseError(
                _(
                    "the role {role} may not use the schema {schema}: its owner runs "
                    "GRANT USAGE ON SCHEMA {schema} TO {role}"
                ).format(role=role, schema=closed[0]),
                DatabaseProblem.NOT_WRITABLE,
            )
        wanted = next((name for name in path if name != role), role)
        return DatabaseError(
            _(
                "the schema {schema} does not exist: the database's administrator runs CREATE SCHEMA {schema} "
                "AUTHORIZATION <the service account's role> (the README's SQL for PostgreSQL), or fix the "
                "search_path in [database] url"
            ).format(schema=wanted),
            DatabaseProblem.UNREACHABLE,
        )
    return None


def explain(exc: BaseException) -> DatabaseError:
    """The bound database's driver error as a DatabaseError of the right kind (core.dberrors)."""
    obj = database.obj
    if obj is None:  # failed before anything was bound (an OSError on the way): its own words
        return dberrors.explain(exc, "", _GROUP[0])
    name = obj.database if isinstance(obj, pw.SqliteDatabase) else ""
    if name.startswith("file:"):  # bind_to_look's URI
        name = unquote(name[len("file:") :].partition("?")[0])
    if isinstance(obj, pw.SqliteDatabase):
        url = f"sqlite:///{name.lstrip('/')}"
    else:  # who, which database and schema (no password, no host): for the fix words
        params = getattr(obj, "connect_params", None) or {}
        user = params.get("user", "")
        url = f"postgresql://{quote(user, safe='')}{'@' if user else ''}/{quote(obj.database or '', safe='')}"
        if params.get("options"):
            url += "?options=" + quote(params["options"], safe="")
    return dberrors.explain(exc, url, _GROUP[0])


_GROUP = [""]  # the bound database's [database] group, for explain()


def is_postgres() -> bool:
    return isinstance(database.obj, pw.PostgresqlDatabase)


def write_transaction():
    """A transaction that takes the write lock up front (SQLite BEGIN IMMEDIATE), so a
    read-then-write cannot fail half way with a busy snapshot."""
    if isinstance(database.obj, pw.SqliteDatabase):
        return database.atomic("IMMEDIATE")
    return database.atomic()


def joined_transaction():
    """The caller's transaction when one is open, else a new write transaction: for work
    that is one part of a larger unit (a send's result written with the next hand-over).
    No savepoint: on PostgreSQL each costs two round trips (SAVEPOINT, RELEASE), and the
    caller's commit or rollback is this work's anyway (nothing between them catches)."""
    if database.in_transaction():
        return contextlib.nullcontext()
    return write_transaction()


def sql_uuid() -> pw.SQL:
    """A random UUID (version 4, RFC 9562) generated by the database, for set-based
    inserts of deliveries: an idempotency key a strict gateway accepts. SQLite has no
    such function: random hex with the version nibble 4 and the variant nibble 8-b."""
    if is_postgres():
        return pw.SQL("gen_random_uuid()::text")
    return pw.SQL(
        "lower(hex(randomblob(4))||'-'||hex(randomblob(2))||'-4'||substr(hex(randomblob(2)),2)||'-'"
        "||substr('89ab',1+(abs(random())%4),1)||substr(hex(randomblob(2)),2)||'-'||hex(randomblob(6)))"
    )
