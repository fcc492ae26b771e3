"""The `rss` kind: RSS 0.9x/1.0/2.0, Atom and JSON Feed (podcasts and YouTube channels included)."""
