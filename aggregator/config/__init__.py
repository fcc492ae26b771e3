"""L1, the configuration: `config.toml` read into frozen dataclasses, every
problem reported with its line."""
