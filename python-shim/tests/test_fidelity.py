"""The drop-in details that make a PNAV Lab record read like calculadorapnav's, and submission outcomes told
to the user: a real sidecar and a real local PNAV endpoint (`pnav mock-pnav`) on loopback."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
import warnings
from datetime import datetime

import pnav_lab
import pytest
from conftest import SIDECAR_CLI
from pnav_lab import track_emissions
from pnav_lab.errors import PnavValidationError, PnavWarning

MODEL_ID = 'a' * 64
TOKEN = '0123456789abcdef' * 4


@pytest.fixture(autouse=True)
def in_tmp(sidecar_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def mock_pnav(tmp_path):
    """`pnav mock-pnav --token <another token>`: answers 401 with its message to our token."""
    process = subprocess.Popen(
        ['node', str(SIDECAR_CLI), 'mock-pnav', '--port', '0', '--token', 'f' * 64],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = process.stdout.readline()
    match = re.search(r'listening on (http://\S+?)/ ', line)
    assert match, line
    yield match.group(1)
    process.terminate()
    process.wait(timeout=10)


def offline(**kwargs):
    kwargs.setdefault('country_iso_code', 'ESP')
    return track_emissions(type_process='training', offline=True, **kwargs)


def rows(path):
    with open(path, newline='') as handle:
        return list(csv.DictReader(handle))


def test_pue_is_written_as_given_int_or_float(in_tmp):
    offline(pue=1)(lambda: None)()
    offline(pue=1.0)(lambda: None)()
    offline()(lambda: None)()  # calculadorapnav's default is the float 1.0
    assert [r['pue'] for r in rows(in_tmp / 'emissions_training.csv')] == ['1', '1.0', '1.0']


def test_region_is_lower_cased_and_an_unknown_country_falls_back_to_spain_with_one_warning(in_tmp):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        offline(country_iso_code='XYZ', region='Madrid')(lambda: None)()
    messages = [str(w.message) for w in caught if issubclass(w.category, PnavWarning)]
    assert messages == [
        "pnav: no emission factors for country_iso_code 'XYZ'; Spain (ESP) is used, as calculadorapnav does"
    ]
    row = rows(in_tmp / 'emissions_training.csv')[0]
    assert (row['country_iso_code'], row['country_name'], row['region']) == ('ESP', 'Spain', 'madrid')
    assert pnav_lab.last_run()['run']['location']['countrySource'] == 'default'


def test_accepts_what_the_calculator_accepts_offline_with_warnings(in_tmp):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        offline(model_id='my resnet v2', n_batch=10.0, n_epoch=2.5, pue=3.5)(lambda: None)()
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, PnavWarning))
    assert messages == [
        "pnav: model_id 'my resnet v2' is not the 64-character lowercase hexadecimal id PNAV expects; written as is",
        'pnav: n_epoch 2.5 is not a whole number; 2 is used',
        'pnav: pue 3.5 is outside the usual 1..3; used as given',
    ]
    row = rows(in_tmp / 'emissions_training.csv')[0]
    assert (row['model_id'], row['n_batch'], row['n_epoch'], row['pue']) == ('my resnet v2', '10', '2', '3.5')


def test_path_like_output_file_is_joined_to_output_dir_as_in_the_calculator(in_tmp):
    (in_tmp / 'results').mkdir()
    offline(output_file=os.path.join('results', 'run.csv'))(lambda: None)()
    assert len(rows(in_tmp / 'results' / 'run.csv')) == 1
    absolute = in_tmp / 'abs.csv'
    offline(output_dir=str(in_tmp / 'results'), output_file=absolute)(lambda: None)()  # a PathLike, absolute
    assert len(rows(absolute)) == 1
    called = []
    wrapped = offline(output_file='missing/run.csv')(lambda: called.append(1))
    with pytest.raises(OSError, match=r"^Folder '.*/missing' doesn't exist !$"):
        wrapped()
    assert called == []


def test_timestamp_is_the_calling_process_local_time(in_tmp, monkeypatch):
    # The sidecar runs in the test machine's zone; this process moves to UTC+05:30.
    monkeypatch.setenv('TZ', 'Asia/Kolkata')
    time.tzset()
    try:
        offline()(lambda: None)()
        expected = datetime.now()
    finally:
        monkeypatch.undo()
        time.tzset()
    stamp = datetime.strptime(rows(in_tmp / 'emissions_training.csv')[0]['timestamp'], '%Y-%m-%dT%H:%M:%S')
    assert abs((expected - stamp).total_seconds()) < 60


def test_log_level_and_logger_preamble_act_on_the_pnav_lab_logger(in_tmp, capsys):
    def fails():
        raise ValueError('boom')

    with pytest.raises(ValueError):
        offline(log_level='info', logger_preamble='exp-7')(fails)()
    err = capsys.readouterr().err
    assert re.search(
        r'^\[pnav_lab INFO @ \d\d:\d\d:\d\d\] \[exp-7\] the run ended with an error: no PNAV CSV row and no '
        r'submission \(record_failed=True records it anyway\)$',
        err,
        re.M,
    ), err
    with pytest.raises(ValueError):
        offline(log_level='error', logger_preamble='')(fails)()
    assert 'the run ended' not in capsys.readouterr().err
    pnav_lab.log.configure('info')
    assert str(refused_log_level()) == "log_level: must be one of debug, info, warning, error, critical (got 'loud')"


def refused_log_level():
    wrapped = offline(log_level='loud')(lambda: None)
    with pytest.raises(PnavValidationError) as error:
        wrapped()
    return error.value


def test_a_401_reaches_the_user_with_the_server_message_and_what_to_fix(in_tmp, mock_pnav, capsys):
    result = track_emissions(
        type_process='training', model_id=MODEL_ID, endpoint_url=f'{mock_pnav}/api/v1/emissions', token=TOKEN
    )(lambda: 'done')()
    assert result == 'done'
    upload = pnav_lab.last_run()['upload']
    err = capsys.readouterr().err
    assert (
        '[pnav_lab ERROR @ ' in err
        and f'] PNAV submission {upload["id"]} rejected: HTTP 401: invalid or missing token. To fix: the PNAV server '
        'refused the token: check token= / PNAV_TOKEN (the token of the provider profile on the PNAV web site).'
        in err
    ), err
    assert TOKEN not in err


def test_magic_submits_with_token_env_and_shows_the_outcome(shell, mock_pnav, monkeypatch, capsys):
    monkeypatch.setenv('MY_PNAV_TOKEN', TOKEN)
    result = shell.run_cell(
        f'%%pnav --endpoint {mock_pnav}/api/v1/emissions --token-env MY_PNAV_TOKEN --model-id {MODEL_ID}\nx = 1'
    )
    assert result.success
    err = capsys.readouterr().err
    assert 'rejected: HTTP 401: invalid or missing token' in err, err
    assert TOKEN not in err
    shell.run_cell(
        f'%%pnav --endpoint http://127.0.0.1:9/x --token-env NOT_SET_ANYWHERE --model-id {MODEL_ID}\nran = True'
    )
    assert 'ran' not in shell.user_ns
    assert 'UsageError: %%pnav --token-env: the environment variable NOT_SET_ANYWHERE is not set' in (
        capsys.readouterr().err
    )


if sys.platform == 'win32':  # time.tzset
    pytestmark = pytest.mark.skip('POSIX time zones')
