"""Jinja2 templates for the digest (installed as the package `digests.templates`)."""
