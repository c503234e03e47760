"""core.conditions: the catalogue, parsing and its errors, and the SQL on both backends."""

from __future__ import annotations

from datetime import date

import pytest

from core import conditions as cond
from core.conditions import Condition, ConditionError
from core.errors import BadInput
from core.models import Patient


class TestCatalogue:
    def test_fields_of_the_spec(self):
        assert list(cond.FIELDS) == [
            "age",
            "sex",
            "language",
            "practitioner",
            "postal_code",
            "last_visit",
            "date_of_birth",
            "email",
            "connected_system",
            "marketing_consent",
            "push_enabled",
        ]
        for f in cond.FIELDS.values():
            assert f.label and f.description and f.example and f.operators
            assert set(f.operators) <= set(cond.OPERATORS)
            cond.make(f.name, f.operators[0], "" if f.operators[0] in cond.NO_VALUE else f.example)

    def test_operators_fit_types(self):
        assert "contains" in cond.FIELDS["email"].operators
        assert "contains" not in cond.FIELDS["age"].operators
        assert "<" not in cond.FIELDS["email"].operators
        assert cond.FIELDS["marketing_consent"].operators == ("=", "!=")
        assert cond.FIELDS["connected_system"].operators == ("=", "!=")
        assert cond.FIELDS["sex"].choices == ("F", "M", "X")


class TestParse:
    @pytest.mark.parametrize(
        "text,expected",
        [
            ("age >= 18", Condition("age", ">=", 18)),
            ("AGE<65", Condition("age", "<", 65)),
            ("age = 0", Condition("age", "=", 0)),
            ("age != 40", Condition("age", "!=", 40)),
            ("age <= 17", Condition("age", "<=", 17)),
            ("age > 64", Condition("age", ">", 64)),
            ("age is empty", Condition("age", "is empty")),
            ("sex = femme", Condition("sex", "=", "F")),
            ("Sex is not m", Condition("sex", "!=", "M")),
            ("language = Français", Condition("language", "=", "fr")),
            ("language != english", Condition("language", "!=", "en")),
            ("language is not empty", Condition("language", "is not empty")),
            ("practitioner = Dre Côté", Condition("practitioner", "=", "Dre Côté")),
            ("practitioner contains côté", Condition("practitioner", "contains", "côté")),
            ('practitioner starts with "  Dr "', Condition("practitioner", "starts with", "  Dr ")),
            ("postal code starts with H2X", Condition("postal_code", "starts with", "H2X")),
            ("last_visit < 2024-01-01", Condition("last_visit", "<", date(2024, 1, 1))),
            ("last visit is empty", Condition("last_visit", "is empty")),
            ("date_of_birth >= 1960-02-29", Condition("date_of_birth", ">=", date(1960, 2, 29))),
            ("email is empty", Condition("email", "is empty")),
            ("email contains @example.org", Condition("email", "contains", "@example.org")),
            ("connected_system = patient_app", Condition("connected_system", "=", "patient_app")),
            ("connected system is not patient app", Condition("connected_system", "!=", "patient_app")),
            ("Connected_System <> Patient_App", Condition("connected_system", "!=", "patient_app")),
            ("marketing_consent = oui", Condition("marketing_consent", "=", True)),
            ("marketing consent = No", Condition("marketing_consent", "=", False)),
            ("push_enabled != 1", Condition("push_enabled", "!=", True)),
            ("push_enabled = faux", Condition("push_enabled", "=", False)),
            ("age ≥ 18", Condition("age", ">=", 18)),
        ],
    )
    def test_parse_and_describe_round_trip(self, text, expected):
        c = cond.parse(text)
        assert c == expected
        assert cond.parse(cond.describe(c)) == c
        assert str(c) == cond.describe(c)

    def test_describe(self):
        assert cond.describe(cond.parse("connected system is not patient app")) == "connected_system != patient_app"
        assert cond.describe(cond.parse("push_enabled = oui")) == "push_enabled = yes"
        assert cond.describe(cond.parse("email is not empty")) == "email is not empty"
        assert cond.describe(Condition("practitioner", "=", ' "x" ')) == 'practitioner = " "x" "'

    @pytest.mark.parametrize(
        "text,message",
        [
            ("age > abc", "age > abc: expected a whole number"),
            ("age > 12.5", "age > 12.5: expected a whole number"),
            ("age > -1", "age > -1: expected a whole number"),
            ("age >= 200", "age >= 200: expected an age from 0 to 150"),
            (
                "agee > 3",
                "agee > 3: unknown field “agee”; expected one of age, sex, language, practitioner, "
                "postal_code, last_visit, date_of_birth, email, connected_system, marketing_consent, "
                "push_enabled",
            ),
            ("colour = red", "unknown field “colour”"),
            ("bogus", "bogus: unknown field “bogus”"),
            (
                "age ~ 3",
                "age ~ 3: unknown operator “~”; expected one of =, !=, <, <=, >, >=, contains, "
                "starts with, is empty, is not empty",
            ),
            ("age", "age: missing operator"),
            (
                "age contains 3",
                "age contains 3: “contains” does not apply to age (a whole number); "
                "use one of =, !=, <, <=, >, >=, is empty, is not empty",
            ),
            ("email < b", "email < b: “<” does not apply to email (text)"),
            ("marketing_consent is empty", "“is empty” does not apply to marketing_consent (yes or no)"),
            ("connected_system is empty", "does not apply to connected_system (one of patient_app)"),
            ("email is empty yes", "email is empty yes: “is empty” takes no value, got “yes”"),
            ("age >", "age >: expected a whole number of years after “>”"),
            ("email =", "email =: expected some text after “=”"),
            ("last_visit < 2024-13-01", "last_visit < 2024-13-01: expected a real date YYYY-MM-DD"),
            ("last_visit < 01/02/2024", "expected a date YYYY-MM-DD (day/month order is ambiguous)"),
            ("last_visit < last week", "last_visit < last week: expected a date YYYY-MM-DD"),
            ("push_enabled = maybe", "push_enabled = maybe: expected yes or no (oui/non, true/false, 1/0)"),
            ("sex = q", "sex = q: expected F, M, X"),
            ("language = es", "language = es: expected fr or en"),
            ("connected_system = email", "connected_system = email: expected patient_app"),
            ("", "empty condition; expected FIELD OP VALUE"),
        ],
    )
    def test_errors(self, text, message):
        with pytest.raises(ConditionError) as e:
            cond.parse(text)
        assert message in str(e.value)
        assert isinstance(e.value, BadInput) and e.value.exit_code == 2

    def test_parse_all_lists_every_problem(self):
        with pytest.raises(ConditionError) as e:
            cond.parse_all(["age > x", "sex = F", "foo = 1"])
        assert str(e.value).splitlines() == [
            "age > x: expected a whole number of years",
            f"foo = 1: unknown field “foo”; expected one of {cond.field_names()}",
        ]
        assert cond.parse_all(["sex = F", "age < 3"]) == [Condition("sex", "=", "F"), Condition("age", "<", 3)]

    def test_make_for_the_builder(self):
        assert cond.make("Connected system", "is not", "patient_app") == Condition(
            "connected_system", "!=", "patient_app"
        )
        with pytest.raises(ConditionError, match="unknown operator “like”"):
            cond.make("email", "like", "x")


class TestAgeArithmetic:
    def test_years_before(self):
        assert cond.years_before(date(2024, 2, 29), 1) == date(2023, 2, 28)
        assert cond.years_before(date(2024, 2, 29), 4) == date(2020, 2, 29)
        assert cond.years_before(date(2025, 6, 2), 18) == date(2007, 6, 2)

    def test_age_of(self):
        assert cond.age_of(date(2000, 2, 29), date(2019, 2, 28)) == 18
        assert cond.age_of(date(2000, 2, 29), date(2019, 3, 1)) == 19
        assert cond.age_of(date(2000, 6, 2), date(2018, 6, 2)) == 18
        assert cond.age_of(date(2000, 6, 3), date(2018, 6, 2)) == 17


# --- on the database -------------------------------------------------------------------

TODAYS = [date(2024, 2, 29), date(2023, 2, 28), date(2023, 3, 1), date(2025, 6, 2), date(2024, 12, 31)]


def _dobs():
    """Birth dates around every boundary the TODAYS can hit, Feb 29 included."""
    out = set()
    for today in TODAYS:
        for years in (0, 1, 17, 18, 19, 40, 41, 100):
            for d in (-2, -1, 0, 1, 2):
                base = cond.years_before(today, years)
                out.add(date.fromordinal(base.toordinal() + d))
    out |= {
        date(2000, 2, 29),
        date(2004, 2, 29),
        date(2005, 2, 28),
        date(2005, 3, 1),
        date(2006, 2, 28),
        date(2006, 3, 1),
        date(1983, 2, 28),
        date(1983, 3, 1),
        date(1984, 2, 29),
    }
    return sorted(d for d in out if d <= min(TODAYS))


PEOPLE = [
    # emr, sex, language, practitioner, postal, email, app_id, marketing, push, last_visit
    ("p1", "F", "fr", "Dre Émilie Côté", "H2X 1Y4", "lea@example.org", "app-1", True, True, date(2024, 5, 1)),
    ("p2", "M", "en", "Dr David Chen", "H3A 2B2", "", None, False, False, None),
    ("p3", "X", "", "DR DAVID CHEN", "h2x1z9", "a_b@example.com", "", True, False, date(2023, 1, 1)),
    ("p4", "", "fr", "", "", "100%@example.net", "app-4", False, True, date(2024, 12, 31)),
    ("p5", "F", "en", "Dre Sarah Wilson", "J4K 2B3", "axb@example.com", None, True, False, date(2022, 6, 30)),
]


@pytest.fixture
def people(db):
    rows = [
        dict(
            zip(
                (
                    "emr_id",
                    "sex",
                    "language",
                    "practitioner",
                    "postal_code",
                    "email",
                    "app_id",
                    "marketing_consent",
                    "push_enabled",
                    "last_visit",
                ),
                p,
                strict=False,
            )
        )
        for p in PEOPLE
    ]
    births = (date(1980, 3, 4), None, date(2000, 2, 29), date(2024, 1, 1), date(1950, 12, 31))
    for r, dob in zip(rows, births, strict=True):
        r["date_of_birth"] = dob
    Patient.insert_many(rows).execute()


def ctx_on(today: date):
    """A staff member's Ctx whose clinic day is `today` (noon in Toronto)."""
    from datetime import datetime

    from conftest import LOGIN

    from core import config as cfg
    from core.context import for_current_user

    config = cfg.from_dict(
        {
            "clinic": {"name": "C"},
            "database": {"url": "sqlite:///unused.db"},
            "gateway": {"transport": "log", "path": "unused.log"},
            "users": {LOGIN: {"name": "T", "permissions": ["campaigns"]}},
        },
        env={},
    )
    return for_current_user(config, clock=lambda: datetime(today.year, today.month, today.day, 17))


def matching(*texts, today=date(2025, 6, 2)) -> list[str]:
    conds = [cond.parse(t) for t in texts]
    q = Patient.select(Patient.emr_id).where(cond.compile(conds, today)).order_by(Patient.emr_id)
    found = [p.emr_id for p in q]
    ctx = ctx_on(today)
    assert ctx.today() == today
    assert cond.count(ctx, conds) == len(found)
    return found


class TestCompile:
    def test_age_matches_the_birthday_rule_at_every_boundary(self, db):
        dobs = _dobs()
        Patient.insert_many(
            [{"emr_id": f"d{i}", "date_of_birth": d} for i, d in enumerate(dobs)] + [{"emr_id": "unknown"}]
        ).execute()
        ids = {f"d{i}": d for i, d in enumerate(dobs)}
        ops = {">=": int.__ge__, ">": int.__gt__, "<": int.__lt__, "<=": int.__le__, "=": int.__eq__, "!=": int.__ne__}
        for today in TODAYS:
            for n in (0, 1, 18, 40, 100):
                for op, test in ops.items():
                    expected = sorted(k for k, d in ids.items() if test(cond.age_of(d, today), n))
                    got = matching(f"age {op} {n}", today=today)
                    assert got == expected, (today, op, n)

    def test_age_examples(self, people):
        # p1 1980-03-04 (45), p3 2000-02-29 (25), p4 2024-01-01 (1), p5 1950-12-31 (74), p2 unknown
        assert matching("age >= 18") == ["p1", "p3", "p5"]
        assert matching("age < 2") == ["p4"]
        assert matching("age = 45") == ["p1"]
        assert matching("age != 45") == ["p3", "p4", "p5"]
        assert matching("age is empty") == ["p2"]
        assert matching("age is not empty") == ["p1", "p3", "p4", "p5"]
        # born 2000-02-29: still 22 on 2023-02-28, 23 on 2023-03-01
        assert matching("age = 22", today=date(2023, 2, 28)) == ["p3"]
        assert matching("age >= 23", today=date(2023, 2, 28)) == ["p1", "p5"]
        assert matching("age = 23", today=date(2023, 3, 1)) == ["p3"]

    def test_dates(self, people):
        assert matching("last_visit < 2024-01-01") == ["p3", "p5"]
        assert matching("last_visit >= 2024-05-01") == ["p1", "p4"]
        assert matching("last_visit = 2024-12-31") == ["p4"]
        assert matching("last_visit != 2024-12-31") == ["p1", "p3", "p5"]  # unknown never matches
        assert matching("last_visit <= 2023-01-01") == ["p3", "p5"]
        assert matching("last_visit > 2024-05-01") == ["p4"]
        assert matching("last_visit is empty") == ["p2"]
        assert matching("last_visit is not empty") == ["p1", "p3", "p4", "p5"]
        assert matching("date_of_birth = 2000-02-29") == ["p3"]
        assert matching("date_of_birth < 1960-01-01") == ["p5"]
        assert matching("date_of_birth is empty") == ["p2"]

    def test_enums(self, people):
        assert matching("sex = F") == ["p1", "p5"]
        assert matching("sex != f") == ["p2", "p3", "p4"]
        assert matching("sex is empty") == ["p4"]
        assert matching("sex is not empty") == ["p1", "p2", "p3", "p5"]
        assert matching("language = fr") == ["p1", "p4"]
        assert matching("language != french") == ["p2", "p3", "p5"]
        assert matching("language is empty") == ["p3"]

    def test_text_is_case_insensitive(self, people):
        assert matching("practitioner = dr david chen") == ["p2", "p3"]
        assert matching("practitioner != Dr David Chen") == ["p1", "p4", "p5"]
        assert matching("practitioner contains CHEN") == ["p2", "p3"]
        assert matching("practitioner contains Côté") == ["p1"]
        assert matching("practitioner starts with dre") == ["p1", "p5"]
        assert matching("practitioner is empty") == ["p4"]
        assert matching("practitioner is not empty") == ["p1", "p2", "p3", "p5"]

    def test_wildcards_are_literal(self, people):
        assert matching("email contains _") == ["p3"]
        assert matching("email contains %") == ["p4"]
        assert matching("email starts with a_b") == ["p3"]
        assert matching("email contains \\") == []
        assert matching("email = AXB@example.com") == ["p5"]

    def test_email_empty(self, people):
        assert matching("email is empty") == ["p2"]
        assert matching("email is not empty") == ["p1", "p3", "p4", "p5"]
        assert matching("email contains example.com") == ["p3", "p5"]

    def test_postal_code_ignores_spaces(self, people):
        assert matching("postal_code starts with H2X") == ["p1", "p3"]
        assert matching("postal_code starts with h2x1y") == ["p1"]
        assert matching("postal_code = H2X 1Z9") == ["p3"]
        assert matching("postal_code is empty") == ["p4"]

    def test_connected_system(self, people):
        assert matching("connected_system = patient_app") == ["p1", "p4"]
        assert matching("connected system is not patient app") == ["p2", "p3", "p5"]  # '' is no account

    def test_booleans(self, people):
        assert matching("marketing_consent = yes") == ["p1", "p3", "p5"]
        assert matching("marketing_consent = non") == ["p2", "p4"]
        assert matching("marketing_consent != oui") == ["p2", "p4"]
        assert matching("push_enabled = true") == ["p1", "p4"]
        assert matching("push_enabled != 1") == ["p2", "p3", "p5"]

    def test_all_must_hold_and_none_is_everyone(self, people):
        assert matching("connected_system != patient_app", "email is not empty", "age >= 18") == ["p3", "p5"]
        assert matching("sex = F", "language = en") == ["p5"]
        assert cond.count(ctx_on(date(2025, 6, 2)), []) == 5


class TestUnknownValues:
    """A whole text value no patient has (`practitioner != "Dr Gagnin"`, a typo): said with
    the closest values patients have; whether a patient has it is asked as `=` matches
    (case aside, accents kept), closeness ignores case and accents. On both databases."""

    def said(self, *texts: str) -> list[tuple[str, tuple[str, ...]]]:
        found = cond.unknown_values(ctx_on(date(2025, 6, 2)), [cond.parse(t) for t in texts])
        return [(describe_(u.condition), u.suggestions) for u in found]

    def test_a_typo_is_said_with_the_value_meant(self, people):
        assert self.said("practitioner = Dr Chenn") == [("practitioner = Dr Chenn", ("DR DAVID CHEN",))]
        # != is the dangerous one: it selects every patient
        assert matching("practitioner != Dr Gagnin") == ["p1", "p2", "p3", "p4", "p5"]
        assert self.said("practitioner != Dr Gagnin") == [("practitioner != Dr Gagnin", ())]
        assert self.said("practitioner = Dre Wilsen") == [("practitioner = Dre Wilsen", ("Dre Sarah Wilson",))]

    def test_case_is_no_typo_accents_are(self, people):
        # `=` ignores case: a value differing only by case is one patients have, nothing said
        assert matching("practitioner = DRE ÉMILIE CÔTÉ") == ["p1"]
        assert self.said("practitioner = DRE ÉMILIE CÔTÉ", "practitioner != dr david chen") == []
        # accents count in `=` (nobody matches): said, and the value with its accents suggested
        assert matching("practitioner = Dre Emilie Cote") == []
        assert self.said("practitioner = Dre Emilie Cote") == [("practitioner = Dre Emilie Cote", ("Dre Émilie Côté",))]

    def test_postal_codes_and_emails(self, people):
        assert self.said("postal_code = h2x1y4", "email = LEA@example.org") == []  # spaces and case aside
        assert self.said("postal_code = H2X 1Y5") == [("postal_code = H2X 1Y5", ("H2X 1Y4",))]
        assert self.said("email != lea@exemple.org") == [("email != lea@exemple.org", ("lea@example.org",))]

    def test_only_whole_text_values_are_checked(self, people):
        assert self.said("practitioner contains Gagnin", "practitioner starts with Zz", "age = 130", "sex = X") == []

    def test_each_value_once_in_the_order_given(self, people):
        said = self.said("email = zz@example.org", "practitioner = Dr Chenn", "practitioner != Dr Chenn")
        assert said == [("email = zz@example.org", ()), ("practitioner = Dr Chenn", ("DR DAVID CHEN",))]

    def test_the_words(self, people):
        from core import i18n

        [u] = cond.unknown_values(ctx_on(date(2025, 6, 2)), [cond.parse("practitioner != Dr Chenn")])
        assert u.words() == "Practitioner “Dr Chenn”: no patient has this value; did you mean “DR DAVID CHEN”?"
        u2 = cond.UnknownValue(u.condition, ("A", "B", "C"))
        assert u2.words().endswith("did you mean “A”, “B” or “C”?")
        assert cond.UnknownValue(u.condition).words() == "Practitioner “Dr Chenn”: no patient has this value"
        i18n.use("fr")
        try:
            assert u.words() == (
                "Médecin «\u00a0Dr Chenn\u00a0»\u00a0: aucun patient n'a cette valeur\u202f; "
                "vouliez-vous dire «\u00a0DR DAVID CHEN\u00a0»\u202f?"
            )
        finally:
            i18n.use("en")

    def test_a_listed_fields_values(self, people):
        ctx = ctx_on(date(2025, 6, 2))
        assert cond.existing(ctx, "practitioner") == [
            "DR DAVID CHEN",
            "Dr David Chen",
            "Dre Émilie Côté",
            "Dre Sarah Wilson",
        ]
        assert cond.existing(ctx, "email") == []  # one a patient: never listed


class TestClosest:
    def test_a_surname_misspelt_between_first_names(self):
        from core.fakedata import PRACTITIONERS

        assert cond.closest("Dr Gagnin", PRACTITIONERS) == ["Dr Jean-François Gagnon"]
        assert cond.closest("gagnon", PRACTITIONERS) == ["Dr Jean-François Gagnon"]
        assert cond.closest("dr jean-francois gagnon", PRACTITIONERS) == ["Dr Jean-François Gagnon"]
        assert cond.closest("Dre Cote", PRACTITIONERS) == ["Dre Émilie Côté"]  # not every « Dre »
        assert cond.closest("Dr Zzz", PRACTITIONERS) == []
        assert cond.closest("x", []) == []


def describe_(c: Condition) -> str:
    return cond.describe(c)
