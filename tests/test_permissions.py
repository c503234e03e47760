"""Who may do what (SPEC §6), checked where the rule lives: the core.

Every core function that reads or changes patient data is called here by a staff member
who lacks the permission it needs, and must be refused with nothing written. A scan of
core/ finds every function that checks a permission, and the table below must reach each
one: a new guarded action without its refusal test fails `test_every_guarded_function_is_covered`.
The same refusals through the command line (exit 1, one line) and the TUI are below.
"""

from __future__ import annotations

import ast
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import LOGIN, write_config
from helpers import add_patients
from test_campaigns import TPL

from cli import cli
from core import audit, campaigns, conditions, exports, recipients, ssh, testsend, views
from core.audit import chain
from core.audit import read as audit_read
from core.context import Ctx, for_current_user
from core.enums import Permission
from core.errors import ClinicastError, PermissionDenied
from core.optouts import history, ledger
from core.patients import lookup, upsert
from core.patients import view as patient_view

CORE = Path(__file__).resolve().parent.parent / "core"


def guarded_functions() -> set[str]:
    """module:function for every function in core/ that calls `<ctx>.require(...)`."""
    found = set()
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "require":
                    mod = ".".join(path.relative_to(CORE.parent).with_suffix("").parts)
                    found.add(f"{mod}:{node.name}")
                    break
    return found


class World:
    """A database with patients, an invitation started (deliveries waiting), a broadcast
    with recipients, an opt-out — everything a refused action could touch."""

    def __init__(self, tmp_path: Path, db_url: str):
        from core import db as dbmod
        from core.config import load

        self.path = write_config(tmp_path, db_url)
        self.config = load(self.path, env={})
        self.db_url = db_url
        dbmod.bind(db_url)
        dbmod.migrate()
        admin = for_current_user(self.config)
        self.admin = admin
        add_patients(20)
        self.csv = tmp_path / "ids.csv"
        self.csv.write_text("emr_id\n1000\n1001\n", encoding="utf-8")
        self.patients_csv = tmp_path / "patients.csv"
        self.patients_csv.write_text("emr_id,first_name,last_name\n2000,Ada,Roy\n", encoding="utf-8")
        inv = campaigns.create(admin, "invitation", "Rejoignez l'app")
        recipients.assign_ids(admin, inv.id, [str(i) for i in range(1000, 1010)])
        recipients.start(admin, inv.id)
        self.invitation = inv.id
        today = admin.today()
        bc = campaigns.create(
            admin, "broadcast", "Vaccins", starts_on=today, ends_on=today + timedelta(days=7), templates=TPL
        )
        recipients.assign_ids(admin, bc.id, ["1010", "1011"])
        self.broadcast = bc.id
        ledger.record(admin, "1015", "email", "par téléphone")

    def as_(self, *permissions: str) -> Ctx:
        user = replace(self.admin.user, permissions=frozenset(permissions))
        return Ctx(self.config, user, self.admin.clock)

    def dump(self) -> str:
        """Every row of every table, to show that a refusal wrote nothing."""
        from core.models import database

        database.close()
        con = sqlite3.connect("/" + self.db_url.removeprefix("sqlite:///"))
        try:
            return "\n".join(con.iterdump())
        finally:
            con.close()


@pytest.fixture
def world(tmp_path, sqlite_url):
    """SQLite only: the check comes before any query, so the database makes no difference."""
    return World(tmp_path, sqlite_url)


# (what the staff member does, the guarded core functions it reaches)
CAMPAIGNS_ACTIONS = {
    "create a campaign": (lambda w, c: campaigns.create(c, "invitation", "x"), ["core.campaigns.actions:create"]),
    "edit a campaign": (lambda w, c: campaigns.edit(c, w.invitation, name="y"), ["core.campaigns.actions:edit"]),
    "save templates": (
        lambda w, c: campaigns.save_templates(c, w.broadcast, campaigns.get_templates(w.admin, w.broadcast)),
        ["core.campaigns.actions:edit"],
    ),
    "archive a campaign": (lambda w, c: campaigns.archive(c, w.invitation), ["core.campaigns.actions:archive"]),
    "list campaigns": (lambda w, c: campaigns.summaries(c), ["core.campaigns.reads:summaries"]),
    "a campaign's summary": (lambda w, c: campaigns.summary(c, w.invitation), ["core.campaigns.reads:summary"]),
    "a campaign's funnel": (lambda w, c: campaigns.funnel(c, w.invitation), ["core.campaigns.reads:funnel"]),
    "who started a campaign": (lambda w, c: campaigns.history(c, w.invitation), ["core.campaigns.trail:history"]),
    "read templates": (lambda w, c: campaigns.get_templates(c, w.invitation), ["core.campaigns.reads:get_templates"]),
    "count by conditions": (
        lambda w, c: conditions.count(c, [conditions.parse("age >= 18")]),
        ["core.conditions.sql:count"],
    ),
    "preview an assign by conditions": (
        lambda w, c: recipients.preview_conditions(c, w.broadcast, [conditions.parse("age >= 18")]),
        ["core.recipients.assign:preview_conditions"],
    ),
    "check a campaign takes patients": (
        lambda w, c: recipients.check_assignable(c, w.broadcast),
        ["core.recipients.assign:check_assignable"],
    ),
    "assign one patient": (
        lambda w, c: recipients.assign_patient(c, w.broadcast, "1012"),
        ["core.recipients.assign:_assign"],
    ),
    "assign by conditions": (
        lambda w, c: recipients.assign_conditions(c, w.broadcast, [conditions.parse("language = fr")]),
        ["core.recipients.assign:_assign", "core.recipients.assign:assign_conditions"],
    ),
    "the values no patient has": (
        lambda w, c: conditions.unknown_values(c, [conditions.parse("practitioner != Dr Gagnin")]),
        ["core.conditions.values:unknown_values"],
    ),
    "a field's values": (
        lambda w, c: conditions.existing(c, "practitioner"),
        ["core.conditions.values:existing"],
    ),
    "assign a list": (lambda w, c: recipients.assign_ids(c, w.broadcast, ["1013"]), ["core.recipients.assign:_assign"]),
    "read an id list": (lambda w, c: recipients.read_id_list(c, w.csv), ["core.recipients.idlist:read_id_list"]),
    "read a pasted list": (
        lambda w, c: recipients.read_pasted(c, "1000\n1001\n"),
        ["core.recipients.idlist:read_pasted"],
    ),
    "assign from a CSV": (
        lambda w, c: recipients.assign_csv(c, w.broadcast, w.csv),
        ["core.recipients.idlist:read_id_list"],
    ),
    "recipient counts": (lambda w, c: recipients.counts(c, w.invitation), ["core.recipients.reads:counts"]),
    "a page of recipients": (lambda w, c: recipients.page(c, w.invitation), ["core.recipients.reads:page"]),
    "what a start would do": (lambda w, c: recipients.start_plan(c, w.broadcast), ["core.recipients.start:start_plan"]),
    "start": (lambda w, c: recipients.start(c, w.broadcast), ["core.recipients.start:start"]),
    "what a stop would do": (lambda w, c: recipients.stop_plan(c, w.invitation), ["core.recipients.stop:stop_plan"]),
    "stop": (lambda w, c: recipients.stop(c, w.invitation), ["core.recipients.stop:stop"]),
    "what a removal would do": (
        lambda w, c: recipients.removal_effect(c, w.invitation, "1000"),
        ["core.recipients.remove:removal_effect"],
    ),
    "remove": (lambda w, c: recipients.remove(c, w.invitation, "1000"), ["core.recipients.remove:remove"]),
    "what a re-invite would do": (
        lambda w, c: recipients.reinvite_plan(c, w.invitation),
        ["core.recipients.reinvite:reinvite_plan"],
    ),
    "re-invite": (lambda w, c: recipients.reinvite(c, w.invitation), ["core.recipients.reinvite:reinvite"]),
    "search patients": (lambda w, c: lookup.search(c, "Tremblay"), ["core.patients.lookup:search"]),
    "a patient's page": (lambda w, c: patient_view.show(c, "1000"), ["core.patients.view:show"]),
    "a patient's opt-outs in force": (
        lambda w, c: history.active(c, "1015"),
        ["core.optouts.history:active"],
    ),
    "record an opt-out": (
        lambda w, c: ledger.record(c, "1001", "email", "au comptoir"),
        ["core.optouts.ledger:record"],
    ),
    "export the ledger": (
        lambda w, c: exports.recipients_csv(c, w.invitation),
        ["core.exports:recipients_csv"],
    ),
    "export the ledger as JSON": (
        lambda w, c: exports.recipients_json(c, w.invitation),
        ["core.exports:recipients_json"],
    ),
    "the ledger's command over SSH": (
        lambda w, c: ssh.ledger_over_ssh(c, w.invitation),
        ["core.ssh:ledger_over_ssh"],
    ),
    "send a test": (
        lambda w, c: testsend.send_test(c, w.invitation, "1000", to="me@example.org"),
        ["core.testsend:send_test"],
    ),
    "the test's subject mark": (
        lambda w, c: testsend.subject_prefix(c, w.invitation, "1000"),
        ["core.testsend:subject_prefix"],
    ),
    "a recipient in full": (
        lambda w, c: recipients.detail(c, w.invitation, 1),
        ["core.recipients.detail:detail"],
    ),
    "who would get another language": (
        lambda w, c: campaigns.language_gaps(c, w.invitation),
        ["core.campaigns.languages:language_gaps"],
    ),
    "which versions a template file left out": (
        lambda w, c: campaigns.kept_versions(c, w.invitation, {"fr": {}}, created=False),
        ["core.campaigns.languages:kept_versions"],
    ),
    "preview a template": (
        lambda w, c: views.template_preview(c, w.invitation, {}, "fr"),
        ["core.views:template_preview"],
    ),
    "search patients from the audit screen": (
        lambda w, c: audit_read.search_patients(c, "Tremblay"),
        ["core.audit.read:search_patients"],
    ),
}

ADMIN_ACTIONS = {
    "import patients": (lambda w, c: upsert.import_csv(c, w.patients_csv), ["core.patients.upsert:import_csv"]),
    "undo an opt-out": (lambda w, c: ledger.clear(c, "1015", "email", "erreur"), ["core.optouts.ledger:clear"]),
    "read the audit trail": (lambda w, c: audit_read.read(c), ["core.audit.read:read"]),
    "verify the audit trail": (lambda w, c: chain.check(c), ["core.audit.chain:check"]),
}

# guarded functions that take no staff member's Ctx: tested on their own below
NOT_A_CTX = {"core.context:for_service_or_admin"}


def test_every_guarded_function_is_covered():
    covered = {f for _, fs in (*CAMPAIGNS_ACTIONS.values(), *ADMIN_ACTIONS.values()) for f in fs} | NOT_A_CTX
    missing = guarded_functions() - covered
    assert not missing, f"guarded core functions without a refusal test in {__file__}: {sorted(missing)}"
    assert covered <= guarded_functions(), f"stale names in the table: {sorted(covered - guarded_functions())}"


@pytest.mark.parametrize("action", sorted(CAMPAIGNS_ACTIONS))
def test_without_campaigns_refused_and_nothing_changes(world, action):
    call, _ = CAMPAIGNS_ACTIONS[action]
    before = world.dump()
    with pytest.raises(PermissionDenied, match="'campaigns' permission"):
        call(world, world.as_())
    assert world.dump() == before


@pytest.mark.parametrize("action", sorted(ADMIN_ACTIONS))
def test_without_admin_refused_and_nothing_changes(world, action):
    call, _ = ADMIN_ACTIONS[action]
    before = world.dump()
    with pytest.raises(PermissionDenied, match="'admin' permission"):
        call(world, world.as_(Permission.CAMPAIGNS))
    assert world.dump() == before


@pytest.mark.parametrize("action", sorted(ADMIN_ACTIONS))
def test_admin_actions_pass_with_admin(world, action):
    """The other side of the refusals: the table's calls are real calls that work when allowed."""
    call, _ = ADMIN_ACTIONS[action]
    call(world, world.as_(Permission.ADMIN))


def test_campaigns_actions_pass_the_check_with_campaigns(world):
    """With the permission, each call gets past the check (a rule of the action itself,
    like "still sending", may refuse it after: that is not a permission refusal)."""
    for action in sorted(CAMPAIGNS_ACTIONS):
        try:
            CAMPAIGNS_ACTIONS[action][0](world, world.as_(Permission.CAMPAIGNS))
        except PermissionDenied:
            raise
        except ClinicastError:
            pass


def test_audit_of_a_refusal_is_not_a_change(world):
    """A refused action leaves no audit row claiming it happened."""
    from core.models import AuditLog

    n = AuditLog.select().count()
    with pytest.raises(PermissionDenied):
        recipients.remove(world.as_(), world.invitation, "1000")
    assert AuditLog.select().count() == n
    assert audit.record  # the audit module is the one writing rows


# --- the command line: exit 1, one line, nothing changed ---------------------------------

CLI_CAMPAIGNS = [
    ["campaigns", "list"],
    ["campaigns", "show", "{inv}"],
    ["campaigns", "create", "--kind", "invitation", "--name", "x"],
    ["campaigns", "edit", "{inv}", "--name", "y"],
    ["campaigns", "archive", "{inv}"],
    ["campaigns", "test", "{inv}", "--patient", "1000", "--to", "me@example.org"],
    ["campaigns", "reinvite", "{inv}", "--dry-run"],
    ["campaigns", "start", "{bc}"],
    ["campaigns", "stop", "{inv}"],
    ["campaigns", "reinvite", "{inv}"],
    ["recipients", "add", "{bc}", "--patient", "1013"],
    ["recipients", "add", "{bc}", "--where", "language = fr"],
    ["recipients", "add", "{bc}", "--csv", "{csv}"],
    ["recipients", "remove", "{inv}", "1000"],
    ["recipients", "list", "{inv}"],
    ["recipients", "list", "{inv}", "--csv"],
    ["recipients", "list", "{inv}", "--csv", "--output", "{out}"],
    ["patients", "show", "1000"],
    ["patients", "opt-out", "1001", "--channel", "email", "--note", "x"],
]
CLI_ADMIN = [
    ["patients", "import", "{patients}"],
    ["patients", "opt-in", "1015", "--channel", "email", "--note", "x"],
    ["audit"],
    ["audit", "verify"],
]


def _cli(world, tmp_path, permissions, args):
    perms = ", ".join(f'"{p}"' for p in permissions)
    # in English: the messages below are read in English (the config's clinic speaks French)
    staff = write_config(
        tmp_path, world.db_url, users=f'[users.{LOGIN}]\nname = "S"\nlanguage = "en"\npermissions = [{perms}]\n'
    )
    words = [
        a.format(
            inv=world.invitation, bc=world.broadcast, csv=world.csv, patients=world.patients_csv, out=tmp_path / "l.csv"
        )
        for a in args
    ]
    return CliRunner().invoke(cli, [*words, "--config", str(staff)], obj={}, catch_exceptions=False)


@pytest.mark.parametrize("args", CLI_CAMPAIGNS, ids=" ".join)
def test_cli_without_campaigns(world, tmp_path, args):
    before = world.dump()
    res = _cli(world, tmp_path, [], args)
    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "'campaigns' permission" in lines[0], res.stderr
    assert "Traceback" not in res.output
    assert world.dump() == before
    assert not (tmp_path / "l.csv").exists()  # no export written


@pytest.mark.parametrize("args", CLI_ADMIN, ids=" ".join)
def test_cli_without_admin(world, tmp_path, args):
    before = world.dump()
    res = _cli(world, tmp_path, ["campaigns"], args)
    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "'admin' permission" in lines[0], res.stderr
    assert world.dump() == before


# --- who is a user at all: the login must be listed (mutmut's survivors in for_current_user) ---


@pytest.mark.parametrize(
    "login, euid, said",
    [
        ("root", 0, "root is not a clinicast user: every change is audited under a person's login"),
        ("stranger", 0, "user “stranger” is not a clinicast user: an administrator must add [users.stranger]"),
        ("root", 4242, "user “root” is not a clinicast user: an administrator must add [users.root]"),
    ],
)
def test_an_unlisted_login_is_refused_saying_why(world, tmp_path, monkeypatch, login, euid, said):
    """Root (uid 0, named as uid 0 is) is told who administers instead; anyone else unlisted,
    even a login called root that is not uid 0, is told to be added; nobody gets a Ctx."""
    from core import context
    from core.config import load
    from core.errors import UnknownUser

    only = tmp_path / "only"
    only.mkdir()
    config = load(
        write_config(only, world.db_url, users='[users.mlaval]\nname = "M"\npermissions = ["admin"]\n'), env={}
    )

    monkeypatch.setattr(context, "login_name", lambda: login)
    monkeypatch.setattr(context.os, "geteuid", lambda: euid)
    monkeypatch.setattr(context, "is_service_account", lambda config: False)  # the database's owner: not them
    with pytest.raises(UnknownUser) as refused:
        for_current_user(config)
    assert str(refused.value).startswith(said), str(refused.value)
