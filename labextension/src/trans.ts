/**
 * The part of JupyterLab's `TranslationBundle` the views use, so DOM views can
 * be tested without loading the translator.
 */
export interface ITrans {
  __(msgid: string, ...args: unknown[]): string;
}

/**
 * Formats like JupyterLab's Gettext.strfmt with no translation loaded: `%1`, `%2`, ... take the
 * arguments and `%%` collapses to `%` (so `%%pnav` in a message reads `%pnav`: pass it as an argument).
 */
export const plainTrans: ITrans = {
  __(msgid: string, ...args: unknown[]): string {
    return msgid
      .replace(/%%/g, '%% ')
      .replace(/%(\d+)/g, (whole, n: string) => {
        const value = args[Number(n) - 1];
        return value === undefined ? whole : String(value);
      })
      .replace(/%% /g, '%');
  },
};
