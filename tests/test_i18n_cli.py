"""The command line in French and in English, complete and alike (issue #17, SPEC §12).

Run through the real entry point (`cli.main`, which picks the staff member's language from
the config before click parses, and reads SSH_ORIGINAL_COMMAND), in-process:

- `--help` of every command, in French and in English: a French user reads no English
  outside data, an English user no French;
- every error path (unknown campaign, bad dates, bad CSV, missing permission, root refused,
  unknown command over SSH, bad config key, bad option value...) in both languages, and in
  the pseudo-locale (tests/pseudo.py: every translation wrapped in ⟦…⟧), where any word
  outside the wrappers that is not data fails — so an unwrapped string cannot land;
- the confirmations and tables of the commands that change or show things;
- `--json` byte-identical between French and English, for every command that takes it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import LOGIN, write_config
from pseudo import leak_report, leaks, speaking_pseudo

from cli import main
from cli.base import COMMAND_MODULES, cli

# --- the world ---------------------------------------------------------------------------

CLINIC = "Clinique du Parc"
STAFF = "Marie Laval"
INVITATION = "Rejoignez l'application"
BROADCAST = "Vaccin antigrippal"
HEADER = (
    "emr_id,first_name,last_name,date_of_birth,language,email,app_id,"
    "marketing_consent,push_enabled,do_not_contact,practitioner\n"
)
FIRST = ("Gabrielle", "Hélène", "Sean", "Ousmane", "Mireille", "Jean-Philippe")
LAST = ("Tremblay", "Gagnon", "Nadeau", "Diallo", "Côté", "Bouchard")


def patients_csv(folder: Path) -> Path:
    lines = [HEADER]
    for i in range(12):
        app = f"a-{i}" if i % 2 else ""
        lines.append(
            f"{1000 + i},{FIRST[i % 6]},{LAST[i % 6]},1980-01-{1 + i:02d},{'fr' if i % 3 else 'en'},"
            f"p{i}@example.org,{app},{'oui' if i % 4 else 'non'},yes,no,Dr Roy\n"
        )
    f = folder / "patients.csv"
    f.write_text("".join(lines), encoding="utf-8")
    return f


def users_table(language: str, permissions=("campaigns", "admin")) -> str:
    return (
        f'[users.{LOGIN}]\nname = "{STAFF}"\npermissions = {json.dumps(list(permissions))}\nlanguage = "{language}"\n'
    )


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run(args, config: Path | str | None = None, *, env: dict | None = None, input: str | None = None) -> Ran:
    """`clinicast --config CONFIG ARGS` through cli.main, as a shell runs it."""
    argv = ["--config", str(config), *args] if config is not None else list(args)
    runner = CliRunner()
    code = 0
    with runner.isolation(input=input, env=env) as (out, err, _both):
        try:
            main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return Ran(code, out.getvalue().decode(), err.getvalue().decode())


@dataclass
class World:
    folder: Path
    fr: Path  # the same database, read by a staff member in French...
    en: Path  # ...and in English
    limited: Path  # campaigns only, in French
    invitation: int
    broadcast: int
    patients: Path

    def data(self) -> list[str]:
        """What the world's data shows (names, ids, paths): not words to translate."""
        return [CLINIC, STAFF, INVITATION, BROADCAST, LOGIN, str(self.folder), *FIRST, *LAST, "Dr Roy", "example.org",
                "Vaccin", "Flu shot"]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    from core import i18n

    folder = tmp_path_factory.mktemp("i18n-cli")
    url = f"sqlite:///{(folder / 'clinicast.db').as_posix().lstrip('/')}"

    def config(name: str, users: str) -> Path:
        (folder / name).mkdir()
        return write_config(folder / name, url, users=users)

    fr, en = config("fr", users_table("fr")), config("en", users_table("en"))
    limited = config("limited", users_table("fr", ["campaigns"]))
    template = folder / "vaccin.toml"
    template.write_text(
        '[fr]\ntitle = "Vaccin"\nbody = "Cliniques de vaccination"\npush = "Bonjour"\n'
        '[en]\ntitle = "Flu shot"\nbody = "Flu shot clinics"\npush = "Hello"\n',
        encoding="utf-8",
    )
    try:
        assert run(["init"], en).code == 0
        assert run(["patients", "import", str(patients_csv(folder))], en).code == 0
        inv = json.loads(run(["campaigns", "create", "--kind", "invitation", "--name", INVITATION, "--json"], en).out)
        b = run(
            ["campaigns", "create", "--kind", "broadcast", "--name", BROADCAST, "--json"]
            + ["--starts", "2026-01-05", "--ends", "2099-12-31", "--template", str(template)],
            en,
        )
        bro = json.loads(b.out)
        assert run(["recipients", "add", str(inv["id"]), "--where", "connected_system != patient_app"], en).code == 0
        assert run(["recipients", "add", str(bro["id"]), "--where", "connected_system = patient_app"], en).code == 0
        assert run(["campaigns", "start", str(inv["id"])], en).code == 0
    finally:
        i18n.use("en")
    return World(folder, fr, en, limited, inv["id"], bro["id"], folder / "patients.csv")


# --- what a French or an English reader must not meet -----------------------------------

ENGLISH = frozenset(
    "the and with from this that your not for usage commands show exit error missing invalid "
    "such sent campaign recipients added skipped found already started window kind status".split()
)
FRENCH = frozenset("le la les des du une aucun aucune pour avec campagne destinataires envoyé ajouté".split())
ACCENTS = re.compile(r"[éèêàâçîôûù«»]")


def _names() -> tuple[frozenset[str], frozenset[str]]:
    """The command and option names, metavars' choices: clinicast's English words that are
    typed, never translated (SPEC §12: option names stay)."""
    for module in set(COMMAND_MODULES.values()):
        __import__(module)
    commands, options = set(), set()

    def walk(group: click.Command) -> None:
        for p in group.params:
            for opt in [*getattr(p, "opts", []), *getattr(p, "secondary_opts", [])]:
                options.update(w for w in re.split(r"[-_]+", opt) if w)
            if isinstance(p.type, click.Choice):
                options.update(str(c) for c in p.type.choices)
        if isinstance(group, click.Group):
            for name, sub in group.commands.items():
                commands.update(w for w in name.split("-") if w)
                walk(sub)

    walk(cli)
    return frozenset(commands), frozenset(options)


def _bare(text: str, data) -> str:
    """`text` without data, option names, command lines and key paths: the words read."""
    commands, options = _names()
    for d in sorted(data, key=len, reverse=True):
        text = text.replace(d, " ")
    text = re.sub(r"--?[\w-]+|\[[^\]]*\]|\b\w+\.\w+(?:\.\w+)*\b|'[^']*'|\S*/\S*|\S+@\S+", " ", text)
    text = re.sub(r"\bclinicast( [a-z-]+)*", " ", text)  # a command line shown: `clinicast campaigns list`
    return " ".join(w for w in re.findall(r"[^\W\d_]+", text) if w not in commands and w.lower() not in options)


def english_in(text: str, data) -> list[str]:
    return sorted({w for w in _bare(text, data).split() if w.lower() in ENGLISH})


def french_in(text: str, data) -> list[str]:
    bare = _bare(text, data)
    return sorted({w for w in bare.split() if w.lower() in FRENCH or ACCENTS.search(w)})


# --- every command's --help ---------------------------------------------------------------


def every_command() -> list[tuple[str, ...]]:
    for module in set(COMMAND_MODULES.values()):
        __import__(module)
    out: list[tuple[str, ...]] = [()]

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        for name, sub in sorted(group.commands.items()):
            out.append((*path, name))
            if isinstance(sub, click.Group):
                walk(sub, (*path, name))

    walk(cli, ())
    return out


COMMANDS = every_command()


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "clinicast")
def test_help_in_french_and_in_english(world, path):
    fr, en = run([*path, "--help"], world.fr), run([*path, "--help"], world.en)
    assert fr.code == en.code == 0, fr.text + en.text
    assert fr.out.startswith("Utilisation") and en.out.startswith("Usage:")
    assert not english_in(fr.out, world.data()), fr.out
    assert not french_in(en.out, world.data()), en.out
    # the command's own help is said in each language (not only click's words)
    assert fr.out.split("\n")[2] != en.out.split("\n")[2]


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "clinicast")
def test_help_in_the_pseudo_locale(world, pseudo_localedir, path):
    with speaking_pseudo(pseudo_localedir):
        r = run([*path, "--help"], world.fr)
    assert r.code == 0, r.text
    allowed = _allowed(world)
    assert not leaks(r.text, allowed), leak_report(r.text, allowed)


def _allowed(world) -> list[str]:
    """Data, and the words clinicast never translates: command and option names, the choices
    typed after them, the config file's sections and keys (SPEC §12)."""
    from core.conditions.catalogue import FIELDS
    from core.config.schema import SCHEMA
    from core.enums import OptOutChannel
    from core.patients.columns import ALIASES
    from core.recipients.idlist import ID_COLUMNS

    commands, options = _names()
    keys = [*SCHEMA, *(k for keys in SCHEMA.values() for k in keys), "users", "keys"]
    keys += [f"{section}.{k}" for section, ks in SCHEMA.items() for k in ks]  # as errors name them
    codes = [c.value for c in OptOutChannel] + _codes()
    # what staff type or their files hold, said back as written: a condition's fields, the
    # column names an export may use, the test's bad files (names and contents)
    typed = [*FIELDS, *ALIASES["emr_id"], *ID_COLUMNS]
    files = [text for name, text in BAD_FILES.items()] + [name.rsplit(".", 1)[0] for name in BAD_FILES]
    return [
        *world.data(), *commands, *options, *keys, *codes, *typed, *files,
        str(world.fr), "help", "toml", "db", "csv", "json", "no-users", "loop", "absent", "if",
    ]  # fmt: skip


# --- every error path -------------------------------------------------------------------


BAD_FILES = {
    "bad.csv": "colour,shape\nA,B\n",
    "binary.csv": "\x00\x01\x02PK\x03\x04",
    "ids-bad.csv": "",
    "template.toml": 'subject = "x\n',
    "template-problems.toml": '[fr]\nsubject = " "\nbody = "Bonjour"\n',  # blank; no unsubscribe link
    "template-jinja.toml": '[fr]\nsubject = "{% if x %}a"\nbody = "{{ 1 // 0 }} {{ unsubscribe.url }}"\n',
    "patients-bad.csv": "first_name,last_name\nA,B\n",
    "patients-huge.csv": "emr_id,first_name\n1," + "A" * 140_000 + "\n",  # past the csv module's field limit
}


def _bad_files(folder: Path) -> dict[str, Path]:
    out = {}
    for name, text in BAD_FILES.items():
        p = folder / name
        p.write_text(text, encoding="utf-8")
        out[name] = p
    return out


def _loop(folder: Path) -> Path:
    """A symbolic link that leads back to itself (the system's "too many levels of symbolic
    links", in the staff member's words)."""
    loop = folder / "loop.csv"
    if not loop.is_symlink():
        loop.symlink_to(loop)
    return loop


def error_paths(world) -> dict[str, tuple[list[str], Path | None, dict | None]]:
    """(args, config (None: the args name it), environment) of each error a person can meet."""
    bad = _bad_files(world.folder)
    inv, bro = str(world.invitation), str(world.broadcast)
    fr = world.fr
    configs = world.folder / "c"
    configs.mkdir(exist_ok=True)

    def broken(name: str, text: str) -> Path:
        p = configs / f"c{len(list(configs.glob('c*.toml')))}.toml"  # a name with no words in it
        p.write_text(fr.read_text(encoding="utf-8").replace("[database]", text + "\n[database]", 1), encoding="utf-8")
        return p

    ssh = {"SSH_ORIGINAL_COMMAND": ""}
    paths: dict[str, tuple[list[str], Path | None, dict | None]] = {
        "unknown campaign id": (["campaigns", "show", "99"], fr, None),
        "campaign id not a number": (["campaigns", "show", "cinq"], fr, None),
        "bad date": (["campaigns", "create", "--kind", "broadcast", "--name", "X", "--starts", "2026-13-01"], fr, None),
        "window backwards": (
            ["campaigns", "create", "--kind", "broadcast", "--name", "X"]
            + ["--starts", "2026-12-31", "--ends", "2026-01-01"],
            fr,
            None,
        ),
        "bad option value": (["campaigns", "create", "--kind", "sms", "--name", "X"], fr, None),
        "missing option": (["campaigns", "create", "--name", "X"], fr, None),
        "missing argument": (["campaigns", "show"], fr, None),
        "no such option": (["campaigns", "list", "--tout"], fr, None),
        "unknown subcommand": (["campaigns", "lst"], fr, None),
        "unknown command": (["campagnes"], fr, None),
        "bad template file": (["campaigns", "edit", inv, "--template", str(bad["template.toml"])], fr, None),
        "template problems": (["campaigns", "edit", inv, "--template", str(bad["template-problems.toml"])], fr, None),
        "template mistakes": (["campaigns", "edit", inv, "--template", str(bad["template-jinja.toml"])], fr, None),
        "missing template file": (
            ["campaigns", "edit", inv, "--template", str(world.folder / "absent.toml")],
            fr,
            None,
        ),
        "bad CSV of ids": (["recipients", "add", inv, "--csv", str(bad["bad.csv"])], fr, None),
        "binary CSV of ids": (["recipients", "add", inv, "--csv", str(bad["binary.csv"])], fr, None),
        "empty CSV of ids": (["recipients", "add", inv, "--csv", str(bad["ids-bad.csv"])], fr, None),
        "no way to add": (["recipients", "add", inv], fr, None),
        "bad condition": (["recipients", "add", inv, "--where", "couleur = bleu"], fr, None),
        "json and csv": (["recipients", "list", inv, "--json", "--csv"], fr, None),
        "output without csv": (["recipients", "list", inv, "--output", str(world.folder / "x.csv")], fr, None),
        "remove unknown patient": (["recipients", "remove", inv, "4242"], fr, None),
        "patient file missing": (["patients", "import", str(world.folder / "absent.csv")], fr, None),
        "patient file a symlink loop": (["patients", "import", str(_loop(world.folder))], fr, None),
        "patient CSV with a huge field": (["patients", "import", str(bad["patients-huge.csv"])], fr, None),
        "export into a missing folder": (
            ["recipients", "list", inv, "--csv", "--output", str(world.folder / "absent" / "x.csv")],
            fr,
            None,
        ),
        "bad patient CSV": (["patients", "import", str(bad["patients-bad.csv"])], fr, None),
        "unknown patient": (["patients", "show", "4242"], fr, None),
        "opt-out bad channel": (["patients", "opt-out", "1000", "--channel", "fax", "--note", "x"], fr, None),
        "nothing to start": (["campaigns", "start", inv], fr, None),
        "reinvite a broadcast": (["campaigns", "reinvite", bro], fr, None),
        "test send to unknown patient": (["campaigns", "test", inv, "--patient", "4242"], fr, None),
        "audit bad date": (["audit", "--since", "hier"], fr, None),
        "missing permission (opt-in)": (
            ["patients", "opt-in", "1000", "--channel", "email", "--note", "x"],
            world.limited,
            None,
        ),  # fmt: skip
        "missing permission (audit)": (["audit"], world.limited, None),
        "unknown config key": (["campaigns", "list"], broken("key", "[clinic.extra]\n"), None),
        "bad config value": (["campaigns", "list"], broken("value", '[scheduler]\ntick_seconds = "vite"\n'), None),
        "config value out of range": (["status"], broken("range", "[scheduler]\ntick_seconds = 0\n"), None),
        "TOML syntax error": (["campaigns", "list"], broken("syntax", "[scheduler\n"), None),
        "unknown section": (["campaigns", "list"], broken("section", "[courriel]\nx = 1\n"), None),
        "ssh: unknown command": (["--config", str(fr)], None, {**ssh, "SSH_ORIGINAL_COMMAND": "sh -c id"}),
        "ssh: shell syntax": (["--config", str(fr)], None, {**ssh, "SSH_ORIGINAL_COMMAND": "campaigns list; id"}),
        "ssh: not over ssh": (["--config", str(fr)], None, {**ssh, "SSH_ORIGINAL_COMMAND": "daemon --once"}),
        "ssh: config option": (["--config", str(fr)], None, {**ssh, "SSH_ORIGINAL_COMMAND": "status --config /x"}),
        "ssh: unclosed quote": (["--config", str(fr)], None, {**ssh, "SSH_ORIGINAL_COMMAND": "campaigns show 'x"}),
        "ssh: no terminal": (["--config", str(fr)], None, ssh),
        "ssh: unknown campaign": (["--config", str(fr)], None, {**ssh, "SSH_ORIGINAL_COMMAND": "campaigns show 99"}),
    }
    if os.geteuid() == 0 and LOGIN == "root":  # root is refused, saying who administers (SPEC §13)
        no_users = configs / "no-users.toml"
        text = fr.read_text(encoding="utf-8")
        no_users.write_text(
            text[: text.index("[users.")].replace('default_language = "fr"', 'default_language = "fr"'),
            encoding="utf-8",
        )
        paths["root refused"] = (["campaigns", "list"], no_users, None)
    return paths


def english_twin(config: Path | None, args: list[str], env: dict | None, world) -> tuple:
    """The same error for the English reader: their config (same database)."""
    if config is None:
        return [a.replace(str(world.fr), str(world.en)) for a in args], None, env
    if config == world.limited:
        en = world.folder / "c" / "limited-en.toml"
        en.write_text(config.read_text(encoding="utf-8").replace('language = "fr"', 'language = "en"'))
        return args, en, env
    en = config.with_name(config.stem + "-en.toml") if config.parent.name == "c" else world.en
    if config.parent.name == "c":
        en.write_text(
            config.read_text(encoding="utf-8")
            .replace('language = "fr"', 'language = "en"')
            .replace('default_language = "fr"', 'default_language = "en"'),
            encoding="utf-8",
        )
    return args, en, env


ERRORS = [
    "unknown campaign id", "campaign id not a number", "bad date", "window backwards", "bad option value",
    "missing option", "missing argument", "no such option", "unknown subcommand", "unknown command",
    "bad template file", "template problems", "template mistakes", "missing template file", "bad CSV of ids",
    "binary CSV of ids", "empty CSV of ids", "no way to add",
    "bad condition", "json and csv", "output without csv", "remove unknown patient", "patient file missing",
    "patient file a symlink loop", "export into a missing folder", "patient CSV with a huge field",
    "bad patient CSV", "unknown patient", "opt-out bad channel", "nothing to start", "reinvite a broadcast",
    "test send to unknown patient", "audit bad date", "missing permission (opt-in)", "missing permission (audit)",
    "unknown config key", "bad config value", "config value out of range", "TOML syntax error", "unknown section",
    "ssh: unknown command", "ssh: shell syntax", "ssh: not over ssh", "ssh: config option", "ssh: unclosed quote",
    "ssh: no terminal", "ssh: unknown campaign", "root refused",
]  # fmt: skip


def _case(world, name):
    paths = error_paths(world)
    if name not in paths:
        pytest.skip(f"{name}: not on this machine (root only)")
    return paths[name]


@pytest.mark.parametrize("name", ERRORS)
def test_error_in_french_and_in_english(world, name):
    args, config, env = _case(world, name)
    fr = run(args, config, env=env)
    en_args, en_config, en_env = english_twin(config, args, env, world)
    en = run(en_args, en_config, env=en_env)
    assert fr.code == en.code and fr.code in (1, 2), f"{name}: {fr} {en}"
    assert fr.err.startswith("clinicast: ") and en.err.startswith("clinicast: "), f"{fr.err!r} {en.err!r}"
    assert fr.err != en.err, f"{name}: the same words in both languages: {fr.err!r}"
    data = world.data()
    assert not english_in(fr.err, data), f"{name}: English in French: {english_in(fr.err, data)}\n{fr.err}"
    assert not french_in(en.err, data), f"{name}: French in English: {french_in(en.err, data)}\n{en.err}"


@pytest.mark.parametrize("name", ERRORS)
def test_error_in_the_pseudo_locale(world, pseudo_localedir, name):
    args, config, env = _case(world, name)
    with speaking_pseudo(pseudo_localedir):
        r = run(args, config, env=env)
    assert r.code in (1, 2) and r.err.startswith("clinicast: "), r
    allowed = [*_allowed(world), "sh", "id", "cinq", "sms", "tout", "lst", "campagnes", "couleur", "bleu", "fax",
               "hier", "vite", "courriel", "extra", "x", "absent"]  # fmt: skip
    if name.startswith("ssh:"):  # a command to type over SSH, given in full: its words are clinicast's
        allowed += ["ssh", "campaigns create --kind invitation --name"]
    assert not leaks(r.err, allowed), f"{name}: " + leak_report(r.err, allowed)


def test_the_pseudo_check_catches_an_unwrapped_string(world, pseudo_localedir, monkeypatch):
    """One message left out of `_()` (here the unknown-command refusal over SSH) fails the check."""
    from cli import ssh

    env = {"SSH_ORIGINAL_COMMAND": "sh -c id"}
    with speaking_pseudo(pseudo_localedir):
        wrapped = run(["--config", str(world.fr)], env=env)
        monkeypatch.setattr(ssh, "_", lambda message: message)  # as if the string escaped _()
        escaped = run(["--config", str(world.fr)], env=env)
    allowed = [*_allowed(world), "sh", "id"]
    assert not leaks(wrapped.err, allowed)
    assert {"not", "command"} <= {w.lower() for w in leaks(escaped.err, allowed)}, escaped.err


# --- confirmations and tables -------------------------------------------------------------


def _shown(world) -> list[list[str]]:
    inv = str(world.invitation)
    return [
        ["campaigns", "list"],
        ["campaigns", "show", inv],
        ["campaigns", "show", str(world.broadcast)],
        ["recipients", "list", inv],
        ["patients", "show", "1001"],
        ["status"],
        ["config", "check"],
        ["audit", "verify"],
        ["campaigns", "reinvite", inv, "--dry-run"],
        ["audit"],
    ]


SHOWN = ["campaigns list", "campaigns show 1", "campaigns show 2", "recipients list 1", "patients show 1001",
         "status", "config check", "audit verify", "campaigns reinvite 1 --dry-run", "audit"]  # fmt: skip


@pytest.mark.parametrize("case", range(len(SHOWN)), ids=SHOWN)
def test_what_commands_show_in_each_language(world, case):
    """What the commands show: French for the French reader, English for the English one,
    numbers and dates as each writes them."""
    args = _shown(world)[case]
    data = [*world.data(), "Dr"]
    fr, en = run(args, world.fr), run(args, world.en)
    assert fr.code == en.code and fr.code in (0, 1), f"{args}: {fr} {en}"
    assert fr.out != en.out, args
    assert not english_in(fr.out, data), f"{args}: {english_in(fr.out, data)}\n{fr.out}"
    assert not french_in(en.out, data), f"{args}: {french_in(en.out, data)}\n{en.out}"


@pytest.mark.parametrize("case", range(len(SHOWN)), ids=SHOWN)
def test_what_commands_show_in_the_pseudo_locale(world, pseudo_localedir, case):
    args = _shown(world)[case]
    with speaking_pseudo(pseudo_localedir):
        r = run(args, world.fr)
    assert r.code in (0, 1), r
    allowed = [*_allowed(world), "sqlite", "maildir", "log", "Dr", "America", "Toronto", "Z"]
    allowed += re.findall(r"\b[0-9a-f]{16,}\b", r.out)  # a hash (audit verify) is hex, not words
    assert not leaks(r.text, allowed), leak_report(r.text, allowed)


def _codes() -> list[str]:
    """The permission words the config file spells, shown as written there."""
    from core.enums import Permission

    return [p.value for p in Permission]


def test_a_campaign_shown_in_each_language(world):
    inv = str(world.invitation)
    shown_fr = run(["campaigns", "show", inv], world.fr).out
    assert "type\u00a0: invitation (canal courriel)" in shown_fr and "destinataires\u00a0:" in shown_fr
    assert "kind: invitation (channel email)" in run(["campaigns", "show", inv], world.en).out


CHANGES = [
    ["campaigns", "create", "--kind", "invitation", "--name", "Nouvelle"],
    ["recipients", "add", "3", "--patient", "1002"],
    ["recipients", "add", "3", "--patient", "1003"],
    ["recipients", "remove", "3", "1003"],
    ["campaigns", "start", "3"],
    ["campaigns", "stop", "3"],
    ["campaigns", "archive", "3"],
    ["campaigns", "archive", "3", "--undo"],
    ["campaigns", "edit", "3", "--name", "Nouvelle"],
    ["patients", "opt-out", "1004", "--channel", "email", "--note", "appel"],
    ["patients", "opt-in", "1004", "--channel", "email", "--note", "appel"],
    ["patients", "import", "PATIENTS"],
]


@pytest.mark.parametrize("language", ["fr", "en", "pseudo"])
def test_changes_confirmed_in_each_language(world, tmp_path, pseudo_localedir, language):
    """Each change's confirmation, on a copy of the database per language (and in the
    pseudo-locale, where every word outside ⟦…⟧ that is not data fails)."""
    import contextlib

    db = tmp_path / f"{language}.db"
    shutil.copy(world.folder / "clinicast.db", db)
    users = users_table("fr" if language == "pseudo" else language)
    config = write_config(tmp_path, f"sqlite:///{db.as_posix().lstrip('/')}", users=users)
    data = [*world.data(), "Nouvelle", "appel", "patients.csv"]
    speaking = speaking_pseudo(pseudo_localedir) if language == "pseudo" else contextlib.nullcontext()
    with speaking:
        said = [run([str(world.patients) if a == "PATIENTS" else a for a in args], config) for args in CHANGES]
    core_said = []  # what the core words (fr-core's part of #17): checked apart
    for args, r in zip(CHANGES, said, strict=True):
        assert r.code == 0, (args, r)
        text = r.text
        if args[:2] == ["recipients", "remove"]:  # ends with what it means: core.recipients' words
            text, _, core = text.partition(":")
            core_said.append(core)
        if args[:2] == ["patients", "opt-out"]:  # the ledger's own lines: core.optouts' words
            text, core = "", text
            core_said.append(core)
        if language == "fr":
            assert not english_in(text, data), f"{args}: {english_in(text, data)}\n{text}"
        elif language == "en":
            assert not french_in(text, data), f"{args}: {french_in(text, data)}\n{text}"
        else:
            allowed = [*_allowed(world), *data]
            assert not leaks(text, allowed), f"{args}: " + leak_report(text, allowed)
    if language == "fr":
        assert said[0].out.startswith("campagne n° 3 «\u00a0Nouvelle\u00a0» créée (invitation)")
        assert "12 patients" in said[-1].out
    elif language == "en":
        assert said[0].out.startswith("created campaign #3 “Nouvelle” (invitation)")
    if language == "pseudo":
        allowed = [*_allowed(world), *data]
        core_leaks = [leaks(text, allowed) for text in core_said]
        assert not any(core_leaks), f"the core's words, not through _(): {core_leaks}"


# --- --json is the same bytes in both languages -------------------------------------------


def json_commands(world) -> list[list[str]]:
    inv, bro = str(world.invitation), str(world.broadcast)
    return [
        ["campaigns", "list", "--json"],
        ["campaigns", "list", "--all", "--json"],
        ["campaigns", "show", inv, "--json"],
        ["campaigns", "show", bro, "--json"],
        ["recipients", "list", inv, "--json"],
        ["recipients", "list", bro, "--json"],
        ["patients", "show", "1001", "--json"],
        ["status", "--json"],
        ["audit", "--json"],
        ["audit", "verify", "--json"],
        ["campaigns", "reinvite", inv, "--dry-run", "--json"],
    ]


def test_every_json_command_is_listed(world):
    """A new command with --json joins the byte-for-byte comparisons below."""
    have = {" ".join(a for a in args if not a.startswith("-") and not a.isdigit()) for args in json_commands(world)}
    have |= {" ".join(args[:2]) for args in changing_json_commands(world)}
    takes_json = set()
    for path in COMMANDS:
        cmd: click.Command = cli
        for name in path:
            cmd = cmd.commands[name]  # type: ignore[attr-defined]
        if any("--json" in getattr(p, "opts", []) for p in cmd.params):
            takes_json.add(" ".join(path))
    assert takes_json <= have, sorted(takes_json - have)


@pytest.fixture
def frozen(monkeypatch):
    """Every session's clock at one moment (`status --json` says "now")."""
    from datetime import datetime

    from core import context

    moment = datetime(2026, 3, 2, 19, 2)
    real = context.for_current_user
    monkeypatch.setattr(context, "for_current_user", lambda config, clock=None: real(config, lambda: moment))
    return moment


def test_json_is_byte_identical_in_french_and_in_english(world, frozen):
    """Read on the same database by a French and an English reader (SPEC §12: --json keeps
    the spec's English keys and values, scripts depend on them)."""
    for args in json_commands(world):
        fr, en = run(args, world.fr), run(args, world.en)
        assert fr.code == en.code, args
        assert fr.out.encode() == en.out.encode(), f"{args}:\n{fr.out}\n---\n{en.out}"
        json.loads(fr.out)


def changing_json_commands(world) -> list[list[str]]:
    inv = str(world.invitation)
    return [
        ["campaigns", "create", "--kind", "broadcast", "--name", "Journée portes ouvertes"]
        + ["--starts", "2026-02-01", "--ends", "2099-02-28", "--template", str(world.folder / "vaccin.toml"), "--json"],
        ["campaigns", "edit", "3", "--name", "Portes ouvertes", "--json"],
        ["recipients", "add", "3", "--where", "language = fr", "--json"],
        ["recipients", "add", "3", "--csv", str(world.folder / "ids.csv"), "--json"],
        ["recipients", "remove", "3", "1008", "--json"],  # added from ids.csv just before
        ["campaigns", "start", "3", "--json"],
        ["campaigns", "stop", inv, "--json"],
        ["campaigns", "test", inv, "--patient", "1001", "--to", "staff@example.org", "--json"],
        ["patients", "opt-out", "1007", "--channel", "email", "--note", "au comptoir", "--json"],
        ["patients", "opt-in", "1007", "--channel", "email", "--note", "erreur", "--json"],
        ["patients", "import", str(world.patients), "--json"],
        ["campaigns", "reinvite", inv, "--json"],
    ]


def test_json_of_changes_is_byte_identical(world, frozen, tmp_path):
    """Each change made twice, on two copies of the database, in French and in English, at
    the same frozen moment: the same JSON, byte for byte."""
    (world.folder / "ids.csv").write_text("emr_id\n1008\n1009\n4242\n", encoding="utf-8")
    configs = {}
    for language in ("fr", "en"):
        db = tmp_path / f"{language}.db"
        shutil.copy(world.folder / "clinicast.db", db)
        (tmp_path / language).mkdir()
        url = f"sqlite:///{db.as_posix().lstrip('/')}"
        configs[language] = write_config(tmp_path / language, url, users=users_table(language))
    for args in changing_json_commands(world):
        fr, en = run(args, configs["fr"]), run(args, configs["en"])
        assert fr.code == en.code, f"{args}: {fr} {en}"
        assert fr.out.encode() == en.out.encode(), f"{args}:\n{fr.out}\n---\n{en.out}"
        # each change is made (a refusal prints no JSON, and would compare nothing), but
        # reinvite: nothing in this world has expired (its --dry-run JSON is compared above)
        assert fr.code == (1 if args[1] == "reinvite" else 0), f"{args}: {fr}"
        if fr.code == 0:
            json.loads(fr.out)


# --- the daemon's lines -------------------------------------------------------------------


@pytest.fixture
def loggers_back():
    """The daemon sets up the 'clinicast' loggers for its stderr: put them back after."""
    import logging

    saved = [
        (lg, lg.handlers[:], lg.level, lg.propagate) for lg in map(logging.getLogger, ("clinicast", "apscheduler"))
    ]
    yield
    for lg, handlers, level, propagate in saved:
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


@pytest.mark.skipif(os.geteuid() != 0, reason="the daemon runs as the service account: root here")
def test_daemon_lines_keep_their_fields_and_say_the_rest_in_the_configured_language(world, tmp_path, loggers_back):
    """`key=value` fields and event names stay English for the tools that read them; the
    `msg=` a person reads is in the service account's language, else the clinic's."""
    db = tmp_path / "daemon.db"
    shutil.copy(world.folder / "clinicast.db", db)
    url = f"sqlite:///{db.as_posix().lstrip('/')}"
    for language, said in (("fr", "le démon a démarré"), ("en", "the daemon started")):
        (tmp_path / language).mkdir()
        config = write_config(tmp_path / language, url, users="")
        config.write_text(
            config.read_text(encoding="utf-8").replace('default_language = "fr"', f'default_language = "{language}"')
        )
        r = run(["daemon", "--once"], config)
        assert r.code == 0, r
        start = next(line for line in r.err.splitlines() if "event=start " in line)
        assert " level=info logger=daemon event=start name=" in start
        assert f'msg="{said}' in start, start
        stopped = next(line for line in r.err.splitlines() if "event=stopped " in line)
        assert ("s'est arrêté" if language == "fr" else "the daemon stopped") in stopped
        for line in r.err.splitlines():  # every line still parses as key=value
            assert re.fullmatch(r'(\w+=("([^"\\]|\\.)*"|\S+))( \w+=("([^"\\]|\\.)*"|\S+))*', line), line


def test_click_s_own_words_in_french(world):
    """click's texts ("Usage:", "Options", "Show this message and exit.", its usage errors)
    come from the installed click into our catalogue, and a French reader gets them."""
    shown = run(["campaigns", "create", "--help"], world.fr).out
    assert shown.startswith("Utilisation\u00a0: clinicast campaigns create [OPTIONS]")
    assert "Afficher ce message et quitter." in shown and "[obligatoire]" in shown
    assert "--starts AAAA-MM-JJ" in shown and "--name NOM" in shown
    assert "Commandes" in run(["campaigns", "--help"], world.fr).out
    said = {
        ("campaigns", "list", "--tout"): "Option inconnue",
        ("campaigns", "show"): "Argument manquant 'NO_CAMPAGNE'",
        ("campaigns", "create", "--kind", "sms", "--name", "X"): "Valeur invalide",
        ("campaigns", "create", "--name", "X"): "Option manquante",
    }
    for args, words in said.items():
        r = run(list(args), world.fr)
        assert r.code == 2 and words in r.err and "(voir clinicast campaigns" in r.err, r.err
    english = run(["campaigns", "show"], world.en).err
    assert english == "clinicast: Missing argument 'CAMPAIGN_ID'. (see clinicast campaigns show --help)\n"


@pytest.mark.skipif(Path("/etc/clinicast/config.toml").exists(), reason="this host has a clinicast config")
@pytest.mark.parametrize(
    ("locale", "said"), [("fr_CA.UTF-8", "aucun fichier de configuration"), ("C.UTF-8", "no config")]
)
def test_no_config_file_is_said_in_the_host_s_language(tmp_path, monkeypatch, locale, said):
    """With no config to name a language, the host's locale chooses (LC_ALL, LC_MESSAGES, LANG)."""
    monkeypatch.chdir(tmp_path)
    env = {"LANG": locale, "LC_ALL": None, "LC_MESSAGES": None, "CLINICAST_CONFIG": None,
           "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}  # fmt: skip
    r = run(["campaigns", "list"], env=env)
    assert r.code == 2 and r.err.startswith(f"clinicast: {said}"), r


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("fr_CA.UTF-8", {"folder": "est un dossier, attendu un fichier de configuration TOML",
                         "empty": "[clinic] est absente"}),
        ("C.UTF-8", {"folder": "is a folder, expected a TOML config file", "empty": "[clinic] is missing"}),
    ],
)  # fmt: skip
def test_a_config_that_says_no_language_is_reported_in_the_host_s_language(tmp_path, locale, said):
    """A config that exists but names no language (a folder given as --config, an empty
    file) is reported as a missing one is: in the host's language, each line naming the
    file once."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "empty.toml").write_text("")
    env = {"LANG": None, "LC_ALL": locale, "LC_MESSAGES": None, "CLINICAST_CONFIG": None}
    for name, config in (("folder", tmp_path / "folder"), ("empty", tmp_path / "empty.toml")):
        r = run(["campaigns", "list"], config, env=env)
        colon = "\u00a0:" if locale.startswith("fr") else ":"  # the file named as the language writes it
        assert r.code == 2 and r.err.startswith(f"clinicast: {config}{colon} {said[name]}\n"), r


@pytest.mark.skip_ok("as root, a file is unreadable only without CAP_DAC_OVERRIDE: setpriv (util-linux) drops it")
@pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"), reason="root without setpriv")
def test_a_config_that_cannot_be_read_is_reported_in_the_host_s_language(tmp_path):
    import subprocess
    import sys

    config = tmp_path / "clinicast.toml"
    config.write_text('[clinic]\nname = "C"\n')
    config.chmod(0)
    no_override = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--"]
    argv = [*(no_override if os.geteuid() == 0 else []), sys.executable, "-m", "cli", "campaigns", "list"]
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_MESSAGES", "LANGUAGE")}
    res = subprocess.run(
        [*argv, "--config", str(config)],
        env={**env, "LC_ALL": "fr_CA.UTF-8"},
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        timeout=120,
    )
    said = f"clinicast: {config}\u00a0: lecture impossible\u00a0: permission refusée\n"
    assert (res.returncode, res.stderr) == (2, said)
