"""Runs the body of a `%%pnav` cell inside the calling cell, the way IPython's own `%%time` does.

Transform, parse, compile and `exec` in the user's namespace: no nested `run_cell` (no second set of
cell events, history entry, display trap or execution result), which is most of what measuring a
cell used to cost. What `run_cell` would do for the body is kept:

- the last expression goes through the display hook (`Out[N]`, `_`), unless it ends with `;`;
- tracebacks and syntax errors show the user's code as `Cell In[N]` with the notebook's line numbers
  (the `%%pnav` line stays line 1) and no frame of ours;
- `%%pnav` above another cell magic, line magics and shell escapes in the body work (IPython's
  transforms); top-level `await` runs on IPython's loop runner where there is no running loop.
"""

from __future__ import annotations

import ast
import inspect
import io
import sys
import tokenize
from warnings import warn

_TOP_LEVEL_AWAIT = getattr(ast, 'PyCF_ALLOW_TOP_LEVEL_AWAIT', 0)


def body_source(line: str, cell: str) -> str:
    """The body, with a comment standing in for the `%%pnav` line so line numbers match the cell."""
    if cell.lstrip().startswith('%%'):
        return cell  # a nested cell magic must stay on the first line
    return f'# %%pnav {line}'.rstrip() + '\n' + cell


def ends_with_semicolon(source: str) -> bool:
    """`x;` hides the value, as IPython's display hook decides for a whole cell."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    skip = (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)
    for token in reversed(tokens):
        if token.type not in skip:
            return token.type == tokenize.OP and token.string == ';'
    return False


def _cache(compiler, transformed: str, number: int, raw: str) -> str:
    """Registers the source under `Cell In[number]` for tracebacks; returns the file name to compile with."""
    try:
        return compiler.cache(transformed, number, raw_code=raw)
    except TypeError:  # IPython < 8 takes no raw_code
        return compiler.cache(transformed, number)


def _interactive_nodes(nodes: list, interactivity: str) -> tuple[list, list]:
    """(nodes run silently, nodes whose value is displayed), as IPython's run_ast_nodes splits them."""
    if interactivity == 'last_expr_or_assign':
        last = nodes[-1]
        target = None
        if isinstance(last, ast.Assign) and len(last.targets) == 1:
            target = last.targets[0]
        elif isinstance(last, (ast.AugAssign, ast.AnnAssign)):
            target = last.target
        if isinstance(target, ast.Name):
            nodes = [*nodes, ast.fix_missing_locations(ast.Expr(ast.Name(target.id, ast.Load())))]
        interactivity = 'last_expr'
    if interactivity == 'last_expr':
        interactivity = 'last' if isinstance(nodes[-1], ast.Expr) else 'none'
    if interactivity == 'last':
        return nodes[:-1], nodes[-1:]
    if interactivity == 'all':
        return [], nodes
    return nodes, []


def compile_body(shell, source: str, number: int) -> list:
    """The body as code objects to run in order (SyntaxError and transform errors propagate)."""
    transformed = shell.transform_cell(source)
    compiler = shell.compile
    filename = _cache(compiler, transformed, number, source)
    tree = compiler.ast_parse(transformed, filename=filename)
    tree = shell.transform_ast(tree)
    if not tree.body:
        return []
    silent, shown = _interactive_nodes(tree.body, shell.ast_node_interactivity)
    if shown and ends_with_semicolon(transformed):
        silent, shown = silent + shown, []
    flags = _TOP_LEVEL_AWAIT if getattr(shell, 'autoawait', False) else 0
    codes = []
    with compiler.extra_flags(flags):
        if silent:
            codes.append(compiler(ast.Module(silent, []), filename, 'exec'))
        codes.extend(compiler(ast.Interactive([node]), filename, 'single') for node in shown)
    return codes


def needs_event_loop(codes: list) -> bool:
    return any(code.co_flags & inspect.CO_COROUTINE for code in codes)


def prepare(shell, source: str, number: int) -> tuple[list, BaseException | None]:
    """(code objects, None), or ([], the error) after showing it as IPython shows a cell that does not compile."""
    try:
        return compile_body(shell, source, number), None
    except (OverflowError, SyntaxError, ValueError, TypeError, MemoryError) as error:
        shell.showsyntaxerror()
        return [], error
    except Exception as error:  # an input transformer failed
        shell.showtraceback()
        return [], error


def _users_part(error: BaseException):
    """The exception with its traceback starting at the user's code: this module's frame left out."""
    tb = error.__traceback__
    return type(error), error, (tb.tb_next if tb is not None else None)


def run(shell, codes: list) -> BaseException | None:
    """Runs the body in the user's namespace; shows any error as IPython's run_code would and returns it."""
    # The user's code calling sys.excepthook must reach IPython's, not the crash handler.
    saved_hook, sys.excepthook = sys.excepthook, shell.excepthook
    try:
        for code in codes:
            value = eval(code, shell.user_global_ns, shell.user_ns)
            if code.co_flags & inspect.CO_COROUTINE:
                shell.loop_runner(value)
    except SystemExit as error:
        shell.showtraceback(exception_only=True)
        warn('To exit: use `exit`, `quit`, or Ctrl-D.', stacklevel=1)
        return error
    except shell.custom_exceptions as error:
        shell.CustomTB(*_users_part(error))
        return error
    except BaseException as error:
        shell.showtraceback(_users_part(error), tb_offset=0, running_compiled_code=True)
        return error
    finally:
        sys.excepthook = saved_hook
    return None
