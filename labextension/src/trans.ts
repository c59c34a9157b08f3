/**
 * The part of JupyterLab's `TranslationBundle` the views use, so DOM views can
 * be tested without loading the translator.
 */
export interface ITrans {
  __(msgid: string, ...args: unknown[]): string;
}

/** Substitutes `%1`, `%2`, ... like the real bundle does with no translation loaded. */
export const plainTrans: ITrans = {
  __(msgid: string, ...args: unknown[]): string {
    return msgid.replace(/%(\d+)/g, (whole, n: string) => {
      const value = args[Number(n) - 1];
      return value === undefined ? whole : String(value);
    });
  },
};
