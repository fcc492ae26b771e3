"""L2, the use cases: each combines the store, the connectors and the digests
(fetch and store, build a recipient's digest, send what is due, health)."""
