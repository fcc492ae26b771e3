"""L0, the vocabulary: posts, sources, recipients, deliveries, errors, the clock,
and what a post is about (canonical URL, story keys, text signature, spam signals).

Standard library only; every other folder may import it, it imports none of ours.
"""
