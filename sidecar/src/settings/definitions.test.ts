import { describe, expect, test } from 'vitest';
import {
  defaultValues,
  parseSettingValue,
  requireSettingKey,
  SETTING_KEYS,
  SETTINGS,
  SettingError,
  TOKEN_REFUSAL,
} from './definitions.js';

describe('setting keys', () => {
  test('every key has a description, a PNAV_* variable and a default that its own schema accepts', () => {
    for (const key of SETTING_KEYS) {
      const d = SETTINGS[key];
      expect(d.key).toBe(key);
      expect(d.env).toBe(`PNAV_${key.toUpperCase()}`);
      expect(d.description.length).toBeGreaterThan(10);
      if (d.default !== null) expect(d.schema.safeParse(d.default).success).toBe(true);
      else expect(d.defaultMeaning ?? 'unset').toBeTruthy();
    }
  });

  test('the token is refused under every usual spelling, with the reason', () => {
    for (const key of ['token', 'api_token', 'pnav_token', 'api_key']) {
      expect(() => requireSettingKey(key)).toThrow(new SettingError(key, TOKEN_REFUSAL));
    }
    expect(TOKEN_REFUSAL).toMatch(/^tokens are never stored in configuration/);
  });

  test('an unknown key names itself and lists the known ones', () => {
    expect(() => requireSettingKey('colour')).toThrow(
      `colour: unknown setting; known settings: ${SETTING_KEYS.join(', ')}`,
    );
  });

  test('defaults are fresh copies', () => {
    const a = defaultValues();
    a.components.pop();
    expect(defaultValues().components).toEqual(['cpu', 'gpu', 'ram']);
  });
});

describe('parseSettingValue', () => {
  test.each([
    ['pue', '1.3', 1.3],
    ['pue', 1.25, 1.25],
    ['country', ' esp ', 'ESP'],
    ['region', 'Catalonia', 'catalonia'],
    ['type_ram', 'ddr5', 'DDR5'],
    ['components', 'CPU, gpu', ['cpu', 'gpu']],
    ['components', ['ram'], ['ram']],
    ['gpu_ids', '0,2', [0, 2]],
    ['gpu_ids', '[0, 1]', [0, 1]],
    ['gpu_ids', [3], [3]],
    ['gpu_mode', 'by-process', 'by-process'],
    ['sample_interval_ms', '250', 250],
    ['type_process', 'Inference', 'inference'],
    ['endpoint_url', 'https://api.example.org/v1', 'https://api.example.org/v1'],
    ['model_id', 'a'.repeat(64), 'a'.repeat(64)],
  ] as const)('%s accepts %j', (key, input, expected) => {
    expect(parseSettingValue(key, input)).toEqual(expected);
  });

  test.each([
    ['pue', 'abc', 'pue: must be a number; got "abc"'],
    ['pue', 0.5, 'pue: must be >= 1; got 0.5'],
    ['pue', '4', 'pue: must be <= 3; got "4"'],
    ['type_ram', 'DDR9', 'type_ram: must be one of DDR3, DDR4, DDR5; got "DDR9"'],
    ['components', 'cpu,tpu', 'components: must be one of cpu, gpu, ram (entry "tpu"); got "cpu,tpu"'],
    ['components', '', 'components: must name at least one of cpu, gpu, ram; got ""'],
    ['components', 'cpu,cpu', 'components: must not repeat a component; got "cpu,cpu"'],
    ['gpu_ids', '0,x', 'gpu_ids: must be a number (entry "x"); got "0,x"'],
    ['gpu_mode', 'some', 'gpu_mode: must be one of all, visible, by-process; got "some"'],
    ['sample_interval_ms', '1.5', 'sample_interval_ms: must be a whole number; got "1.5"'],
    ['sample_interval_ms', 5, 'sample_interval_ms: must be >= 10; got 5'],
    ['country', 'Spain', 'country: must be an ISO 3166-1 alpha-3 code in upper case, e.g. ESP; got "Spain"'],
    ['type_process', 'train', 'type_process: must be one of training, inference; got "train"'],
    ['endpoint_url', 'ftp://x', 'endpoint_url: must be an http(s) URL; got "ftp://x"'],
    ['model_id', 'ABC', 'model_id: must be 64 lowercase hexadecimal characters; got "ABC"'],
  ] as const)('%s rejects %j', (key, input, message) => {
    expect(() => parseSettingValue(key, input)).toThrow(message);
  });
});
