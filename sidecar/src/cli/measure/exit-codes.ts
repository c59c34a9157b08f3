/** Exit codes of `pnav measure`, in the order they take precedence when several apply. */
export const EXIT = {
  ok: 0,
  /** A cell raised, timed out or its kernel died: the notebook stops there, like Run All. */
  cellFailed: 1,
  /** Bad options, unreadable notebook, or no Jupyter server / kernel / sidecar could be had. */
  setupFailed: 2,
  /** `--max-energy-wh` or `--max-co2-g` exceeded. */
  budgetExceeded: 3,
  /** SIGINT / SIGTERM: stopped cleanly, the running cell recorded as interrupted. */
  interrupted: 130,
} as const;
