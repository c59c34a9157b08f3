/**
 * Python's text forms of numbers and values, so that what we write reads exactly
 * like what calculadorapnav writes through pandas (`to_csv`) and requests (`json=`).
 */
import {
  COLUMN_KINDS,
  type NFeatures,
  PNAV_COLUMNS,
  type PnavColumn,
  type PnavRecord,
  PUE_IS_INT,
} from './csv/columns.js';

/**
 * Python's `repr(float)`: the shortest digits that round-trip (the same digits as
 * JavaScript's), fixed notation for exponents -4..15, else `1e-05` / `1.5e+16`;
 * integral values keep `.0`.
 */
export function pyRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  const [mantissa, exponentText] = Math.abs(value).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const expSign = exponent < 0 ? '-' : '+';
    return `${sign}${digits[0]}${fraction}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const intPart = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fracPart = digits.slice(exponent + 1);
  return `${sign}${intPart}.${fracPart || '0'}`;
}

/** Python's `str(int)`; a non-integral number falls back to the float form rather than lying. */
export function pyInt(value: number): string {
  return Number.isInteger(value) ? String(value) : pyRepr(value);
}

/** Python's `str(tuple)`: `(784,)`, `(28, 28)`. */
function pyTuple(shape: number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** `n_features` as `str()` would print it: an int, a tuple, or a list of tuples. */
export function pyFeatures(features: NFeatures): string {
  if (typeof features === 'number') return pyInt(features);
  if (features.length > 0 && Array.isArray(features[0])) {
    return `[${(features as number[][]).map(pyTuple).join(', ')}]`;
  }
  return pyTuple(features as number[]);
}

/** A ratio column holds the literal int 0 where calculadorapnav never computed it (see COLUMN_KINDS). */
function pyNumber(column: PnavColumn, value: number): string {
  const kind = COLUMN_KINDS[column];
  if (kind === 'int' || kind === 'features') return pyInt(value);
  if (kind === 'ratio' && value === 0) return '0';
  return pyRepr(value);
}

/** One CSV cell as pandas writes it: None → empty field, floats as repr, tuples as str(). */
export function csvCell(column: PnavColumn, value: PnavRecord[PnavColumn]): string {
  if (value === null) return '';
  if (column === 'n_features') return pyFeatures(value as NFeatures);
  if (typeof value === 'number') return pyNumber(column, value);
  return String(value);
}

/** The 40 cells of one CSV row, in column order. */
export function csvCells(record: PnavRecord): string[] {
  return PNAV_COLUMNS.map(column =>
    column === 'pue' && record[PUE_IS_INT] ? pyInt(record.pue) : csvCell(column, record[column]),
  );
}

/** `json.dumps(s)` with ensure_ascii: non-ASCII as \uXXXX escapes (UTF-16 units, as Python). */
function pyJsonString(text: string): string {
  return JSON.stringify(text).replace(/[\u0080-\uffff]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function pyJsonValue(column: PnavColumn, value: PnavRecord[PnavColumn]): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return pyJsonString(value);
  if (typeof value === 'number') return pyNumber(column, value);
  // A shape tuple becomes a JSON array (Python serialises tuples as lists).
  const inner = (value as Array<number | number[]>).map(v =>
    Array.isArray(v) ? `[${v.map(pyInt).join(', ')}]` : pyInt(v),
  );
  return `[${inner.join(', ')}]`;
}

/**
 * The request body calculadorapnav sends: `requests.post(json=asdict(record))`, i.e.
 * `json.dumps` with its default `", "` / `": "` separators, keys in column order,
 * floats as Python floats (`1.0`), None as null.
 */
export function pyJson(record: PnavRecord): string {
  const members = PNAV_COLUMNS.map(column => {
    const value = column === 'pue' && record[PUE_IS_INT] ? pyInt(record.pue) : pyJsonValue(column, record[column]);
    return `${pyJsonString(column)}: ${value}`;
  });
  return `{${members.join(', ')}}`;
}
