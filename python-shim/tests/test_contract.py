"""The Python side calls only routes of the sidecar's contract (`contract.py`, generated from its OpenAPI
document): a renamed or removed route fails here, not in a user's kernel."""

from __future__ import annotations

import re
from pathlib import Path

from pnav_lab.contract import API_PREFIX, ROUTES

PACKAGE = Path(__file__).resolve().parents[1] / 'pnav_lab'
# `request('GET', f'{API_PREFIX}/runs/{quote(run_id, safe="")}')`, `_send('POST', f'{API_PREFIX}/runs', ...)`
CALL = re.compile(r"""['"](GET|POST|PUT|PATCH|DELETE)['"],\s*f'\{API_PREFIX\}([^']*)'""")


def called_routes() -> set[str]:
    routes = set()
    for source in PACKAGE.glob('*.py'):
        for method, path in CALL.findall(source.read_text(encoding='utf-8')):
            path = re.sub(r'\{quote\((run|upload)_id[^}]*\)\}', '{id}', path)
            path = re.sub(r'\?.*$|\{suffix\}$', '', path)  # a query string is not part of the route
            routes.add(f'{method} {API_PREFIX}{path}')
    return routes


def test_every_route_the_package_calls_is_in_the_contract():
    called = called_routes()
    assert len(called) >= 10  # the client's run, epoch and batch calls, and the line commands'
    assert sorted(called - set(ROUTES)) == []
