"""Field rules shared by the magic, the decorator and the tracker: each error names its field."""

from __future__ import annotations

import pytest
from pnav_lab import validation
from pnav_lab.errors import PnavValidationError


def test_token_normalisation_and_secrecy():
    token = '0123456789abcdef' * 4
    assert validation.token(f'  {token.upper()[:20]} {token.upper()[20:]}') == token
    with pytest.raises(PnavValidationError) as error:
        validation.token('secret-value')
    assert error.value.field == 'token' and 'secret-value' not in str(error.value)


@pytest.mark.parametrize('value,expected', [('0,2', [0, 2]), ([1, 3], [1, 3]), ('', []), (' 1 ', [1])])
def test_gpu_ids(value, expected):
    assert validation.gpu_ids(value) == expected


def test_gpu_ids_rejects_garbage():
    with pytest.raises(PnavValidationError, match='^gpu_ids: '):
        validation.gpu_ids('a,b')


def test_components_and_labels():
    assert validation.components('CPU, ram,cpu') == ['cpu', 'ram']
    with pytest.raises(
        PnavValidationError, match="^--components: must be a comma-separated subset of cpu,gpu,ram \\(got 'disk'\\)$"
    ):
        validation.components('disk', '--components')
    assert validation.labels(['baseline', 'lr=0.1', 'v2']) == ('baseline v2', {'lr': '0.1'})


@pytest.mark.parametrize('value', [0.99, 3.5, True, 'x', float('nan')])
def test_pue_bounds(value):
    with pytest.raises(PnavValidationError, match='^pue: must be a number between 1 and 3'):
        validation.pue(value)


@pytest.mark.parametrize('value', [-1, 1.5, '3', True])
def test_counts(value):
    with pytest.raises(PnavValidationError, match='^n_epoch: must be a whole number >= 0'):
        validation.count(value, 'n_epoch')


def test_plain_http_endpoint_refused_unless_loopback_or_allowed(monkeypatch):
    monkeypatch.delenv('PNAV_ALLOW_INSECURE_ENDPOINT', raising=False)
    with pytest.raises(PnavValidationError) as error:
        validation.endpoint_url('http://pnav.example.es/api')
    assert str(error.value) == (
        'endpoint_url: must be https://: over http:// the PNAV token would travel in clear to pnav.example.es '
        '(only loopback addresses may use http://, unless you pass --allow-insecure-endpoint or set '
        'PNAV_ALLOW_INSECURE_ENDPOINT=1)'
    )
    assert validation.endpoint_url('http://pnav.example.es/api', allow_insecure=True) == 'http://pnav.example.es/api'
    for url in ('http://127.0.0.1:9/api', 'http://localhost:8/', 'http://[::1]:7/', 'https://pnav.example.es/'):
        assert validation.endpoint_url(url) == url
    monkeypatch.setenv('PNAV_ALLOW_INSECURE_ENDPOINT', '1')
    assert validation.endpoint_url('http://pnav.example.es/api') == 'http://pnav.example.es/api'
