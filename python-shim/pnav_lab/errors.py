"""Typed errors and the one warning class of pnav_lab."""


class PnavError(Exception):
    """Base class of every error raised by pnav_lab."""


class SidecarUnavailable(PnavError):
    """No sidecar could be found or started, or it stopped answering."""


class NodeMissing(SidecarUnavailable):
    """Node.js (>= 20) is needed to start the sidecar and was not found."""


class SidecarStartFailed(SidecarUnavailable):
    """A sidecar process was started but never became ready."""


class SidecarRequestError(PnavError):
    """The sidecar answered with an error envelope `{error: {code, message, issues}}`."""

    def __init__(self, status: int, code: str, message: str, issues=None):
        self.status = status
        self.code = code
        self.issues = issues or []
        detail = '; '.join(f'{i.get("path") or "(body)"}: {i.get("message")}' for i in self.issues)
        super().__init__(f'{message} ({detail})' if detail else message)


class PnavValidationError(PnavError, ValueError):
    """An argument of the magic, decorator or tracker is invalid. The message names the field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f'{field}: {message}')


class PnavWarning(UserWarning):
    """Measurement trouble that never stops the user's code."""


# Each unmeasured cell says so: Python's default filter would show a warning from one place only once.
import re  # noqa: E402
import warnings  # noqa: E402

warnings.filterwarnings('always', category=PnavWarning)

# Sentences joined from an error message that ends in a full stop ("...URL).. Your code") get one.
_DOUBLED_STOP = re.compile(r'(?<!\.)\.\.(?=\s|$)')


def format_pnav_warning(message) -> str:
    """`PnavWarning: <message>` on one line: the default format adds `file:line:` and a second line
    quoting our own source (pnav_lab internals), which tells the user nothing."""
    text = _DOUBLED_STOP.sub('.', ' '.join(str(message).split()))
    return f'PnavWarning: {text}\n'


_default_formatwarning = warnings.formatwarning


def _formatwarning(message, category, filename, lineno, line=None):
    if isinstance(category, type) and issubclass(category, PnavWarning):
        return format_pnav_warning(message)
    return _default_formatwarning(message, category, filename, lineno, line)


if getattr(warnings.formatwarning, '__module__', None) != __name__:  # once, even if this module is reloaded
    warnings.formatwarning = _formatwarning
