"""OPML import and export: feed readers' subscriptions in and out of config.toml."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import defusedxml.ElementTree as safe_xml
import pytest
from click.testing import CliRunner

from aggregator.app.config import load_config
from aggregator.app.config_edit import ConfigEdit, StaleConfig
from aggregator.app.opml import MAX_OPML_BYTES, OpmlError, export_opml, import_opml
from aggregator.run.cli import main

OPML = Path(__file__).parent / "data" / "opml"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CONFIG = textwrap.dedent(
    """\
    [database]
    url = "sqlite:///pln.db"

    # The one we started with
    [[sources]]
    key = "edutopia"
    kind = "rss"
    name = "Edutopia"
    url = "https://www.edutopia.org/rss.xml"

    [[sources]]
    key = "edchat"
    kind = "mastodon_tag"
    instance = "mastodon.social"
    tag = "edchat"
    """
)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def feeds_of(document: bytes) -> list[tuple[str, str]]:
    root = safe_xml.fromstring(document)
    return [(o.get("title", ""), o.get("xmlUrl", "")) for o in root.iter("outline")]


def imported(config_path: Path, name: str) -> tuple[list[str], list[str]]:
    report = import_opml(ConfigEdit.open(config_path), (OPML / name).read_bytes(), {})
    return report.added, report.problems


def test_a_feedly_export_is_imported_once_per_feed_across_its_categories(
    config_path: Path,
) -> None:
    added, problems = imported(config_path, "feedly.opml")

    assert added == [
        "cult-of-pedagogy",
        "larry-ferlazzo-s-websites-of-the-day",
        "nsta-blog",
        "crash-course-kids",
    ]
    assert problems == [
        "'Edutopia': https://www.edutopia.org/rss.xml is already source 'edutopia'; imported once",
        "'Edutopia': https://www.edutopia.org/rss.xml is already source 'edutopia'; imported once",
    ]
    config = load_config(config_path)
    larry = next(s for s in config.sources if s.key.startswith("larry"))
    assert larry.name == "Larry Ferlazzo's Websites of the Day…"
    assert config_path.read_text(encoding="utf-8").startswith(CONFIG)  # nothing else touched


def test_an_inoreader_export_skips_links_and_names_untitled_feeds_by_host(
    config_path: Path,
) -> None:
    added, problems = imported(config_path, "inoreader.xml")

    assert added == [
        "maestra-de-ciencias-experimentos",
        "nsta-blog",
        "math-love",
        "dy-dan-example-com",
    ]
    assert problems == []
    names = {s.key: s.name for s in load_config(config_path).sources}
    assert names["maestra-de-ciencias-experimentos"] == "Maestra de ciencias: ¡experimentos!"
    assert names["dy-dan-example-com"] == ""


def test_a_miniflux_export_with_a_bad_url_imports_the_rest(config_path: Path) -> None:
    added, problems = imported(config_path, "miniflux.opml")

    assert added == [
        "cult-of-pedagogy",
        "free-technology-for-teachers",
        "edchat-on-mastodon-social",
    ]
    assert problems == [
        "'broken one': not an http(s) URL ('ftp://files.example.org/feed.xml'); skipped"
    ]


@pytest.mark.parametrize("name", ["feedly.opml", "inoreader.xml", "miniflux.opml"])
def test_export_then_import_round_trips_every_feed_and_name(tmp_path: Path, name: str) -> None:
    first = tmp_path / "first.toml"
    first.write_text('[database]\nurl = "sqlite:///a.db"\n', encoding="utf-8")
    imported(first, name)
    exported = export_opml(load_config(first), NOW)

    second = tmp_path / "second.toml"
    second.write_text('[database]\nurl = "sqlite:///b.db"\n', encoding="utf-8")
    import_opml(ConfigEdit.open(second), exported, {})
    again = export_opml(load_config(second), NOW)

    assert feeds_of(again) == feeds_of(exported)
    assert {url for _, url in feeds_of(exported)} == {
        url for _, url in feeds_of((OPML / name).read_bytes()) if url.startswith("https://")
    }
    # Importing our own export into the same file adds nothing.
    assert import_opml(ConfigEdit.open(second), again, {}).added == []


def test_the_export_is_opml_2_with_only_the_rss_sources(config_path: Path) -> None:
    exported = export_opml(load_config(config_path), NOW)

    root = safe_xml.fromstring(exported)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/dateCreated") == "Tue, 01 Dec 2026 08:00:00 GMT"
    assert [(o.get("type"), o.get("text")) for o in root.iter("outline")] == [("rss", "Edutopia")]


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<opml version="2.0"><body><outline text="&lol3;" xmlUrl="https://a.example.org/feed"/></body></opml>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://a.example.org/feed"/></body></opml>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BOMB, "declares a DTD or entities"),
        (EXTERNAL, "declares a DTD or entities"),
        (b"<opml><body><outline xmlUrl='https://a.org/f'></body>", "not well-formed at line 1"),
        (b"", "not well-formed"),
        (b"<rss version='2.0'><channel/></rss>", "needs an <opml> element with a <body>"),
        (b" " * (MAX_OPML_BYTES + 1), "at most 5 MB is read"),
    ],
)
def test_a_hostile_or_broken_file_is_refused_whole_and_changes_nothing(
    config_path: Path, data: bytes, message: str
) -> None:
    with pytest.raises(OpmlError, match=message):
        import_opml(ConfigEdit.open(config_path), data, {})
    assert config_path.read_text(encoding="utf-8") == CONFIG


def test_an_import_over_a_file_changed_meanwhile_writes_nothing(config_path: Path) -> None:
    edit = ConfigEdit.open(config_path)
    config_path.write_text(CONFIG + "# edited by hand\n", encoding="utf-8")

    with pytest.raises(StaleConfig):
        import_opml(edit, (OPML / "feedly.opml").read_bytes(), {})
    assert config_path.read_text(encoding="utf-8") == CONFIG + "# edited by hand\n"


# --- the commands ----------------------------------------------------------------


def pln(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"PLN_CONFIG": ""})
    return result.exit_code, result.stdout, result.stderr


def test_pln_opml_import_and_export(config_path: Path, tmp_path: Path) -> None:
    code, out, err = pln(
        "opml", "import", "--config", str(config_path), str(OPML / "miniflux.opml")
    )
    assert code == 0, err
    assert out == (
        f"Added 3 sources to {config_path}: cult-of-pedagogy, free-technology-for-teachers, "
        "edchat-on-mastodon-social\n"
    )
    assert (
        err
        == "skipped: 'broken one': not an http(s) URL ('ftp://files.example.org/feed.xml'); skipped\n"
    )

    target = tmp_path / "out.opml"
    code, out, _ = pln("opml", "export", "--config", str(config_path), "--out", str(target))
    assert code == 0 and out == f"Wrote {target}\n"
    assert len(feeds_of(target.read_bytes())) == 4
    code, out, _ = pln("opml", "export", "--config", str(config_path))
    assert code == 0 and out.startswith("<?xml version='1.0' encoding='utf-8'?>\n<opml")


def test_pln_opml_import_of_a_bomb_is_one_line(config_path: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.opml"
    bomb.write_bytes(BOMB)

    code, out, err = pln("opml", "import", "--config", str(config_path), str(bomb))

    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: the OPML file declares a DTD")
    assert config_path.read_text(encoding="utf-8") == CONFIG
