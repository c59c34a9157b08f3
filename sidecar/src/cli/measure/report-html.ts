/**
 * A self-contained HTML report of `pnav measure`: summary, a per-cell energy bar chart drawn as
 * inline SVG, and the cell table. No script, no external stylesheet, font or CDN: it opens the
 * same from a CI artifact store, an e-mail or a file system.
 */
import type { CellResult } from './cell-result.js';
import { formatCo2, formatDuration, formatEnergy } from './format.js';
import type { MeasureOutcome } from './runner.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, c => ESCAPES[c]!);
}

const QUALITY_COLOURS: Record<string, string> = { measured: '#2e7d32', estimated: '#ef8f00', mixed: '#6d5bd0' };

function methodsText(result: CellResult): string {
  const methods = result.summary?.methods ?? {};
  return Object.entries(methods)
    .map(([component, m]) => `${component}: ${m!.method} (${m!.measured ? 'measured' : 'estimated'})`)
    .join(', ');
}

/** Bars of facility energy per cell; cells without a run get an empty slot so numbering stays readable. */
export function energyChartSvg(results: CellResult[]): string {
  const shown = results.filter(result => result.status !== 'skipped' && result.status !== 'not-run');
  const width = 760;
  const height = 220;
  const top = 16;
  const bottom = 36;
  const left = 64;
  const plotHeight = height - top - bottom;
  const maxJ = Math.max(...shown.map(r => r.summary?.facilityEnergyJ ?? 0), 1e-9);
  const slot = shown.length > 0 ? (width - left - 8) / shown.length : 0;
  const bars = shown.map((result, i) => {
    const energyJ = result.summary?.facilityEnergyJ ?? 0;
    const barHeight = (energyJ / maxJ) * plotHeight;
    const x = left + i * slot + slot * 0.15;
    const y = top + plotHeight - barHeight;
    const colour = QUALITY_COLOURS[result.summary?.quality ?? ''] ?? '#9e9e9e';
    const failed = result.status !== 'ok';
    const title = `cell ${result.number}: ${result.firstLine} — ${formatEnergy(energyJ)}, ${formatCo2(
      result.summary?.emissionsG ?? 0,
    )} (${result.summary?.quality ?? 'not measured'}; ${result.status})`;
    return (
      `<g><title>${escapeHtml(title)}</title>` +
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${barHeight.toFixed(1)}" ` +
      `fill="${colour}"${failed ? ' stroke="#c62828" stroke-width="2"' : ''}/>` +
      `<text x="${(x + slot * 0.35).toFixed(1)}" y="${height - bottom + 14}" text-anchor="middle">${result.number}</text></g>`
    );
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="Energy per cell">`,
    `<line x1="${left}" y1="${top + plotHeight}" x2="${width}" y2="${top + plotHeight}" stroke="#666"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotHeight}" stroke="#666"/>`,
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end">${escapeHtml(formatEnergy(maxJ))}</text>`,
    `<text x="${left - 6}" y="${top + plotHeight}" text-anchor="end">0</text>`,
    `<text x="${left + (width - left) / 2}" y="${height - 4}" text-anchor="middle">cell</text>`,
    ...bars,
    '</svg>',
  ].join('\n');
}

function cellRows(results: CellResult[]): string {
  return results
    .map(result => {
      const s = result.summary;
      const epochs = s && s.epochs.length > 0 ? `${s.epochs.length} epochs` : '';
      const detail = [result.error ? `${result.error.ename}: ${result.error.evalue}` : '', result.note ?? '', epochs]
        .filter(Boolean)
        .join(' · ');
      return (
        `<tr class="${escapeHtml(result.status)}"><td>${result.number}</td><td><code>${escapeHtml(result.firstLine)}</code></td>` +
        `<td>${escapeHtml(result.status)}</td><td>${result.wallS > 0 ? formatDuration(result.wallS) : ''}</td>` +
        `<td>${s ? formatEnergy(s.facilityEnergyJ) : ''}</td><td>${s ? formatCo2(s.emissionsG) : ''}</td>` +
        `<td title="${escapeHtml(methodsText(result))}">${escapeHtml(s?.quality ?? '')}</td><td>${escapeHtml(detail)}</td></tr>`
      );
    })
    .join('\n');
}

export function htmlReport(outcome: MeasureOutcome): string {
  const { totals, status } = outcome;
  const { location, mixed } = outcome.location;
  const title = `PNAV Lab — ${outcome.notebookPath.split('/').pop()}`;
  const banner =
    outcome.exitCode === 0
      ? '<p class="ok">Every cell ran.</p>'
      : `<p class="bad">${escapeHtml(outcome.stopReason ?? `exit code ${outcome.exitCode}`)}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:820px;color:#222}
table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
td:nth-child(n+4):nth-child(-n+6){text-align:right;white-space:nowrap}
tr.error td,tr.kernel-died td,tr.timeout td,tr.interrupted td{background:#fdecea}
svg text{font-size:11px;fill:#444}.ok{color:#2e7d32}.bad{color:#c62828;font-weight:600}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
${banner}
<p><b>${escapeHtml(formatEnergy(totals.facilityEnergyJ))}</b> · <b>${escapeHtml(formatCo2(totals.emissionsG))} CO₂eq</b>
· ${escapeHtml(formatDuration(totals.durationS))} · ${totals.measuredCells} of ${totals.cells} code cells measured
· figures ${escapeHtml(totals.quality)}</p>
<p>Machine ${escapeHtml(status.host)} (${escapeHtml(status.hardware.cpuModel)}), scope ${escapeHtml(status.scope.kind)};
${mixed ? 'the cells used several grid locations, first ' : ''}${escapeHtml(location.countryName)} (${escapeHtml(location.countryIso3)}, ${escapeHtml(location.countrySource)}),
${location.intensityGPerKWh} g CO₂eq/kWh (${escapeHtml(location.intensitySource)}), PUE ${status.pue}.
Energy includes PUE, as calculadorapnav reports it; each run covers the whole machine in its window.</p>
${outcome.breaches.map(b => `<p class="bad">${escapeHtml(b.message)}</p>`).join('\n')}
<h2>Energy per cell</h2>
<p class="legend"><span style="background:${QUALITY_COLOURS.measured}"></span>measured<span style="background:${QUALITY_COLOURS.estimated}"></span>estimated<span style="background:${QUALITY_COLOURS.mixed}"></span>mixed</p>
${energyChartSvg(outcome.results)}
<h2>Cells</h2>
<table><thead><tr><th>#</th><th>first line</th><th>status</th><th>duration</th><th>energy</th><th>CO₂eq</th><th>figures</th><th>notes</th></tr></thead>
<tbody>
${cellRows(outcome.results)}
</tbody></table>
<p><small>pnav measure ${escapeHtml(status.version)} · ${escapeHtml(outcome.startedAt)} → ${escapeHtml(outcome.endedAt)} · kernel ${escapeHtml(outcome.kernel.name)}</small></p>
</body></html>
`;
}
