#!/usr/bin/env node
/**
 * Builds the sidecar's own datasets (sidecar/data/*.json) from the public reference figures in
 * /work/shared/data (or the folder given as the first argument). The generated files are committed;
 * the sidecar never needs the network or these inputs at run time.
 *
 *   node sidecar/scripts/build-datasets.mjs [/path/to/shared/data]
 *
 * Every file records, beside its figures, where they come from, their vintage and licence.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';

const inputDir = process.argv[2] ?? '/work/shared/data';
const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'data');

const CODECARBON = {
  repository: 'https://github.com/mlco2/codecarbon',
  commit: 'b05965e43b690cdc53787c7577adbe6e2caf4ed9',
  commitDate: '2026-08-08',
  licence: 'MIT (code and data files); country figures from Our World in Data / Ember / Energy Institute, CC BY 4.0',
};
const CARBONTRACKER = {
  repository: 'https://github.com/saintslab/carbontracker',
  commit: '70e5a026d50cd6b73f1353659ec1a4f5422768db',
  commitDate: '2025-11-18',
  licence: 'MIT (code and data files); intensity figures from Our World in Data / Ember, CC BY 4.0',
};

const readCsv = path =>
  parse(readFileSync(path, 'utf8'), { columns: true, bom: true, skip_empty_lines: true, trim: true });
const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits;
const write = (name, data) => {
  writeFileSync(join(outDir, name), `${JSON.stringify(data, null, 1)}\n`);
  console.log(`wrote ${join(outDir, name)}`);
};

// ------------------------------------------------------------------ grid intensity per country

const mix = JSON.parse(readFileSync(join(inputDir, 'codecarbon/global_energy_mix.json'), 'utf8'));
const ctRows = readCsv(join(inputDir, 'carbontracker/carbon-intensities.csv'));
const ctByIso3 = new Map(ctRows.map(r => [r.Code, r]));

const countries = {};
const isoCodes = new Set([...Object.keys(mix), ...ctRows.map(r => r.Code)].filter(c => /^[A-Z]{3}$/.test(c)));
for (const iso3 of [...isoCodes].sort()) {
  const cc = mix[iso3];
  const ct = ctByIso3.get(iso3);
  const ccYear = cc?.year ?? null;
  const ctYear = ct ? Number(ct.Year) : null;
  // The newer vintage wins for the intensity; CodeCarbon's file on a tie (it also carries the mix).
  const useCt = ct && (ccYear === null || ctYear > ccYear);
  const intensity = useCt ? Number(ct['Carbon intensity of electricity (gCO2eq/kWh)']) : cc.carbon_intensity;
  const hasMix = cc && cc.total_TWh > 0 && typeof cc.renewables_TWh === 'number';
  countries[iso3] = {
    name: cc?.country_name ?? ct.Entity,
    iso2: ct?.['alpha-2'] || null,
    intensityGPerKWh: round(intensity, 2),
    intensityYear: useCt ? ctYear : ccYear,
    intensitySource: useCt ? 'carbontracker' : 'codecarbon',
    // calculadorapnav's `ref`: renewable share of generation, renewables_TWh / total_TWh.
    renewableShare: hasMix ? round(cc.renewables_TWh / cc.total_TWh, 4) : null,
    renewableShareYear: hasMix ? ccYear : null,
  };
}

// World renewable share: generation-weighted over every country in the mix file (no aggregates in it).
let renewablesTWh = 0;
let totalTWh = 0;
for (const cc of Object.values(mix)) {
  if (cc.total_TWh > 0 && typeof cc.renewables_TWh === 'number') {
    renewablesTWh += cc.renewables_TWh;
    totalTWh += cc.total_TWh;
  }
}

// ------------------------------------------------------------------ cloud regions

const impactRows = readCsv(join(inputDir, 'codecarbon/impact.csv'));
const cloudRegions = {};
for (const r of impactRows) {
  // The source misspells GCP's Doha region; keep both spellings so either resolves.
  const regions = r.region === 'me-cenrtal1' ? ['me-central1', 'me-cenrtal1'] : [r.region];
  for (const region of regions) {
    cloudRegions[`${r.provider}/${region}`] = {
      provider: r.provider,
      providerName: r.providerName,
      region,
      countryIso3: r.countryIsoCode,
      countryName: r.country_name,
      location: [r.city, r.state].filter(Boolean).join(', ') || null,
      intensityGPerKWh: Number(r.impact),
      source: r.source,
    };
  }
}

const perSource = JSON.parse(readFileSync(join(inputDir, 'codecarbon/carbon_intensity_per_source.json'), 'utf8'));

write('grid-intensity.json', {
  unit: 'gCO2eq/kWh',
  description:
    'Grid carbon intensity per country (ISO 3166-1 alpha-3), renewable share of generation (calculadorapnav `ref`), world average and cloud regions. Built by sidecar/scripts/build-datasets.mjs.',
  sources: {
    codecarbon: {
      ...CODECARBON,
      file: 'codecarbon/data/private_infra/global_energy_mix.json',
      label: 'Our World in Data (Ember, Energy Institute) via CodeCarbon global_energy_mix.json',
      note: 'Our World in Data (Ember / Energy Institute) lifecycle intensity and generation mix in TWh; year per country (mostly 2022-2023).',
    },
    carbontracker: {
      ...CARBONTRACKER,
      file: 'carbontracker/data/carbon-intensities.csv',
      label: 'Our World in Data (Ember) via CarbonTracker carbon-intensities.csv',
      note: 'Our World in Data / Ember lifecycle intensity, latest year per country (2023 or 2024).',
    },
    'codecarbon-impact': {
      ...CODECARBON,
      licence: 'MIT; figures from Google Cloud region carbon data',
      file: 'codecarbon/data/cloud/impact.csv',
      label: 'Google Cloud region carbon data via CodeCarbon impact.csv',
      note: 'Google Cloud regions only (AWS and Azure rows were removed upstream in May 2023).',
    },
  },
  policy:
    'Intensity: the newer vintage of the two sources (CarbonTracker on newer years, CodeCarbon otherwise). Renewable share: renewables_TWh / total_TWh from CodeCarbon (the only source with the mix), its year recorded separately.',
  world: {
    intensityGPerKWh: 445,
    year: 2024,
    source:
      'IEA, Electricity 2025 (via CarbonTracker WORLD_AVG_CARBON_INTENSITY, saintslab/carbontracker constants.py)',
    alternatives: [
      {
        intensityGPerKWh: perSource.world_average,
        year: 2019,
        source: `CodeCarbon world_average (${perSource.world_average_source})`,
      },
      { intensityGPerKWh: 481, year: 2019, source: 'IEA 2019 (older lfwa/carbontracker)' },
      { intensityGPerKWh: 436, year: 2022, source: 'Ember 2022, widely quoted' },
    ],
    renewableShare: round(renewablesTWh / totalTWh, 4),
    renewableShareSource: `sum of renewables_TWh / sum of total_TWh over the ${Object.keys(mix).length} countries of CodeCarbon global_energy_mix.json`,
  },
  countries,
  cloudRegions,
});

// ------------------------------------------------------------------ PNAV factors (calculadorapnav 1.0.2)

// The figures PNAV's own calculator puts into a record, so that our records compare with its records:
// country intensity and `ref` from its global_energy_mix.json, cloud regions from its impact.csv.
const CALCULADORAPNAV = {
  package: 'calculadorapnav 1.0.2 (PyPI wheel)',
  url: 'https://pypi.org/project/calculadorapnav/1.0.2/',
  licence:
    'MIT (calculadorapnav); country figures from Our World in Data / Ember / Energy Institute (CC BY 4.0) as updated by the calculator, cloud figures as published by the providers',
};
const pnavMix = JSON.parse(readFileSync(join(inputDir, 'calculadorapnav/global_energy_mix.json'), 'utf8'));
const datePart = text => (typeof text === 'string' ? text.slice(0, 10) : null);
const pnavCountries = {};
for (const iso3 of Object.keys(pnavMix).sort()) {
  const c = pnavMix[iso3];
  pnavCountries[iso3] = {
    name: c.country_name,
    intensityGPerKWh: c.carbon_intensity,
    // The calculator reads `ref_TWh` with .get(): absent → None (an empty CSV field, JSON null).
    ref: typeof c.ref_TWh === 'number' ? c.ref_TWh : null,
    periodStart: datePart(c.start_last_week),
    periodEnd: datePart(c.end_last_week),
    updated: datePart(c.update_date),
  };
}
const pnavImpact = readCsv(join(inputDir, 'calculadorapnav/impact.csv'));
const pnavCloud = {};
for (const r of pnavImpact) {
  const key = `${r.provider}/${r.region}`;
  // A few Azure regions are listed twice; the calculator's `.item()` then fails. The first row is kept.
  if (pnavCloud[key]) continue;
  pnavCloud[key] = {
    provider: r.provider,
    providerName: r.providerName,
    region: r.region,
    countryIso3: r.countryIsoCode,
    countryName: r.country_name,
    // The calculator's `region` column for a cloud run: the row's state, else empty (pandas NaN).
    regionLabel: r.state || '',
    city: r.city || null,
    intensityGPerKWh: Number(r.impact),
    year: Number(r.year),
    updated: datePart(r.update_date),
    source: r.source,
  };
}
write('pnav-factors.json', {
  unit: 'gCO2eq/kWh',
  description:
    "calculadorapnav 1.0.2's emission factors, the default for PNAV CSV rows and submissions: per-country carbon intensity and `ref`, and cloud regions of AWS, Azure and GCP. Built by sidecar/scripts/build-datasets.mjs.",
  source: {
    ...CALCULADORAPNAV,
    countriesFile: 'calculadorapnav/data/private_infra/global_energy_mix.json',
    cloudFile: 'calculadorapnav/data/cloud/impact.csv',
    note: 'Spain is the week 2025-05-26..2025-06-01 (updated 2025-06-04); most other countries 2022-12-31. Cloud rows: year 2024, updated 2025-05-09.',
  },
  year: 2025,
  defaultCountry: { iso3: 'ESP', reason: "calculadorapnav's own fallback when the country is unknown" },
  countries: pnavCountries,
  cloudRegions: pnavCloud,
});

// ------------------------------------------------------------------ equivalents

const carRows = readCsv(join(inputDir, 'carbontracker/co2eq.csv'));
const cars = carRows.map(r => ({
  name: r.name,
  year: Number(r.name.match(/(\d{4})$/)?.[1] ?? Number.NaN),
  gCO2eqPerKm: Number(r.gCO2eq_per_unit),
  source: r.source,
}));
const latestCar = cars.reduce((a, b) => (b.year > a.year ? b : a));
write('equivalents.json', {
  description: 'Plain-language equivalents for emissions shown in the UI. Built by sidecar/scripts/build-datasets.mjs.',
  source: {
    ...CARBONTRACKER,
    file: 'carbontracker/emissions/conversion/co2eq.csv',
    origin: 'EEA (European Environment Agency)',
  },
  carKm: {
    gCO2eqPerKm: latestCar.gCO2eqPerKm,
    year: latestCar.year,
    description: 'average new passenger car registered in the EU, g CO2 per km driven',
    source: latestCar.source,
    history: cars,
  },
});

// ------------------------------------------------------------------ CPU TDP

const cpuRows = readCsv(join(inputDir, 'codecarbon/cpu_power.csv'));
const cpus = {};
for (const r of cpuRows) {
  const tdp = Number(r.TDP);
  if (r.Name && Number.isFinite(tdp) && tdp > 0) cpus[r.Name] = tdp;
}
write('cpu-tdp.json', {
  unit: 'W',
  description:
    'Thermal design power per CPU model name, matched against the machine CPU model string by sidecar/src/power/cpu/tdp-table.ts.',
  source: { ...CODECARBON, licence: 'MIT', file: 'codecarbon/data/hardware/cpu_power.csv' },
  defaultTdpW: 85,
  defaultTdpSource:
    "PNAV Lab's own default for an unknown CPU: the value of CodeCarbon's POWER_CONSTANT, not CodeCarbon 3's rule for an unknown CPU",
  count: Object.keys(cpus).length,
  cpus,
});
