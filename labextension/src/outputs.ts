/**
 * PNAV outputs through the sidecar: exports downloaded by the
 * browser, record previews and uploads. The token goes in one request body
 * and is kept nowhere else.
 */
import type { ServerConnection } from '@jupyterlab/services';
import { defaultExportName, filenameFromDisposition } from './filename';
import { fetchAPI, postAPI, requestAPI } from './request';
import type {
  ExportFormat,
  IExportRequest,
  IRecordPreview,
  IRunSelection,
  IUpload,
  IUploadRequest,
  TypeProcess,
} from './types';

/** Asks the sidecar for the file and hands it to the browser as a download (named `name` when given); returns the file name. */
export async function downloadExport(
  request: IExportRequest,
  settings: ServerConnection.ISettings,
  name?: string,
): Promise<string> {
  const response = await fetchAPI('exports', { method: 'POST', body: JSON.stringify(request) }, settings);
  const blob = await response.blob();
  return saveBlob(
    blob,
    name ??
      filenameFromDisposition(response.headers.get('Content-Disposition')) ??
      defaultExportName(request.format as ExportFormat, request.notebookPath ?? null),
  );
}

function saveBlob(blob: Blob, name: string): string {
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = name;
  anchor.style.display = 'none';
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  // Revoke later: some browsers read the blob after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}

export function previewRecord(
  selection: IRunSelection,
  typeProcess: TypeProcess,
  settings: ServerConnection.ISettings,
  modelId?: string,
  recordFailed = false,
): Promise<IRecordPreview> {
  const body = { ...selection, typeProcess, recordFailed, ...(modelId ? { modelId } : {}) };
  return postAPI<IRecordPreview>('records/preview', body, settings);
}

/** Queues one record; `duplicate` when the same record was already sent or queued there (nothing new queued). */
export async function createUpload(
  request: IUploadRequest,
  settings: ServerConnection.ISettings,
): Promise<{ upload: IUpload; duplicate: boolean }> {
  const { uploads, duplicate } = await postAPI<{ uploads: IUpload[]; duplicate?: boolean }>(
    'uploads',
    request,
    settings,
  );
  return { upload: uploads[0], duplicate: duplicate === true };
}

/** Stops a queued or retrying upload before it is sent. */
export async function cancelUpload(id: string, settings: ServerConnection.ISettings): Promise<IUpload> {
  const { upload } = await postAPI<{ upload: IUpload }>(`uploads/${encodeURIComponent(id)}/cancel`, {}, settings);
  return upload;
}

/** Sends a retrying upload now; a failed one needs the token again. */
export async function retryUpload(
  id: string,
  token: string | null,
  settings: ServerConnection.ISettings,
): Promise<IUpload> {
  const body = token ? { token } : {};
  const { upload } = await postAPI<{ upload: IUpload }>(`uploads/${encodeURIComponent(id)}/retry`, body, settings);
  return upload;
}

export async function listUploads(
  notebookPath: string | null,
  settings: ServerConnection.ISettings,
): Promise<IUpload[]> {
  const query = notebookPath ? `?notebookPath=${encodeURIComponent(notebookPath)}` : '';
  const { uploads } = await requestAPI<{ uploads: IUpload[] }>(`uploads${query}`, {}, settings);
  return uploads;
}
