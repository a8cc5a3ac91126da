"""The one error type for mistakes a user can fix (bad flag, missing file, malformed line).

Scripts run through :func:`codepeft.cli.main_entry`, which prints a ``UserError`` as one line
and exits with status 2. Anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input: the message names the file, line or flag and what to do."""
