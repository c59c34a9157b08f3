"""Settings end to end: `%pnav config` in a real IPython shell writes through a real sidecar, and the
next `%%pnav` run uses the value and says where it came from; `--components` excludes, and labels."""

from __future__ import annotations

import os

import pnav_lab
import pytest
from conftest import _reset_client, start_sidecar
from IPython.utils.capture import capture_output


@pytest.fixture
def config_sidecar(tmp_path, monkeypatch):
    """A sidecar of its own whose user config lives in tmp_path (its HOME and XDG_CONFIG_HOME)."""
    home = tmp_path / 'home'
    home.mkdir()
    monkeypatch.setenv('HOME', str(home))
    monkeypatch.setenv('XDG_CONFIG_HOME', str(tmp_path / 'xdg'))
    running = start_sidecar(tmp_path / 'sidecar')
    yield running
    running.stop()


@pytest.fixture
def config_shell(config_sidecar, tmp_path, monkeypatch):
    """A real IPython shell working in a notebook directory inside HOME, talking to config_sidecar."""
    from IPython.testing.globalipapp import get_ipython, start_ipython

    for name in [n for n in os.environ if n.startswith('PNAV_')]:
        monkeypatch.delenv(name)
    monkeypatch.delenv('CUDA_VISIBLE_DEVICES', raising=False)
    monkeypatch.setenv('PNAV_SIDECAR_URL', config_sidecar.url)
    monkeypatch.setenv('PNAV_SIDECAR_TOKEN', config_sidecar.token)
    monkeypatch.setenv('PNAV_RUNTIME_DIR', str(config_sidecar.runtime_dir))
    monkeypatch.setenv('PNAV_SIDECAR_CMD', 'false')
    notebooks = tmp_path / 'home' / 'project' / 'notebooks'
    notebooks.mkdir(parents=True)
    monkeypatch.chdir(notebooks)
    _reset_client()
    ip = start_ipython() or get_ipython()
    ip.run_line_magic('load_ext', 'pnav_lab')
    yield ip
    ip.run_line_magic('unload_ext', 'pnav_lab')
    _reset_client()


def run_cell(shell, source):
    with capture_output() as captured:
        result = shell.run_cell(source, store_history=True)
    return result, captured


def measured_cell(shell, sidecar, options: str = '') -> dict:
    """Runs a %%pnav cell that uses 20 J of (fake RAPL) CPU energy; returns its closed run."""
    result, captured = run_cell(shell, f'%%pnav --no-save --quiet {options}\nSIDECAR.add_cpu_energy(20)')
    assert result.success, captured.stderr
    return pnav_lab.last_run()['run']


def test_pnav_config_project_value_reaches_the_next_run_with_its_source(config_shell, config_sidecar, tmp_path):
    config_shell.user_ns['SIDECAR'] = config_sidecar
    project_file = tmp_path / 'home' / 'project' / 'notebooks' / '.pnav.toml'

    result, captured = run_cell(config_shell, '%pnav config pue=1.3 --project')
    assert result.success, captured.stderr
    assert project_file.read_text().splitlines()[-1] == 'pue = 1.3'

    result, listing = run_cell(config_shell, '%pnav config')
    assert result.success, listing.stderr
    pue_line = next(line for line in listing.stdout.splitlines() if line.startswith('pue '))
    assert pue_line.split() == ['pue', '1.3', f'project:{project_file}']

    run = measured_cell(config_shell, config_sidecar)
    assert run['pue'] == 1.3
    assert run['settingsSources']['pue'] == f'project:{project_file}'
    assert run['facilityEnergyJ'] == pytest.approx(run['energyJ'] * 1.3, rel=1e-9)
    assert run['scope']['kind'] in ('machine', 'cgroup', 'slurm')

    # The magic's own argument wins over the project file, and says so.
    explicit = measured_cell(config_shell, config_sidecar, '--pue 1.1')
    assert (explicit['pue'], explicit['settingsSources']['pue']) == (1.1, 'argument')


def test_pnav_config_rejects_unknown_keys_bad_values_and_tokens_writing_nothing(config_shell, tmp_path):
    user_file = tmp_path / 'xdg' / 'pnav-lab' / 'config.toml'
    for line, message in (
        ('%pnav config colour=red', 'colour: unknown setting; known settings: country, region,'),
        ('%pnav config pue=0.2', 'pue: must be >= 1; got "0.2"'),
        ('%pnav config token=abc', 'token: tokens are never stored in configuration; set PNAV_TOKEN'),
    ):
        result, captured = run_cell(config_shell, line)
        assert not result.success
        assert message in str(result.error_in_exec), result.error_in_exec
        assert not user_file.exists()


def test_components_cpu_shows_gpu_and_ram_excluded(config_shell, config_sidecar):
    config_shell.user_ns['SIDECAR'] = config_sidecar
    everything = measured_cell(config_shell, config_sidecar)
    cpu_only = measured_cell(config_shell, config_sidecar, '--components cpu')

    assert cpu_only['components'] == ['cpu']
    assert cpu_only['settingsSources']['components'] == 'argument'
    assert cpu_only['energy']['cpu'] == {**cpu_only['energy']['cpu'], 'included': True, 'energyJ': pytest.approx(20)}
    for excluded in ('gpu', 'ram'):
        assert cpu_only['energy'][excluded]['included'] is False
        assert cpu_only['energy'][excluded]['energyJ'] == 0
    assert cpu_only['energyJ'] == pytest.approx(20)

    assert everything['energy']['ram']['included'] is True
    assert everything['energy']['ram']['energyJ'] > 0  # the RAM model counts when RAM is included
    assert everything['energyJ'] == pytest.approx(
        20 + everything['energy']['ram']['energyJ'] + everything['energy']['gpu']['energyJ']
    )


def test_gpu_ids_from_configuration_beat_the_kernels_cuda_visible_devices(
    config_shell, config_sidecar, tmp_path, monkeypatch
):
    """calculadorapnav: CUDA_VISIBLE_DEVICES is used only when gpu_ids is not configured; the sidecar decides."""
    config_shell.user_ns['SIDECAR'] = config_sidecar
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '2,3')
    visible = measured_cell(config_shell, config_sidecar)
    assert (visible['gpuIds'], visible['settingsSources']['gpu_ids']) == ([2, 3], 'env:CUDA_VISIBLE_DEVICES')

    result, captured = run_cell(config_shell, '%pnav config gpu_ids=0 --project')
    assert result.success, captured.stderr
    configured = measured_cell(config_shell, config_sidecar)
    project_file = tmp_path / 'home' / 'project' / 'notebooks' / '.pnav.toml'
    assert (configured['gpuIds'], configured['settingsSources']['gpu_ids']) == ([0], f'project:{project_file}')


def test_configured_output_dir_takes_the_csv_relative_to_the_notebook_and_an_argument_wins(config_shell, tmp_path):
    notebooks = tmp_path / 'home' / 'project' / 'notebooks'
    (notebooks / 'results').mkdir()
    (notebooks / 'mine').mkdir()
    result, captured = run_cell(config_shell, '%pnav config output_dir=results --project')
    assert result.success, captured.stderr
    result, captured = run_cell(config_shell, '%%pnav --type inference --quiet\nx = 1')
    assert result.success, captured.stderr
    assert pnav_lab.last_run()['csv']['path'] == str(notebooks / 'results' / 'emissions_inference.csv')
    assert (notebooks / 'results' / 'emissions_inference.csv').is_file()
    result, captured = run_cell(config_shell, '%%pnav --type inference --quiet --output-dir mine\nx = 1')
    assert pnav_lab.last_run()['csv']['path'] == str(notebooks / 'mine' / 'emissions_inference.csv')


def test_pnav_config_names_a_settings_file_it_ignored_and_why(config_shell, tmp_path):
    loose = tmp_path / 'home' / 'project' / '.pnav.toml'
    loose.write_text('pue = 3\n')
    loose.chmod(0o666)  # anyone may have written it
    result, captured = run_cell(config_shell, '%pnav config')
    assert result.success, captured.stderr
    assert f'warning: project:{loose}: *: ignored {loose}: the file is writable by every user (mode 0666)' in (
        captured.stdout
    )
    pue_line = next(line for line in captured.stdout.splitlines() if line.startswith('pue '))
    assert pue_line.split()[1:] == ['1', 'default']
