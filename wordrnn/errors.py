"""Errors a user can act on. Each message says what is wrong and what to do about it."""


class WordRNNError(Exception):
    """Base class of every error wordrnn raises on purpose."""


class CheckpointError(WordRNNError):
    """A checkpoint folder or Hub repo is missing, broken, or not a wordrnn checkpoint."""


class HubError(CheckpointError):
    """The Hub could not be reached, or refused a download or a push."""


class HubUnreachable(HubError):
    """The Hub did not answer and nothing usable was cached (as opposed to a Hub that refused)."""


class PromptError(WordRNNError, ValueError):
    """A generation prompt cannot be used (empty, too long, or no known words)."""
