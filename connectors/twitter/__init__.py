"""The X (Twitter) kinds: `twitter_search`, `twitter_user`, `twitter_list`, through tweepy."""
