"""Properties of URL canonicalisation (issue #6), on generated URLs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.domain.canonical import canonical_url

_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
_HOSTS = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_LABEL, min_size=1, max_size=3),
    st.sampled_from(["org", "com", "edu"]),
)
_SEGMENT = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=12)
_PATHS = st.lists(_SEGMENT, max_size=4).map(lambda parts: "/" + "/".join(parts))
_PARAMS = st.lists(
    st.tuples(st.sampled_from(["id", "page", "q", "lang", "v"]), _LABEL),
    max_size=3,
    unique_by=lambda pair: pair[0],
)
_TRACKING = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "fbclid",
                "gclid",
                "mc_cid",
                "mc_eid",
                "igshid",
            ]
        ),
        _LABEL,
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda pair: pair[0],
)


def _url(scheme: str, host: str, path: str, params: list[tuple[str, str]]) -> str:
    query = "&".join(f"{k}={v}" for k, v in params)
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


@settings(max_examples=300, derandomize=True)
@given(st.sampled_from(["http", "https"]), _HOSTS, _PATHS, _PARAMS)
def test_canonicalising_twice_changes_nothing(scheme, host, path, params) -> None:
    once = canonical_url(_url(scheme, host, path, params))
    assert once.startswith("https://")
    assert canonical_url(once) == once


@settings(max_examples=300, derandomize=True)
@given(_HOSTS, _PATHS, _PARAMS, _TRACKING, st.randoms(use_true_random=False))
def test_tracking_parameters_order_case_and_fragments_do_not_matter(
    host, path, params, tracking, random
) -> None:
    plain = canonical_url(_url("https", host, path, params))
    mixed = params + tracking
    random.shuffle(mixed)
    noisy = _url("http", host.upper(), path + "/", mixed) + "#comments"
    assert canonical_url(noisy) == plain


@settings(max_examples=500, derandomize=True)
@given(st.text(max_size=80))
def test_anything_is_either_an_https_key_or_nothing(text) -> None:
    result = canonical_url(text)
    assert result == "" or result.startswith("https://")
