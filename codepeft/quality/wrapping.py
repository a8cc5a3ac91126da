"""The names the quality analysers use for wrapping and syntax checks; the decision lives in ``codepeft.wrapping``.

PMD and Checkstyle parse whole compilation units: a file holding only a method (94% of CoderEval Java
generations) is a parse error for them. :func:`codepeft.wrapping.wrap_bare_members` is the one wrapping
decision, shared with execution and the wrapping scripts; the tree-sitter helpers live in
``codepeft.sourcecode``. This module only re-exports them under the names the analysers import.
"""

from codepeft.sourcecode import count_syntax_errors, parser
from codepeft.wrapping import WRAPPER_CLASS, Wrapped, layout, wrap_bare_members

__all__ = ["WRAPPER_CLASS", "Wrapped", "count_syntax_errors", "layout", "parser", "wrap_bare_members"]
