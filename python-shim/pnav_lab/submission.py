"""The outcome of a PNAV submission, told to the user: delivered, rejected (with the server's message and
what to fix), queued for retry or uncertain (with the outbox id). calculadorapnav's POST is synchronous and
logs its result; the sidecar's outbox is durable, so the client waits for the first outcome, up to the
endpoint timeout, and says what it was.
"""

from __future__ import annotations

from urllib.parse import quote

from .contract import API_PREFIX
from .errors import PnavError

# The first attempt's timeout in the sidecar (calculadorapnav's 10 s) and a margin for the queue and the close.
DEFAULT_WAIT_S = 12.0


def wait_for_outcome(client, upload_id: str, wait_s: float = DEFAULT_WAIT_S) -> dict | None:
    """The upload after its first outcome (or as it stands after wait_s); None when the sidecar cannot say."""
    wait_ms = max(0, int(wait_s * 1000))
    try:
        answer = client.request(
            'GET', f'{API_PREFIX}/uploads/{quote(upload_id, safe="")}?waitMs={wait_ms}', timeout_s=wait_s + 5.0
        )
    except PnavError:
        return None
    return answer.get('upload') if isinstance(answer, dict) else None


def describe(upload: dict) -> tuple[str, str]:
    """(level, one line) for an upload: 'info' when delivered or still pending, 'error' when refused for good."""
    upload_id = upload.get('id', '?')
    status = upload.get('status')
    error = upload.get('lastError')
    if status == 'sent':
        http = f' (HTTP {upload["lastHttpStatus"]})' if upload.get('lastHttpStatus') else ''
        return 'info', f'PNAV submission {upload_id} delivered{http}.'
    if status == 'failed':
        fix = f' To fix: {upload["fix"]}.' if upload.get('fix') else ''
        return 'error', f'PNAV submission {upload_id} rejected: {error or "no message"}.{fix}'
    if status == 'uncertain':
        pending = upload.get('nextAttemptAt') is not None
        tail = (
            'it is sent again with the same Idempotency-Key; see `pnav upload --status`.'
            if pending
            else f'{upload.get("fix") or "it is no longer retried"}.'
        )
        return 'warning', f'PNAV submission {upload_id} uncertain ({error or "no answer"}): {tail}'
    if status == 'retrying':
        return 'warning', (
            f'PNAV submission {upload_id} queued for retry ({error or "not delivered yet"}); '
            'the sidecar keeps trying, see `pnav upload --status`.'
        )
    return 'info', f'PNAV submission {upload_id} {status or "queued"}: not sent yet; see `pnav upload --status`.'
