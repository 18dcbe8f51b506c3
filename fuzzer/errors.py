"""User-facing errors: one line, naming the bad input and the fix."""


class WarpfuzzError(Exception):
    """An error caused by the user's input or environment, reported as one line without traceback."""


class PluginError(WarpfuzzError):
    """A grammar or backend plugin failed to load or validate."""
