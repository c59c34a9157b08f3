"""Validation shared by the magic, the decorator and the tracker, with calculadorapnav's rules.

The accepted values, patterns and limits are the sidecar's own (`contract.py`, generated from its
schemas), so what passes here passes there. Every error is a PnavValidationError whose message
starts with the field's name.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from urllib.parse import urlsplit

from .contract import (
    COMPONENTS,
    COUNTRY_ISO3_PATTERN,
    CSV_WRITE_MODES,
    ENDPOINT_URL_PATTERN,
    LABEL_NAME_PATTERN,
    LABEL_TEXT_MAX_LENGTH,
    LABEL_VALUE_MAX_LENGTH,
    LABELS_MAX_COUNT,
    MODEL_ID_PATTERN,
    PUE_MAX,
    PUE_MIN,
    TOKEN_PATTERN,
    TYPE_PROCESSES,
    TYPE_RAMS,
)
from .errors import PnavValidationError

__all__ = ['COMPONENTS', 'CSV_WRITE_MODES', 'TYPE_PROCESSES', 'TYPE_RAMS']

_ISO3 = re.compile(COUNTRY_ISO3_PATTERN)
_MODEL_ID = re.compile(MODEL_ID_PATTERN)
_TOKEN = re.compile(TOKEN_PATTERN)
_ENDPOINT_URL = re.compile(ENDPOINT_URL_PATTERN)
_LABEL_NAME = re.compile(LABEL_NAME_PATTERN)


def type_process(value, field: str = 'type_process') -> str:
    if value not in TYPE_PROCESSES:
        raise PnavValidationError(field, f"must be 'training' or 'inference' (got {value!r})")
    return value


def type_ram(value, field: str = 'type_ram') -> str:
    if value not in TYPE_RAMS:
        raise PnavValidationError(field, f"must be one of 'DDR3', 'DDR4', 'DDR5' (got {value!r})")
    return value


def on_csv_write(value, field: str = 'on_csv_write') -> str:
    if value not in CSV_WRITE_MODES:
        raise PnavValidationError(field, f"must be 'append' or 'update' (got {value!r})")
    return value


def country_iso3(value, field: str = 'country_iso_code') -> str:
    if not isinstance(value, str) or not _ISO3.match(value):
        raise PnavValidationError(field, f'must be 3 uppercase letters (ISO 3166-1 alpha-3), e.g. ESP (got {value!r})')
    return value


def model_id(value, field: str = 'model_id') -> str:
    if not isinstance(value, str) or not _MODEL_ID.match(value):
        raise PnavValidationError(field, 'must be a 64-character lowercase hexadecimal string (hash)')
    return value


def endpoint_url(value, field: str = 'endpoint_url', allow_insecure: bool | None = None) -> str:
    """An http(s) URL; plain http:// only to loopback, unless allowed (argument, or PNAV_ALLOW_INSECURE_ENDPOINT=1):
    the PNAV token would travel in clear."""
    if not isinstance(value, str) or not _ENDPOINT_URL.match(value):
        raise PnavValidationError(field, f"must be a URL starting with 'http://' or 'https://' (got {value!r})")
    if allow_insecure is None:
        allow_insecure = insecure_endpoint_allowed()
    if value.lower().startswith('http://') and not allow_insecure:
        host = urlsplit(value).hostname or ''
        if not _is_loopback_host(host):
            raise PnavValidationError(
                field,
                f'must be https://: over http:// the PNAV token would travel in clear to {host} (only loopback '
                'addresses may use http://, unless you pass --allow-insecure-endpoint or set '
                'PNAV_ALLOW_INSECURE_ENDPOINT=1)',
            )
    return value


def insecure_endpoint_allowed() -> bool:
    return os.environ.get('PNAV_ALLOW_INSECURE_ENDPOINT', '').strip().lower() in ('1', 'true', 'yes')


def _is_loopback_host(host: str) -> bool:
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_token(value) -> str | None:
    """calculadorapnav's normalisation: lower case, stripped, spaces removed."""
    if not isinstance(value, str):
        return None
    return value.lower().strip().replace(' ', '')


def token(value, field: str = 'token') -> str:
    """A PNAV token: `[a-f0-9]{64}` after normalisation. The message never repeats the token."""
    normalised = normalise_token(value)
    if normalised is None or not _TOKEN.match(normalised):
        raise PnavValidationError(
            field,
            'must be the 64-character hexadecimal PNAV token (pass token=..., or set PNAV_TOKEN; '
            'offline=True needs none)',
        )
    return normalised


LOG_LEVELS = ('debug', 'info', 'warning', 'error', 'critical')


def _warn(message: str) -> None:
    import warnings

    from .errors import PnavWarning

    warnings.warn(f'pnav: {message}', PnavWarning, stacklevel=4)


def log_level(value, field: str = 'log_level') -> str:
    level = value.lower() if isinstance(value, str) else value
    if level not in LOG_LEVELS:
        raise PnavValidationError(field, f'must be one of {", ".join(LOG_LEVELS)} (got {value!r})')
    return level


def lenient_model_id(value, field: str = 'model_id') -> str:
    """Offline, calculadorapnav writes any model_id: accepted, with a warning when PNAV would refuse it online."""
    text = str(value)
    if not _MODEL_ID.match(text):
        _warn(f'{field} {text[:80]!r} is not the 64-character lowercase hexadecimal id PNAV expects; written as is')
    return text[:200]


def lenient_count(value, field: str) -> int:
    """calculadorapnav takes any number as n_batch / n_epoch (a divisor): a whole float is that int, other
    numbers are rounded with a warning; a negative one is refused (it would flip the per-batch figures)."""
    if isinstance(value, float) and not isinstance(value, bool) and math.isfinite(value):
        if not value.is_integer():
            _warn(f'{field} {value!r} is not a whole number; {round(value)} is used')
        value = round(value)
    return count(value, field)


def lenient_pue(value, field: str = 'pue') -> float:
    """calculadorapnav takes any PUE; one outside 1..3 is unusual and gets a warning. Zero or less is refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0 or value > 100:
        raise PnavValidationError(field, f'must be a number > 0 (typically 1..3; got {value!r})')
    if not 1 <= value <= 3:
        _warn(f'{field} {value!r} is outside the usual 1..3; used as given')
    return value


def count(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PnavValidationError(field, f'must be a whole number >= 0 (got {value!r})')
    return value


def pue(value, field: str = 'pue') -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or math.isnan(value)
        or not PUE_MIN <= value <= PUE_MAX
    ):
        raise PnavValidationError(field, f'must be a number between {PUE_MIN} and {PUE_MAX} (got {value!r})')
    return float(value)


def gpu_ids(value, field: str = 'gpu_ids') -> list[int]:
    """A list of ints, or calculadorapnav's comma-separated string ("1,2")."""
    items = value.split(',') if isinstance(value, str) else value
    try:
        ids = [int(str(item).strip()) for item in items if str(item).strip() != '']
    except (TypeError, ValueError):
        raise PnavValidationError(
            field, f'must be a list of GPU indexes or a string like "0,1" (got {value!r})'
        ) from None
    if any(i < 0 for i in ids):
        raise PnavValidationError(field, 'GPU indexes must be >= 0')
    return ids


def components(value, field: str = 'components') -> list[str]:
    items = value.split(',') if isinstance(value, str) else list(value)
    names = [str(item).strip().lower() for item in items if str(item).strip()]
    unknown = [n for n in names if n not in COMPONENTS]
    if not names or unknown:
        raise PnavValidationError(field, f'must be a comma-separated subset of cpu,gpu,ram (got {value!r})')
    return list(dict.fromkeys(names))


def labels(values, field: str = 'label') -> tuple[str | None, dict]:
    """`--label text` sets the run's label; `--label key=value` adds a label pair."""
    text, pairs = [], {}
    for value in values or []:
        value = str(value)
        # IPython's argument splitting keeps the quotes of `--label "train MLP"`.
        if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
            value = value[1:-1]
        key, sep, rest = value.partition('=')
        if sep and _LABEL_NAME.match(key):
            pairs[key] = rest[:LABEL_VALUE_MAX_LENGTH]
        else:
            text.append(value)
    if len(pairs) > LABELS_MAX_COUNT:
        raise PnavValidationError(field, f'at most {LABELS_MAX_COUNT} key=value labels')
    label = ' '.join(text)[:LABEL_TEXT_MAX_LENGTH] or None
    return label, pairs
