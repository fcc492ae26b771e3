"""A made-up network, "FakeNet", laid out as a real one is: `options` (its
`Network` and option specs) and `connector`. Nothing in the program names
it: `tests/connectors/test_registry.py` adds its one REGISTRY line."""
