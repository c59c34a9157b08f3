/**
 * The live power chart (CPU, GPU, RAM in W) drawn with uPlot.
 *
 * Keeps up to `MAX_HISTORY_S` of samples; shows the last `windowS` seconds,
 * following the newest sample unless paused. While paused the range slider
 * scrolls back through the history. Redraws at most every `refreshMs`
 * (0: on the next animation frame after each sample).
 */
import { Widget } from '@lumino/widgets';
import uPlot from 'uplot';
import type { ITrans } from '../trans';
import { COMPONENTS, type Component, type ISample } from '../types';

const MAX_HISTORY_S = 30 * 60;
/** The chart keeps this aspect within these heights: small in a 250 px sidebar, taller when wide. */
const HEIGHT_PER_WIDTH = 0.6;
const MIN_HEIGHT_PX = 140;
const MAX_HEIGHT_PX = 300;
const SERIES_INDEX: Record<Component, 1 | 2 | 3> = { cpu: 1, gpu: 2, ram: 3 };
const SERIES_COLORS: Record<Component, [string, string]> = {
  cpu: ['--jp-pnav-cpu', '#1976d2'],
  gpu: ['--jp-pnav-gpu', '#ef6c00'],
  ram: ['--jp-pnav-ram', '#43a047'],
};

function heightFor(widthPx: number): number {
  return Math.round(Math.min(MAX_HEIGHT_PX, Math.max(MIN_HEIGHT_PX, widthPx * HEIGHT_PER_WIDTH)));
}

/** Clock time in the browser's locale (uPlot's default is a US format). */
function clockTime(tS: number): string {
  return new Date(tS * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
const LATENCY_KEEP = 200;

/** Series colours from the theme, resolved at creation (canvas cannot read CSS variables). */
function themeColor(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

export class PowerChart extends Widget {
  constructor(private _trans: ITrans) {
    super();
    this.addClass('jp-pnav-PowerChart');
    this._plotHost = document.createElement('div');
    this._plotHost.className = 'jp-pnav-PowerChart-plot';
    // The image is the plot alone: the slider beside it stays an operable control.
    this._plotHost.setAttribute('role', 'img');
    this._plotHost.setAttribute('aria-label', this._trans.__('Live power chart in watts, per component'));
    this.node.appendChild(this._plotHost);
    this._slider = document.createElement('input');
    this._slider.type = 'range';
    this._slider.min = '0';
    this._slider.max = '0';
    this._slider.value = '0';
    this._slider.className = 'jp-pnav-PowerChart-scroll';
    this._slider.setAttribute('aria-label', this._trans.__('Scroll back through the power history (seconds)'));
    this._slider.disabled = true;
    this._slider.addEventListener('input', () => this._scheduleDraw());
    this.node.appendChild(this._slider);
  }

  set windowS(value: number) {
    this._windowS = value;
    this._scheduleDraw();
  }

  set refreshMs(value: number) {
    this._refreshMs = value;
  }

  get paused(): boolean {
    return this._paused;
  }

  set paused(value: boolean) {
    this._paused = value;
    this._slider.disabled = !value;
    if (!value) this._slider.value = '0';
    this._updateSliderRange();
    this._scheduleDraw();
  }

  /** Milliseconds from a sample's timestamp (sidecar clock) to the frame that drew it: the last ones, for benchmarks. */
  get latenciesMs(): readonly number[] {
    return this._latenciesMs;
  }

  addSample(sample: ISample): void {
    const xs = this._data[0];
    const tS = sample.t / 1000;
    if (xs.length > 0 && tS <= xs[xs.length - 1]) return;
    xs.push(tS);
    this._data[1].push(sample.powerW.cpu);
    this._data[2].push(sample.powerW.gpu);
    this._data[3].push(sample.powerW.ram);
    const cutoff = tS - MAX_HISTORY_S;
    let drop = 0;
    while (drop < xs.length && xs[drop] < cutoff) drop++;
    if (drop > 0) for (const series of this._data) series.splice(0, drop);
    this._pendingSampleT = sample.t;
    if (this._paused) {
      this._updateSliderRange();
    } else {
      this._scheduleDraw();
    }
  }

  /** The components this machine has: the others get no line and no legend entry. */
  set components(components: readonly Component[]) {
    const next = COMPONENTS.filter(c => components.includes(c));
    if (next.join() === this._components.join()) return;
    this._components = next;
    this.refreshTheme();
  }

  /** Rebuilds the plot with the current theme's colours. */
  refreshTheme(): void {
    this._plot?.destroy();
    this._plot = null;
    if (this.isVisible) this._ensurePlot();
  }

  protected onAfterShow(): void {
    this._ensurePlot();
    this._scheduleDraw();
  }

  protected onAfterAttach(): void {
    this._resizeObserver = new ResizeObserver(() => this._resize());
    this._resizeObserver.observe(this.node);
    if (this.isVisible) this._ensurePlot();
  }

  protected onBeforeDetach(): void {
    this._resizeObserver?.disconnect();
    this._resizeObserver = null;
  }

  dispose(): void {
    if (this.isDisposed) return;
    this._plot?.destroy();
    this._plot = null;
    if (this._timer !== null) clearTimeout(this._timer);
    super.dispose();
  }

  private _ensurePlot(): void {
    if (this._plot !== null || !this.isAttached) return;
    const width = Math.max(180, this._plotHost.clientWidth || this.node.clientWidth || 300);
    const axisColor = themeColor('--jp-ui-font-color1', '#212121');
    const gridColor = themeColor('--jp-border-color2', '#e0e0e0');
    const series = (component: Component): uPlot.Series => ({
      label: this._trans.__(component.toUpperCase()),
      stroke: themeColor(...SERIES_COLORS[component]),
      width: 1.5,
      spanGaps: false,
      value: (_u, v) => (v === null || v === undefined ? '–' : `${v.toFixed(1)} W`),
    });
    const axis = (extra: Partial<uPlot.Axis>): uPlot.Axis => ({
      stroke: axisColor,
      grid: { stroke: gridColor, width: 1 },
      ticks: { stroke: gridColor, width: 1 },
      ...extra,
    });
    this._plot = new uPlot(
      {
        width,
        height: heightFor(width),
        cursor: { drag: { x: true, y: false } },
        legend: { show: true, live: false },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [axis({ values: (_u, splits) => splits.map(clockTime), space: 90 }), axis({ label: 'W', size: 44 })],
        series: [
          { value: (_u, v) => (v === null || v === undefined ? '–' : clockTime(v)) },
          ...this._components.map(series),
        ],
        hooks: { draw: [() => this._onDrawn()] },
      },
      this._shownData(),
      this._plotHost,
    );
  }

  /** Time plus the present components' series, in the plot's order. */
  private _shownData(): uPlot.AlignedData {
    return [this._data[0], ...this._components.map(c => this._data[SERIES_INDEX[c]])] as uPlot.AlignedData;
  }

  private _resize(): void {
    if (!this._plot) return;
    const width = this._plotHost.clientWidth;
    if (width > 0 && width !== this._plot.width) this._plot.setSize({ width, height: heightFor(width) });
  }

  private _updateSliderRange(): void {
    const xs = this._data[0];
    const spanS = xs.length > 1 ? Math.max(0, Math.floor(xs[xs.length - 1] - xs[0] - this._windowS)) : 0;
    this._slider.max = String(spanS);
  }

  private _scheduleDraw(): void {
    if (this._frame !== null || this._timer !== null) return;
    const wait = Math.max(0, this._lastDrawAt + this._refreshMs - Date.now());
    if (wait > 0) {
      this._timer = setTimeout(() => {
        this._timer = null;
        this._scheduleDraw();
      }, wait);
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = null;
      this._draw();
    });
  }

  private _draw(): void {
    if (!this.isVisible) return;
    this._ensurePlot();
    const plot = this._plot;
    const xs = this._data[0];
    if (!plot || xs.length === 0) return;
    this._lastDrawAt = Date.now();
    const newest = xs[xs.length - 1];
    const offsetS = this._paused ? Number(this._slider.value) : 0;
    const max = newest - offsetS;
    // Until the history fills the window, stretch what there is over the width.
    const min = Math.max(max - this._windowS, xs[0]);
    this._drawingSampleT = this._paused ? null : this._pendingSampleT;
    plot.batch(() => {
      plot.setData(this._shownData(), false);
      plot.setScale('x', { min: min < max ? min : max - 1, max });
    });
  }

  private _onDrawn(): void {
    const t = this._drawingSampleT;
    if (t === null) return;
    this._drawingSampleT = null;
    const latency = Date.now() - t;
    this._latenciesMs.push(latency);
    if (this._latenciesMs.length > LATENCY_KEEP) this._latenciesMs.shift();
    this.node.dataset.lastSampleT = String(t);
    this.node.dataset.lastLatencyMs = String(latency);
  }

  private _plotHost: HTMLDivElement;
  private _slider: HTMLInputElement;
  private _plot: uPlot | null = null;
  private _data: [number[], (number | null)[], (number | null)[], (number | null)[]] = [[], [], [], []];
  private _components: Component[] = [...COMPONENTS];
  private _windowS = 120;
  private _refreshMs = 0;
  private _paused = false;
  private _frame: number | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _lastDrawAt = 0;
  private _pendingSampleT: number | null = null;
  private _drawingSampleT: number | null = null;
  private _latenciesMs: number[] = [];
  private _resizeObserver: ResizeObserver | null = null;
}
