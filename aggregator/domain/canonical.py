"""One spelling per web page: URL canonicalisation for grouping shares of one story.

Plain `urllib.parse`, not a URL library: the rules that matter here are
about hosts (`x.com` is `twitter.com`, `youtu.be/ID` is a YouTube watch
page, `m.` and `amp.` are the same site) and click tracking, which generic
normalisers such as url-normalize leave alone, so we would wrap one anyway;
the standard library keeps this pure module free of dependencies.
A canonical URL is a grouping key, never a link shown to the reader: it
forces https and drops `www.`, which some sites do not answer. The link a
reader is shown is `clean_url`: the same tracking parameters go, the rest
stays as the site wrote it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

# Query parameters that only say where a click came from (Google Analytics,
# Facebook, Google Ads, Mailchimp, HubSpot, Marketo, Instagram, Twitter...).
_TRACKING_PREFIXES = ("utm_", "hsa_", "pk_", "mtm_")
_TRACKING_KEYS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "igshid",
        "si",
        "ref_src",
        "ref_url",
        "s",
        "t",
        "cmpid",
        "ocid",
        "spm",
        "feature",
        "share",
        "amp",
    }
)
# Parameters dropped on every host except these, where they name the content
# ("s" is a search, "t" a time code on YouTube, "feature" harmless there).
_KEEP_ON_HOST = {"youtube.com": frozenset({"t", "s"}), "youtu.be": frozenset({"t"})}
# Host prefixes of mobile and AMP editions of the same site.
_EDITION_PREFIXES = ("www.", "m.", "mobile.", "amp.")
# Hosts that are another name for the same site.
_HOST_ALIASES = {
    "x.com": "twitter.com",
    "fxtwitter.com": "twitter.com",
    "vxtwitter.com": "twitter.com",
    "youtube-nocookie.com": "youtube.com",
    "music.youtube.com": "youtube.com",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _host(netloc_host: str) -> str:
    """The site's name: lower case, without www./m./amp., aliases resolved."""
    host = netloc_host.lower().rstrip(".")
    stripped = True
    while stripped:
        stripped = False
        for prefix in _EDITION_PREFIXES:
            if host.startswith(prefix) and host.count(".") > 1:
                host, stripped = host[len(prefix) :], True
    return _HOST_ALIASES.get(host, host)


def _path(host: str, path: str) -> str:
    """The path without AMP suffixes and trailing slashes ("" for the root)."""
    if host != "youtube.com":
        for suffix in ("/amp", "/amp/", ".amp"):
            if path.endswith(suffix):
                path = path[: -len(suffix)]
        if path.startswith("/amp/"):
            path = path[4:]
    return path.rstrip("/")


def _is_tracking(host: str, key: str) -> bool:
    """Whether query parameter `key` only says where a click came from, on `host`."""
    if key in _KEEP_ON_HOST.get(host, ()):
        return False
    key = key.lower()
    return key.startswith(_TRACKING_PREFIXES) or key in _TRACKING_KEYS


def _query(host: str, query: str) -> str:
    """The query without tracking parameters, sorted so that order does not matter."""
    if not query:  # most URLs: no need to parse and re-encode nothing
        return ""
    pairs = [
        (key, value)
        for key, value in parse_qsl(query, keep_blank_values=True)
        if not _is_tracking(host, key)
    ]
    return urlencode(sorted(pairs))


def canonical_url(url: str) -> str:
    """The URL as a grouping key; "" for anything that is not an http(s) URL.

    Scheme becomes https, the host is lower-cased without `www.`, `m.`,
    `mobile.`, `amp.`, a default port or a trailing dot; `x.com` is
    `twitter.com`; `youtu.be/ID` and `youtube.com/shorts/ID` become
    `youtube.com/watch?v=ID`; tracking parameters (utm_*, fbclid, gclid,
    mc_cid...), the fragment, AMP paths and trailing slashes go; the
    remaining parameters are sorted.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a malformed port or IPv6 literal: not a link we can group
        return ""
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return ""
    host = _host(parts.hostname)
    path, query = parts.path, parts.query
    if host == "youtu.be" and path.strip("/"):
        host, query = "youtube.com", urlencode([("v", path.strip("/").split("/")[0])])
        path = "/watch"
    elif host == "youtube.com" and path.startswith(("/shorts/", "/live/")):
        query, path = urlencode([("v", path.split("/")[2])]), "/watch"
    netloc = host if port in (None, *_DEFAULT_PORTS.values()) else f"{host}:{port}"
    return urlunsplit(("https", netloc, _path(host, path), _query(host, query), ""))


def clean_url(url: str) -> str:
    """The URL as a link to show a reader: without its tracking parameters
    (utm_*, fbclid, si...: the ones `canonical_url` drops), everything else
    as written: scheme, host, path, the order and spelling of the other
    parameters, the fragment. "" for anything that is not an http(s) URL.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return ""
    if not parts.query:
        return url
    host = _host(parts.hostname)
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and not _is_tracking(host, unquote_plus(pair.partition("=")[0]))
    ]
    return urlunsplit(parts._replace(query="&".join(kept)))
