"""The `mastodon_tag` kind: an instance's public hashtag timeline."""
