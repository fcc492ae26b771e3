"""The `bluesky_search` kind: `app.bsky.feed.searchPosts` over XRPC."""
