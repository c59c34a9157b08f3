/**
 * Hostile requests generated from the sidecar's own OpenAPI description (fast-check): for every
 * operation, bodies that are random JSON, schema-shaped objects with wrong or extreme values,
 * schema-valid objects (to reach deeper code), raw garbage, and oversized payloads; hostile path
 * parameters, queries and extra headers. The runner (test/integration/fuzz.test.ts) checks the
 * answers; this file only generates.
 */
import fc from 'fast-check';

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  maxLength?: number;
  minLength?: number;
  pattern?: string;
  required?: string[];
};

export const OVERSIZED_MARKER = '<2 MB JSON body>';
export const OVERSIZED_BODY = `{"label":"${'x'.repeat(2_000_000)}"}`;

export interface Operation {
  method: string;
  /** OpenAPI path template, e.g. /api/v1/runs/{id}. */
  path: string;
  pathParams: string[];
  query: { name: string; schema: JsonSchema }[];
  body: JsonSchema | null;
}

export interface FuzzCase {
  op: Operation;
  url: string;
  headers: Record<string, string>;
  /** undefined = no body. */
  body?: string;
  kind: string;
}

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is data
type OpenApiDoc = any;

export function operations(doc: OpenApiDoc, extra: Operation[] = []): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries<Record<string, OpenApiDoc>>(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []) as { name: string; in: string; schema: JsonSchema }[];
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter(p => p.in === 'path').map(p => p.name),
        query: params.filter(p => p.in === 'query').map(p => ({ name: p.name, schema: p.schema })),
        body: op.requestBody?.content?.['application/json']?.schema ?? null,
      });
    }
  }
  for (const e of extra) if (!ops.some(o => o.method === e.method && o.path === e.path)) ops.push(e);
  return ops;
}

function deref(schema: JsonSchema, doc: OpenApiDoc): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.split('/').pop()!;
  return doc.components?.schemas?.[name] ?? {};
}

const nastyStrings = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '../../etc/passwd',
    '%00',
    '__proto__',
    'constructor',
    '<script>alert(1)</script>',
    '\ud800',
    'NaN',
    '1e999',
    "'; DROP TABLE runs; --",
    'x'.repeat(5000),
    '\u202e\u0000\uffff',
  ),
);

/** Any JSON value, biased to the values that break parsers and validators. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: nastyStrings },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      0,
      -1,
      -0,
      1e308,
      -1e308,
      2 ** 53 + 1,
      0.5,
      Number.MAX_SAFE_INTEGER,
      null,
      true,
      false,
      [],
      {},
      [[[[[]]]]],
    ),
  },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.integer() },
);

/** A value that satisfies the schema, as far as a small generator can (to get past validation). */
export function validValue(schema: JsonSchema, doc: OpenApiDoc, depth = 0): fc.Arbitrary<unknown> {
  const s = deref(schema, doc);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives?.length) return fc.oneof(...alternatives.map(a => validValue(a, doc, depth + 1)));
  if (s.allOf?.length) return validValue(s.allOf[0]!, doc, depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string':
      if (s.pattern === '^[0-9a-f]{64}$') return fc.stringMatching(/^[0-9a-f]{64}$/);
      if (s.pattern === '^[A-Z]{3}$') return fc.constantFrom('ESP', 'FRA', 'DEU', 'ZZZ');
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern));
      return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 30, 30) });
    case 'integer': {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1000);
      return fc.integer({ min, max: Math.max(min, Math.min(s.maximum ?? 1000, 1e6)) });
    }
    case 'number': {
      const min = s.minimum ?? -1000;
      return fc.double({ min, max: Math.max(min, s.maximum ?? 1000), noNaN: true });
    }
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 3 ? fc.constant([]) : fc.array(validValue(s.items ?? {}, doc, depth + 1), { maxLength: 3 });
    case 'object': {
      if (depth > 3) return fc.constant({});
      const props = Object.entries(s.properties ?? {});
      if (props.length === 0)
        return fc.dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), fc.string({ maxLength: 20 }), { maxKeys: 3 });
      const required = new Set(s.required ?? []);
      return fc.record(Object.fromEntries(props.map(([k, v]) => [k, validValue(v, doc, depth + 1)])), {
        requiredKeys: [...required].filter(k => s.properties?.[k]),
      });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** An object with the schema's keys (some) holding hostile values, plus unknown keys. */
export function shapedHostile(schema: JsonSchema, doc: OpenApiDoc): fc.Arbitrary<unknown> {
  const s = deref(schema, doc);
  const keys = Object.keys(s.properties ?? {});
  const known = keys.length
    ? fc.dictionary(fc.constantFrom(...keys), hostileValue, { maxKeys: keys.length })
    : fc.constant({});
  return fc
    .tuple(
      known,
      fc.dictionary(fc.oneof(nastyStrings, fc.constantFrom('__proto__', 'constructor', 'prototype')), hostileValue, {
        maxKeys: 2,
      }),
    )
    .map(([a, b]) => ({ ...b, ...a }));
}

const segment = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.constantFrom(
    '..',
    '.',
    '%2e%2e',
    '%00',
    '%ff',
    'null',
    'undefined',
    '-1',
    '0',
    '1e9',
    '99999999999999999999',
    'x'.repeat(3000),
  ),
);

function fill(path: string, params: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => params[name] ?? 'missing');
}

const headerName = fc.stringMatching(/^x-[a-z0-9-]{1,20}$/);
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,60}$/);

/** Cases for one operation; `liveRunId` is a run the fuzzer may use (and change). */
export function caseArb(op: Operation, doc: OpenApiDoc, liveRunId: () => string): fc.Arbitrary<FuzzCase> {
  const pathParam = (name: string) =>
    name === 'index'
      ? fc.oneof(fc.nat({ max: 5 }).map(String), segment)
      : fc.oneof({ weight: 2, arbitrary: fc.constant('<live>') }, { weight: 1, arbitrary: segment });
  const params = fc.record(Object.fromEntries(op.pathParams.map(p => [p, pathParam(p)])));
  const query = fc.dictionary(
    fc.oneof(
      fc.constantFrom(...(op.query.length ? op.query.map(q => q.name) : ['q'])),
      fc.stringMatching(/^[a-z]{1,6}$/),
    ),
    fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('-1', '0', '1e400', 'NaN', 'Infinity', '', 'open', 'true', '[]', '%zz', '10001'),
      fc.nat().map(String),
    ),
    { maxKeys: 4 },
  );
  const bodies: fc.Arbitrary<{ body?: string; contentType?: string; kind: string }>[] = [
    fc.constant({ kind: 'no body' }),
    hostileValue.map(v => ({ body: JSON.stringify(v), kind: 'random json' })),
    fc.string({ unit: 'binary', maxLength: 200 }).map(t => ({ body: t, kind: 'garbage text' })),
    fc
      .constantFrom(
        '{',
        '{"a":',
        '[1,2',
        '{"__proto__":{"polluted":true}}',
        'null',
        '"x"',
        '1e999',
        '{"a":1}{"b":2}',
        '\u0000',
      )
      .map(t => ({ body: t, kind: 'broken json' })),
    // The 2 MB body itself is built at send time (OVERSIZED_BODY) so failure reports stay readable.
    fc.constant({ body: OVERSIZED_MARKER, kind: 'oversized' }),
  ];
  if (op.body) {
    bodies.push(shapedHostile(op.body, doc).map(v => ({ body: JSON.stringify(v), kind: 'schema-shaped hostile' })));
    bodies.push(validValue(op.body, doc).map(v => ({ body: JSON.stringify(v), kind: 'schema-valid' })));
    bodies.push(validValue(op.body, doc).map(v => ({ body: JSON.stringify(v), kind: 'schema-valid' })));
  }
  const body = fc.oneof(...bodies);
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        '',
        'application/json; charset=latin1',
      ),
    },
  );
  const extraHeaders = fc.dictionary(headerName, headerValue, { maxKeys: 3 });
  return fc
    .record({ params, query, body, contentType, extraHeaders })
    .map(({ params, query, body, contentType, extraHeaders }) => {
      const filled: Record<string, string> = {};
      for (const [k, v] of Object.entries(params))
        filled[k] = v === '<live>' ? liveRunId() : encodeURIComponent(v as string);
      const qs = new URLSearchParams(query as Record<string, string>).toString();
      const headers: Record<string, string> = { ...(extraHeaders as Record<string, string>) };
      if (body.body !== undefined) headers['content-type'] = contentType;
      return {
        op,
        url: fill(op.path, filled) + (qs ? `?${qs}` : ''),
        headers,
        body: body.body,
        kind: body.kind,
      };
    });
}
