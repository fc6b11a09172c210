"""The error hierarchy. Every message says what failed and how to fix it.

The CLI prints ``str(error)`` and exits with ``error.exit_code``: no traceback
for anything raised from here. A URI in a message (or anywhere provex stores
or prints it) goes through :func:`shown_uri` (:mod:`provex.vocab.secrets`): never with its
credentials.
"""

from provex.vocab.secrets import scrubbed, shown_uri

__all__ = ["scrubbed", "shown_uri"]  # the one URI scrubber lives in provex.vocab.secrets; kept here for callers


class ProvexError(Exception):
    """Base: a failure the user can act on."""

    exit_code = 1


class UsageError(ProvexError):
    """Bad arguments or bad input given by the user."""

    exit_code = 2


class ServerError(ProvexError):
    """The managed Neo4j could not be fetched, started or stopped."""


class ConnectionFailed(ProvexError):
    """Neo4j is unreachable, or refused the credentials."""


class QueryError(ProvexError):
    """A query was rejected (syntax, read-only violation, timeout)."""

    exit_code = 2


class TooLarge(ProvexError):
    """A write needed more memory than Neo4j allows one transaction
    (``db.memory.transaction.max`` / ``db.memory.transaction.total.max``).
    The writer splits such a batch and writes it again in parts."""


class SourceError(ProvexError):
    """A source (repository, tracking URI, file) cannot be read at all."""


class LockHeld(ProvexError):
    """Another ingest holds the database's ingest lock (exit code 3)."""

    exit_code = 3


class ReadFailed(SourceError):
    """One part of a source (an experiment, a run, a file) could not be read:
    the source's own error, in one line. Adapters turn it into a Reject and
    read on; it is raised only from the mapping in :mod:`provex.ingest.failures`."""
