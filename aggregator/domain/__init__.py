"""L0, the vocabulary: posts, sources, recipients, deliveries, errors, the clock.

Standard library only; every other folder may import it, it imports none of ours.
"""
