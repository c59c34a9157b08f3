"""`%pnav runs` and `%pnav status` as tables: HTML in notebooks (`_repr_html_`, which reflows in a
narrow notebook), fixed-width text in terminals (`__repr__`). Same units as the lab extension."""

from __future__ import annotations

from html import escape

from .summary import format_duration, format_emissions, format_energy

# Inline styles only: a notebook renders the HTML without any stylesheet of ours.
_TABLE_STYLE = 'border-collapse:collapse;font-size:var(--jp-content-font-size1, 13px);'
_CELL_STYLE = 'padding:2px 8px;text-align:left;vertical-align:top;'
_NUMBER_STYLE = 'padding:2px 8px;text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums;'


class Table:
    """Rows of strings with a caption; `numeric` columns are right-aligned."""

    def __init__(self, caption: str, headers: list[str], rows: list[list[str]], numeric: set[int], notes=(), text=None):
        self.caption = caption
        self.headers = headers
        self.rows = rows
        self.numeric = numeric
        self.notes = list(notes)
        self.text = text

    def _repr_html_(self) -> str:
        def cell(tag: str, index: int, text: str) -> str:
            style = _NUMBER_STYLE if index in self.numeric else _CELL_STYLE
            return f'<{tag} style="{style}">{escape(text)}</{tag}>'

        head = ''.join(cell('th', i, h) for i, h in enumerate(self.headers)) if any(self.headers) else ''
        body = ''.join('<tr>' + ''.join(cell('td', i, v) for i, v in enumerate(row)) + '</tr>' for row in self.rows)
        notes = ''.join(f'<p style="margin:4px 0">{escape(note)}</p>' for note in self.notes)
        return (
            f'<div class="pnav-table" style="overflow-x:auto;max-width:100%">'
            f'<table style="{_TABLE_STYLE}"><caption style="text-align:left;font-weight:bold">'
            f'{escape(self.caption)}</caption>{f"<thead><tr>{head}</tr></thead>" if head else ""}<tbody>{body}</tbody></table>'
            f'{notes}</div>'
        )

    def __repr__(self) -> str:
        if self.text is not None:
            return self.text
        widths = [max([len(h)] + [len(row[i]) for row in self.rows]) for i, h in enumerate(self.headers)]

        def line(values: list[str]) -> str:
            cells = [v.rjust(w) if i in self.numeric else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))]
            return '  '.join(cells).rstrip()

        return '\n'.join([self.caption, line(self.headers), *(line(row) for row in self.rows), *self.notes])


def _label(run: dict) -> str:
    label = (run.get('label') or '').strip()
    return label if label else run['id'][:12]


def runs_table(runs: list[dict], caption: str) -> Table:
    """Newest first, as the sidecar lists them; the status says when a run failed or still runs."""
    status_names = {'open': 'running', 'ok': 'ok', 'error': 'error', 'interrupted': 'interrupted'}
    rows = [
        [
            '' if run.get('executionCount') is None else f'[{run["executionCount"]}]',
            _label(run),
            run.get('typeProcess', ''),
            status_names.get(run.get('status', ''), run.get('status', '')),
            format_duration(float(run.get('durationS', 0.0))),
            format_energy(float(run.get('facilityEnergyJ', 0.0))),
            format_emissions(float(run.get('emissionsG', 0.0))),
            run.get('quality', ''),
        ]
        for run in runs
    ]
    headers = ['cell', 'run', 'type', 'status', 'duration', 'energy', 'CO2e', 'quality']
    return Table(caption, headers, rows, numeric={4, 5, 6})
