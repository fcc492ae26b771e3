"""A roster CSV: exported for a spreadsheet, imported back with a line per bad row."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from aggregator.app.config import parse_config
from aggregator.app.config_edit import StaleConfig
from aggregator.app.roster import (
    MAX_ROSTER_BYTES,
    MAX_ROSTER_ROWS,
    ROSTER_ENCODING,
    RosterRefused,
    export_roster,
    import_roster,
    read_roster,
)
from aggregator.config.types import Config
from aggregator.run.cli import main

CONFIG = textwrap.dedent(
    """
    [[sources]]
    key = "edchat"
    kind = "rss"
    url = "https://edchat.example/feed"

    [[sources]]
    key = "cult-of-pedagogy"
    kind = "rss"
    url = "https://cult.example/feed"

    [[recipients]]
    email = "Ana@School.org"
    name = "Ana"
    timezone = "America/Chicago"
    send_at = "06:30"
    reading_minutes = 7
    follow = ["edchat"]
    mute = ["webinar"]
    """
)


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG)


def csv_bytes(text: str) -> bytes:
    return textwrap.dedent(text).lstrip().encode()


def test_rows_are_read_with_the_config_rules_and_good_ones_kept(config: Config) -> None:
    plan = read_roster(
        csv_bytes(
            """
            email,name,timezone,send_at,follows
            ben@school.org,Ben,Europe/London,7:05,edchat;cult-of-pedagogy
            not-an-address,Cy,UTC,06:30,edchat
            dee@school.org,Dee,Mars/Olympus,06:30,edchat
            eve@school.org,Eve,UTC,25:00,edcht
            """
        ),
        config,
    )
    assert [r.email for r in plan.added] == ["ben@school.org"]
    ben = plan.added[0]
    assert (ben.name, ben.timezone, ben.send_at) == ("Ben", "Europe/London", "07:05")
    assert ben.follow == ("edchat", "cult-of-pedagogy")
    messages = [str(p) for p in plan.problems]
    assert messages[0] == "line 3: email: not an email address, like ana@school.org"
    assert messages[1].startswith("line 4: timezone: unknown time zone 'Mars/Olympus'")
    assert "line 5: send_at: must be a 24-hour time" in messages[2]
    assert messages[3] == "line 5: follows: unknown source 'edcht' (did you mean 'edchat'?)"


def test_excel_semicolons_bom_and_crlf_are_read(config: Config) -> None:
    text = 'email;name;follows\r\nben@school.org;"Ben; the coach";edchat\r\n'
    plan = read_roster(text.encode(ROSTER_ENCODING), config)
    assert not plan.problems
    assert plan.added[0].name == "Ben; the coach"


def test_duplicates_in_the_file_and_against_the_config(config: Config) -> None:
    plan = read_roster(
        csv_bytes(
            """
            email,name,timezone
            ben@school.org,Ben,UTC
            BEN@school.org,Ben again,UTC
            ana@school.org,Ana,America/Chicago
            ana@school.org,Ana,Asia/Tokyo
            """
        ),
        config,
    )
    assert [r.email for r in plan.added] == ["ben@school.org"]
    assert plan.unchanged == 1  # Ana as she is: nothing to do, nothing wrong
    assert [str(p) for p in plan.problems] == [
        "line 3: ben@school.org is also on line 2; keep one",
        "line 5: ana@school.org is also on line 4; keep one",
    ]


def test_a_changed_existing_recipient_needs_updates_allowed(config: Config) -> None:
    data = csv_bytes(
        """
        email,timezone,follows
        ana@school.org,Asia/Tokyo,edchat;cult-of-pedagogy
        """
    )
    refused = read_roster(data, config)
    assert [str(p) for p in refused.problems] == [
        "line 2: ana@school.org is already a recipient, with a different timezone, "
        "follows; allow updates to change it"
    ]
    plan = read_roster(data, config, update=True)
    (ana,) = plan.updated
    assert (ana.timezone, ana.follow) == ("Asia/Tokyo", ("edchat", "cult-of-pedagogy"))
    # What the file has no column for is kept: name, reading time, mute words.
    assert (ana.name, ana.reading_minutes, ana.mute) == ("Ana", 7, ("webinar",))


def test_export_then_import_round_trips(config: Config) -> None:
    hostile = parse_config(
        CONFIG
        + textwrap.dedent(
            """
            [[recipients]]
            email = "-cy@school.org"
            name = '=HYPERLINK("http://evil.example","x"), "quoted"; semi'
            timezone = "Asia/Kolkata"
            send_at = "21:45"
            follow = ["edchat", "cult-of-pedagogy"]

            [[recipients]]
            email = "dee@school.org"
            """
        )
    )
    exported = export_roster(hostile.recipients)
    # A spreadsheet shows it as text, not as a formula to run.
    assert "\r\n'-cy@school.org,\"'=HYPERLINK" in exported
    empty = parse_config(CONFIG.split("[[recipients]]")[0])
    plan = read_roster(exported.encode(ROSTER_ENCODING), empty)
    assert not plan.problems
    assert [(r.to_address, r.name, r.timezone, r.send_at, r.follow) for r in plan.added] == [
        (r.to_address, r.name, r.timezone, r.send_at, r.follow) for r in hostile.recipients
    ]
    # Imported into the configuration it came from, nothing changes.
    assert read_roster(exported.encode(), hostile).unchanged == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "the file is empty", id="empty"),
        pytest.param(b"name,timezone\nBen,UTC\n", "no email column", id="no-email-column"),
        pytest.param(b"ben@school.org,Ben\n", "unknown column 'ben@school.org'", id="no-header"),
        pytest.param(b"email,nmae\n", "unknown column 'nmae'", id="unknown-column"),
        pytest.param(b"email,name,email\n", "'email' appears twice", id="column-twice"),
        pytest.param("email\nbén@x.org\n".encode("latin-1"), "not UTF-8", id="latin-1"),
        pytest.param(b'email,name\nben@school.org,"Ben\n', "line 2: not valid CSV", id="quote"),
    ],
)
def test_a_file_that_is_no_roster_is_refused_whole(
    config: Config, data: bytes, message: str
) -> None:
    with pytest.raises(RosterRefused, match=message):
        read_roster(data, config)


def test_huge_files_are_refused(config: Config) -> None:
    too_big = b"email\n" + b"x" * MAX_ROSTER_BYTES
    with pytest.raises(RosterRefused, match="more than the 2,000,000 bytes"):
        read_roster(too_big, config)
    rows = "".join(f"t{n}@school.org\n" for n in range(MAX_ROSTER_ROWS + 1))
    with pytest.raises(RosterRefused, match="more than 20,000 rows"):
        read_roster(f"email\n{rows}".encode(), config)


def test_malformed_rows_are_skipped_with_their_line(config: Config) -> None:
    plan = read_roster(
        csv_bytes(
            """
            email,name
            ben@school.org,Ben,extra
            ,Nobody

            cy@school.org,"Cy
            the second line"
            dee@school.org,Dee\tTab
            fay@school.org
            gus@school.org\0,Gus
            """
        ),
        config,
    )
    assert [r.email for r in plan.added] == ["fay@school.org"]
    assert [str(p) for p in plan.problems] == [
        "line 2: 3 values but the first line names 2 columns; put a value holding "
        "a comma or semicolon in double quotes",
        "line 3: email: must not be empty",
        "line 5: name: contains a control character (a line break or tab)",
        "line 7: name: contains a control character (a line break or tab)",
        "line 9: email: cannot be sent to: the address contains a space or control "
        "character (U+0000)",
    ]


FILE_CONFIG = (
    "# The school's digest\n"
    '[database]\nurl = "sqlite:///pln.db"\n\n'
    + CONFIG.replace("[[recipients]]", "# Ana runs the science department\n[[recipients]]")
    + "\n# Sources of next year go here.\n"
)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(FILE_CONFIG, encoding="utf-8")
    return path


def run_pln(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_import_writes_good_rows_keeping_the_file_and_lists_bad_ones(
    config_file: Path, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_bytes(
        "email;name;follows\r\nben@school.org;Bén;edchat\r\ncy@school.org;Cy;edcht\r\n".encode(
            ROSTER_ENCODING
        )
    )
    result = run_pln("recipients", "import", str(roster), "--config", str(config_file))
    assert result.exit_code == 1
    assert "1 recipient added, 0 updated, 0 unchanged, 1 row skipped" in result.stdout
    assert result.stderr == (
        f"error: {roster}:3: follows: unknown source 'edcht' (did you mean 'edchat'?)\n"
    )
    text = config_file.read_text(encoding="utf-8")
    # Comments and layout kept; the new entry goes after the last one.
    head, tail = FILE_CONFIG.split("\n# Sources of next year")
    assert text.startswith(head + "\n[[recipients]]\n" + 'email = "ben@school.org"\nname = "Bén"')
    assert text.endswith("\n# Sources of next year" + tail)
    assert [r.email for r in parse_config(text).recipients] == ["ana@school.org", "ben@school.org"]


def test_a_refused_file_or_a_stale_config_writes_nothing(config_file: Path, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_bytes(b'email\n"ben@school.org\n')
    result = run_pln("recipients", "import", str(roster), "--config", str(config_file))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {roster}: line 2: not valid CSV (unexpected end of data); check its "
        "quotes; nothing was imported\n"
    )
    roster.write_bytes(b"email\nben@school.org\n")
    with pytest.raises(StaleConfig):
        import_roster(config_file, roster.read_bytes(), expected="not-this-version")
    assert config_file.read_text(encoding="utf-8") == FILE_CONFIG


def test_export_then_import_through_the_command_line(config_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "roster.csv"
    assert (
        run_pln("recipients", "export", "--out", str(out), "--config", str(config_file)).exit_code
        == 0
    )
    assert out.read_bytes().startswith(b"\xef\xbb\xbfemail,name,timezone,send_at,follows\r\n")
    assert run_pln("recipients", "export", "--config", str(config_file)).stdout.splitlines() == [
        "email,name,timezone,send_at,follows",
        "Ana@School.org,Ana,America/Chicago,06:30,edchat",
    ]
    out.write_text(out.read_text(ROSTER_ENCODING).replace("06:30", "07:15"), ROSTER_ENCODING)
    result = run_pln("recipients", "import", str(out), "--update", "--config", str(config_file))
    assert result.exit_code == 0, result.output
    assert "0 recipients added, 1 updated" in result.stdout
    text = config_file.read_text(encoding="utf-8")
    assert text == FILE_CONFIG.replace('send_at = "06:30"', 'send_at = "07:15"')
