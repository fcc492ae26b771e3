"""Which images may be shown: trackers, pixels and icons are not pictures."""

from __future__ import annotations

import pytest

from aggregator.domain.images import is_icon_size, is_pixel_size, is_tracker_url, picture_url


@pytest.mark.parametrize(
    "url",
    [
        "https://pixel.wp.com/g.gif?blog=1",
        "http://feeds.feedburner.com/~r/blog/~4/abc",
        "https://us1.list-manage.com/track/open.php?u=1",
        "https://eocampaign1.substack.com/o/abc",
    ],
)
def test_known_trackers_are_never_pictures(url):
    assert is_tracker_url(url)
    assert picture_url(url) == ""


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://img.example/a.jpg", "https://img.example/a.jpg"),
        (" https://img.example/a.jpg ", "https://img.example/a.jpg"),
        ("http://img.example/a.jpg", ""),  # not over https: mail clients warn or block
        ("data:image/png;base64,AAAA", ""),
        ("javascript:alert(1)", ""),
        ("https:///nohost.jpg", ""),
        (None, ""),
    ],
)
def test_a_picture_is_an_https_image(url, shown):
    assert picture_url(url) == shown


@pytest.mark.parametrize(
    ("width", "height", "is_icon"),
    [
        ("30", "30", True),
        (72, 72, True),
        ("1", None, True),
        ("480", "360", False),
        (None, None, False),
        ("", "", False),
        ("100%", "auto", False),
        ("1200px", "675px", False),
    ],
)
def test_sizes_too_small_for_a_picture(width, height, is_icon):
    assert is_icon_size(width, height) is is_icon


def test_pixel_sizes():
    assert is_pixel_size("1") and is_pixel_size("0px") and is_pixel_size(" 1.0 ")
    assert not is_pixel_size("2") and not is_pixel_size(None)
