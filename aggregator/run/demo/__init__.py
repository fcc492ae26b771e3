"""Offline sample data for `pln demo`: feed templates, a config template, a loopback server.

`server.demo_feeds(now)` renders the feeds in `feeds/` with dates relative to
`now`; `server.FeedServer` serves them on 127.0.0.1; `demo.toml` is the
configuration template whose `{port}` and `{db_url}` the demo fills in.
"""
