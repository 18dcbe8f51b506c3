"""Jinja2 templates that turn a kernel model into a standalone Warp module."""
