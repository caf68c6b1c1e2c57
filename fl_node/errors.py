"""Errors a user can cause or fix. The CLI prints them as one clear message, never a traceback.

Every module raises a subclass of :class:`FlNodeError` for bad input, bad configuration or an
environment problem (unreachable RPC, missing tool); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class FlNodeError(Exception):
    """Base class of every error that is the user's to fix; ``str(err)`` says what and how."""


class ConfigError(FlNodeError):
    """A configuration file or command-line value is invalid."""


class ToolchainError(FlNodeError):
    """A build tool (node, npm, solc, anvil) is missing or misbehaves."""


class ChainError(FlNodeError):
    """The chain cannot be reached or refused what was asked."""


class ArtifactError(FlNodeError):
    """An artifact (model blob, results table) is missing, corrupt or does not match its hash."""
