"""The one summary line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pnav_lab.summary import format_duration, format_emissions, format_energy, summary_line


def figure(energy_j, method, measured, included=True):
    return {'energyJ': energy_j, 'powerW': 0, 'method': method, 'measured': measured, 'included': included}


VECTORS = json.loads((Path(__file__).parents[2] / 'test' / 'fixtures' / 'unit-format.json').read_text())


@pytest.mark.parametrize(('energy_j', 'expected'), VECTORS['energy'])
def test_energy_scales_as_the_lab_extension_shows_it(energy_j, expected):
    assert format_energy(energy_j) == expected


@pytest.mark.parametrize(('emissions_g', 'expected'), VECTORS['emissions'])
def test_emissions_scale_as_the_lab_extension_shows_them(emissions_g, expected):
    assert format_emissions(emissions_g) == expected


def test_units_scale():
    assert [format_duration(s) for s in (0.5, 75, 3720)] == ['0.5 s', '1 min 15 s', '1 h 2 min']


def test_line_says_how_each_figure_was_obtained():
    run = {
        'status': 'error',
        'facilityEnergyJ': 3600.0,
        'emissionsG': 0.174,
        'durationS': 12.0,
        'energy': {
            'cpu': figure(3000, 'rapl', True),
            'gpu': figure(0, 'none', False),
            'ram': figure(600, 'ram-model', False, included=False),
        },
        'location': {'countryIso3': 'ESP', 'intensityGPerKWh': 174.05},
    }
    assert summary_line(run) == (
        'pnav: 3.6 kJ machine · 174 mg CO2e · 12 s [error] — cpu 3 kJ measured (rapl), gpu n/a, ram excluded @ ESP 174 g/kWh'
    )


def test_line_says_machine_and_shows_the_kernel_share_after_pue_and_each_figure_quality():
    run = {
        'status': 'ok',
        'pue': 1.5,
        'facilityEnergyJ': 5400.0,
        'emissionsG': 0.26,
        'durationS': 1.0,
        'energyScope': 'machine',
        'attribution': {'method': 'per-component', 'share': 0.5, 'energyJ': 1800.0, 'facilityEnergyJ': 2700.0},
        'energy': {
            'cpu': {**figure(600, 'rapl', True), 'quality': 'fine'},
            'gpu': {**figure(3000, 'nvml', True), 'quality': 'coarse', 'degraded': 'nvidia-nvml: GPU is lost'},
            'ram': {**figure(0, 'ram-model', False), 'quality': 'unavailable'},
        },
        'location': {'countryIso3': 'ESP', 'intensityGPerKWh': 174.05},
    }
    assert summary_line(run) == (
        'pnav: 5.4 kJ machine (kernel 2.7 kJ) · 260 mg CO2e · 1 s — cpu 600 J measured (rapl), '
        'gpu 3 kJ measured (nvml, coarse, degraded), ram unavailable (ram-model) @ ESP 174 g/kWh'
    )


def test_line_says_when_the_run_spans_a_sidecar_restart_and_how_long_was_not_measured():
    run = {
        'status': 'ok',
        'facilityEnergyJ': 500.0,
        'emissionsG': 0.02,
        'durationS': 60.0,
        'energy': {'cpu': figure(500, 'rapl', True)},
        'sidecarRestarts': {'count': 1, 'unmeasuredS': 3.14},
    }
    assert ' · 1 min 0 s [spans a sidecar restart: 3.1 s not measured] — cpu 500 J measured (rapl)' in summary_line(run)
