/** What the core plugin shares with the others. */
import type { ServerConnection } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Token } from '@lumino/coreutils';
import type { SettingsHolder } from './settings';
import type { SidecarStream } from './stream';

export interface IPnavContext {
  serverSettings: ServerConnection.ISettings;
  stream: SidecarStream;
  settings: SettingsHolder;
  trans: TranslationBundle;
}

export const IPnavContext = new Token<IPnavContext>(
  'pnav-lab-labextension:IPnavContext',
  'The sidecar connection, settings and translations of PNAV Lab.',
);
