"""Edits of config.toml made by a program: what an admin finds in the file afterwards."""

from __future__ import annotations

import logging
import stat
import textwrap
import threading
from pathlib import Path

import pytest

from aggregator.app.config import load_config
from aggregator.app.config_edit import (
    ConfigEdit,
    ConfigEditError,
    EditRejected,
    StaleConfig,
    UnknownEntry,
)
from aggregator.domain.source import FetchResult
from aggregator.run.service import make_metronome
from tests.fakes import T0, FakeConnector, FixedClock

CONFIG = textwrap.dedent(
    """\
    # Our school's digest. Ask Dana before changing the schedule.
    [database]
    url = "sqlite:///pln.db"  # next to this file

    # --- sources ---
    [[sources]]
    key = "edchat"   # the hashtag
    kind = "mastodon_tag"
    instance = "mastodon.social"
    tag = "edchat"

    # Jennifer's blog: the best one
    [[sources]]
    key = "cult-of-pedagogy"
    kind = "rss"
    url = "https://www.cultofpedagogy.com/feed/"

    # --- recipients ---
    [[recipients]]
    email = "ana@school.org"
    follow = ["edchat", "cult-of-pedagogy"]
    """
)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    path.chmod(0o640)
    return path


def test_adding_a_source_keeps_every_comment_and_puts_it_after_the_last_source(
    config_path: Path,
) -> None:
    edit = ConfigEdit.open(config_path)
    edit.add("sources", {"key": "edutopia", "kind": "rss", "url": "https://www.edutopia.org/rss"})
    config = edit.save()

    assert [s.key for s in config.sources] == ["edchat", "cult-of-pedagogy", "edutopia"]
    assert config_path.read_text(encoding="utf-8") == CONFIG.replace(
        'url = "https://www.cultofpedagogy.com/feed/"\n',
        'url = "https://www.cultofpedagogy.com/feed/"\n\n'
        '[[sources]]\nkey = "edutopia"\nkind = "rss"\nurl = "https://www.edutopia.org/rss"\n',
    )
    assert [s.key for s in load_config(config_path).sources][-1] == "edutopia"


def test_updating_keeps_the_comment_on_the_changed_line(config_path: Path) -> None:
    edit = ConfigEdit.open(config_path)
    edit.update("sources", "edchat", {"tag": "edutooters", "name": "Edu tooters"})
    edit.save()

    text = config_path.read_text(encoding="utf-8")
    assert 'key = "edchat"   # the hashtag\n' in text
    assert 'tag = "edutooters"\nname = "Edu tooters"\n\n# Jennifer\'s blog' in text


def test_removing_a_source_takes_its_heading_comment_and_unfollows_it(config_path: Path) -> None:
    edit = ConfigEdit.open(config_path)
    edit.remove("sources", "cult-of-pedagogy")
    assert edit.drop_follow("cult-of-pedagogy") == ["ana@school.org"]
    config = edit.save()

    text = config_path.read_text(encoding="utf-8")
    assert "Jennifer" not in text and "cultofpedagogy" not in text
    assert 'tag = "edchat"\n\n# --- recipients ---\n[[recipients]]' in text
    assert config.recipients[0].follow == ("edchat",)


def test_a_rejected_edit_changes_nothing_and_names_the_fields(config_path: Path) -> None:
    before = config_path.read_bytes()
    edit = ConfigEdit.open(config_path)
    edit.add("sources", {"key": "Bad Key!", "kind": "rss", "url": "ftp://nowhere"})
    with pytest.raises(EditRejected) as info:
        edit.save()

    assert config_path.read_bytes() == before
    assert set(info.value.problems) == {"key", "url"}
    assert info.value.problems["url"] == ["not an http(s) URL"]
    assert "change not saved" in str(info.value)


def test_removing_a_followed_source_alone_is_rejected_with_the_follower_named(
    config_path: Path,
) -> None:
    edit = ConfigEdit.open(config_path)
    edit.remove("sources", "edchat")
    with pytest.raises(EditRejected) as info:
        edit.save()

    assert info.value.problems == {"": ["recipients[1].follow: unknown source 'edchat'"]}
    assert config_path.read_text(encoding="utf-8") == CONFIG


def test_a_file_changed_since_it_was_read_is_not_overwritten(config_path: Path) -> None:
    edit = ConfigEdit.open(config_path)
    edit.update("sources", "edchat", {"name": "mine"})
    config_path.write_text(CONFIG + "\n# someone else's edit\n", encoding="utf-8")

    with pytest.raises(StaleConfig, match="changed by someone else.*reload the page"):
        edit.save()
    assert config_path.read_text(encoding="utf-8").endswith("# someone else's edit\n")


def test_a_page_loaded_before_a_change_is_refused_when_it_is_opened(config_path: Path) -> None:
    shown = ConfigEdit.open(config_path).fingerprint
    ConfigEdit.open(config_path, expected=shown)  # the same version: fine
    other = ConfigEdit.open(config_path)
    other.update("sources", "edchat", {"name": "theirs"})
    other.save()

    with pytest.raises(StaleConfig):
        ConfigEdit.open(config_path, expected=shown)


def test_the_write_keeps_permissions_and_leaves_no_temporary_file(config_path: Path) -> None:
    edit = ConfigEdit.open(config_path)
    edit.update("recipients", "ANA@school.org", {"reading_minutes": 7})
    edit.save()

    assert stat.S_IMODE(config_path.stat().st_mode) == 0o640
    assert sorted(p.name for p in config_path.parent.iterdir()) == ["config.toml"]
    assert load_config(config_path).recipients[0].reading_minutes == 7


def test_a_byte_order_mark_and_a_symlink_survive(tmp_path: Path, config_path: Path) -> None:
    config_path.write_bytes(b"\xef\xbb\xbf" + CONFIG.encode())
    link = tmp_path / "link.toml"
    link.symlink_to(config_path)
    edit = ConfigEdit.open(link)
    edit.update("sources", "edchat", {"name": "Edchat"})
    edit.save()

    assert link.is_symlink()
    assert config_path.read_bytes().startswith(b"\xef\xbb\xbf# Our school")


def test_an_unknown_entry_is_a_clear_error(config_path: Path) -> None:
    edit = ConfigEdit.open(config_path)
    with pytest.raises(UnknownEntry, match="no source 'gone' in config.toml"):
        edit.update("sources", "gone", {"name": "x"})


def test_the_first_source_of_an_empty_file_gets_its_own_section(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[database]\nurl = "sqlite:///pln.db"\n', encoding="utf-8")
    edit = ConfigEdit.open(path)
    edit.add("sources", {"key": "a", "kind": "rss", "url": "https://a.org/feed"})
    edit.save()

    text = path.read_text(encoding="utf-8")
    assert text == (
        '[database]\nurl = "sqlite:///pln.db"\n\n'
        '[[sources]]\nkey = "a"\nkind = "rss"\nurl = "https://a.org/feed"\n'
    )


def test_two_writers_at_once_never_lose_an_edit_silently(config_path: Path) -> None:
    edits = [ConfigEdit.open(config_path) for _ in range(4)]
    outcomes: list[str] = []

    def save(edit: ConfigEdit, number: int) -> None:
        edit.update("sources", "edchat", {"name": f"writer {number}"})
        try:
            edit.save()
            outcomes.append(f"writer {number}")
        except StaleConfig:
            outcomes.append("refused")

    threads = [threading.Thread(target=save, args=(e, n)) for n, e in enumerate(edits)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [o for o in outcomes if o != "refused"]
    assert len(winners) == 1
    assert load_config(config_path).sources[0].name == winners[0]


def test_a_file_removed_since_it_was_read_is_one_line(config_path: Path) -> None:
    edit = ConfigEdit.open(config_path)
    edit.update("sources", "edchat", {"name": "x"})
    config_path.unlink()

    with pytest.raises(ConfigEditError, match=r"config.toml: cannot be read \(No such file"):
        edit.save()
    assert not config_path.exists()


def test_the_running_service_uses_an_edit_from_its_next_tick_and_keeps_the_last_good_one(
    config_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nothing_new = [FetchResult()]
    connector = FakeConnector(
        script=dict.fromkeys(("edchat", "cult-of-pedagogy", "edutopia"), nothing_new)
    )
    metronome = make_metronome(
        str(config_path), FixedClock(T0), {"rss": connector, "mastodon_tag": connector}
    )
    try:
        edit = ConfigEdit.open(config_path)
        edit.add("sources", {"key": "edutopia", "kind": "rss", "url": "https://edutopia.org/rss"})
        edit.save()
        metronome.tick()
        metronome.wait_for_fetch(5)
        assert [s.key for s in metronome.app.config.sources][-1] == "edutopia"

        good = metronome.app
        config_path.write_text(CONFIG + "\n[[sources]]\nkey = 'broken'\n", encoding="utf-8")
        with caplog.at_level(logging.INFO):
            metronome.tick()
            metronome.tick()  # the same bad file is not reported again
        metronome.wait_for_fetch(5)
        assert metronome.app is good
        errors = [
            r.getMessage()
            for r in caplog.records
            if r.levelno >= logging.ERROR and r.name == "aggregator.run.metronome"
        ]
        assert len(errors) == 1 and errors[0].startswith("configuration not reloaded: ")
        assert "sources[3].kind: is required" in errors[0]
    finally:
        metronome.close(5)
