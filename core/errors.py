"""The errors every core function raises; the CLI maps them to exit codes, the TUI
shows their one-line message where the eye is."""


class ClinicastError(Exception):
    exit_code = 1


class BadInput(ClinicastError):
    """Bad usage or bad input (a file, a value, an unknown id): exit status 2, nothing changed."""

    exit_code = 2


class Refused(ClinicastError):
    """A rule forbids the action (permission, limit, window): exit status 1, nothing changed."""

    exit_code = 1


class PermissionDenied(Refused):
    pass


class NotFound(BadInput):
    pass
