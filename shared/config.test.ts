import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderEnvExample } from '../infra/local/env-example.js';
import {
  ConfigError,
  DEFAULT_PROBE_KEYS,
  PROBE_KEYS,
  parseConfig,
  redactedConfig,
  VARIABLES,
} from './config.js';

const errorOf = (env: Record<string, string>): ConfigError => {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`no error for ${JSON.stringify(env)}`);
};

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      openaiApiKey: undefined,
      openaiBaseUrl: undefined,
      upstream: 'simulated',
      openaiModel: 'gpt-4o-mini',
      openaiEmbeddingsModel: 'text-embedding-3-small',
      openaiModerationModel: 'omni-moderation-latest',
      probeRegion: 'us-west-1',
      probeIntervalSec: 60,
      httpTimeoutMs: 12000,
      probeEndpoints: [...DEFAULT_PROBE_KEYS],
      probeMode: 'roundrobin',
      probeHeavy: false,
      ingestApiKey: undefined,
      retentionDays: 30,
      rollupRetentionDays: 400,
      sloTarget: 99.5,
      port: 3000,
      host: '127.0.0.1',
      dataDir: '.data',
      tableName: 'openai-status',
      artifactsBucket: 'openai-status-artifacts',
    });
  });

  it('parses set values', () => {
    const config = parseConfig({
      OPENAI_API_KEY: 'sk-abc',
      PROBE_INTERVAL_SEC: ' 5 ',
      PROBE_MODE: 'ALL',
      PROBE_ENDPOINTS: 'chat, embeddings,chat,images',
      PROBE_HEAVY: 'true',
      SLO_TARGET: '99.9',
      SIM_LATENCY: '25',
      OPENAI_BASE_URL: 'https://proxy.example.com/v1/',
    });
    expect(config.upstream).toBe('real');
    expect(config.openaiBaseUrl).toBe('https://proxy.example.com/v1');
    expect(config.probeIntervalSec).toBe(5);
    expect(config.probeMode).toBe('all');
    expect(config.probeEndpoints).toEqual(['chat', 'embeddings', 'images']);
    expect(config.sloTarget).toBe(99.9);
    expect(config.simulator.latency).toBe(25);
    expect(parseConfig({ OPENAI_API_KEY: 'sk-abc' }).openaiBaseUrl).toBe('https://api.openai.com/v1');
  });

  it.each([
    ['PROBE_INTERVAL_SEC', 'abc', 'a whole number of seconds'],
    ['PROBE_INTERVAL_SEC', '0', 'from 1 to 86400'],
    ['PROBE_INTERVAL_SEC', '1.5', 'whole number'],
    ['PROBE_MODE', 'sometimes', 'roundrobin or all'],
    ['HTTP_TIMEOUT_MS', '-1', 'milliseconds'],
    ['PROBE_HEAVY', 'maybe', '1/0'],
    ['PROBE_ENDPOINTS', 'chat,teleport', 'chat, responses, embeddings'],
    ['PROBE_ENDPOINTS', ',', 'comma-separated list'],
    ['ENABLE_AI', '2', '1/0'],
    ['SLO_TARGET', '100', 'percentage'],
    ['SLO_TARGET', 'high', 'percentage'],
    ['RETENTION_DAYS', '0', 'days'],
    ['PORT', '70000', 'port number'],
    ['OPENAI_BASE_URL', 'ftp://x', 'http(s) URL'],
    ['LOG_LEVEL', 'LOUD', 'DEBUG, INFO'],
    ['SIM_ERROR_RATE', '1.5', 'fraction'],
    ['SIM_LATENCY', 'slow', 'realistic, none'],
    ['TABLE_NAME', 'x', 'table name'],
    ['LOG_SIM_INTERVAL_MS', '10', 'milliseconds'],
  ])('refuses %s=%s with one line naming it', (name, value, expected) => {
    const error = errorOf({ [name]: value });
    expect(error.variable).toBe(name);
    expect(error.message).toContain(`${name}=${JSON.stringify(value)}`);
    expect(error.message).toContain(expected);
    expect(error.message).not.toContain('\n');
  });

  it('parses the log search and log simulator variables', () => {
    const config = parseConfig({ LOG_SIM_ENABLED: 'yes', EMB_INDEX_INTERVAL_MS: '60000' });
    expect(config).toMatchObject({
      embeddingModel: 'text-embedding-3-small',
      logSimEnabled: true,
      logSimIntervalMs: 30_000,
      embIndexIntervalMs: 60_000,
    });
    expect(errorOf({ EMB_INDEX_INTERVAL_MS: 'soon' }).variable).toBe('EMB_INDEX_INTERVAL_MS');
    expect(errorOf({ LOG_SIM_INTERVAL_MS: '10' }).variable).toBe('LOG_SIM_INTERVAL_MS');
  });

  it('parses the SLO exclusions and incident thresholds', () => {
    expect(parseConfig({}).sloExcludeErrors).toEqual(['rate_limited']);
    expect(parseConfig({ SLO_EXCLUDE_ERRORS: 'none' }).sloExcludeErrors).toEqual([]);
    expect(parseConfig({ SLO_EXCLUDE_ERRORS: 'rate_limited, auth' }).sloExcludeErrors).toEqual([
      'rate_limited',
      'auth',
    ]);
    expect(errorOf({ SLO_EXCLUDE_ERRORS: 'meteor' }).variable).toBe('SLO_EXCLUDE_ERRORS');
    expect(parseConfig({}).incidents).toEqual({ successRatePercent: 90, p95Ms: 10000, minMinutes: 3 });
  });

  it('names every valid probe key when one is unknown', () => {
    const error = errorOf({ PROBE_ENDPOINTS: 'chat,teleport' });
    for (const key of PROBE_KEYS) expect(error.message).toContain(key);
  });

  it('refuses heavy probes without PROBE_HEAVY=1', () => {
    const error = errorOf({ PROBE_ENDPOINTS: 'chat,images' });
    expect(error.variable).toBe('PROBE_ENDPOINTS');
    expect(error.message).toContain('images is a heavy probe and needs PROBE_HEAVY=1');
    expect(parseConfig({ PROBE_ENDPOINTS: 'images', PROBE_HEAVY: '1' }).probeEndpoints).toEqual(['images']);
  });

  it('never echoes a secret, even when it is invalid', () => {
    const error = errorOf({ INGEST_API_KEY: 'short' });
    expect(error.message).toBe('Invalid INGEST_API_KEY=(hidden): expected a key of at least 8 characters');
    const redacted = JSON.stringify(
      redactedConfig(parseConfig({ OPENAI_API_KEY: 'sk-secret', INGEST_API_KEY: 'ingest-secret' })),
    );
    expect(redacted).not.toContain('sk-secret');
    expect(redacted).not.toContain('ingest-secret');
    expect(redacted).toContain('"openaiApiKeySet":true');
  });

  it('maps the old DB_FILE and ENABLE_DB onto the local data directory', () => {
    expect(parseConfig({ DB_FILE: 'old/data.db' }).dataDir).toBe('old/data.db');
    expect(parseConfig({ DB_FILE: 'old/data.db', DATA_DIR: 'new' }).dataDir).toBe('new');
    expect(parseConfig({ ENABLE_DB: '0' }).dataDir).toBeUndefined();
    expect(parseConfig({ ENABLE_DB: 'true' }).dataDir).toBe('.data');
  });

  it('treats empty values as unset', () => {
    expect(parseConfig({ PROBE_INTERVAL_SEC: '', OPENAI_API_KEY: '' })).toMatchObject({
      probeIntervalSec: 60,
      upstream: 'simulated',
    });
  });

  it('.env.example lists every variable and is up to date', () => {
    const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    expect(example).toBe(renderEnvExample());
    for (const variable of VARIABLES) expect(example).toMatch(new RegExp(`^(# )?${variable.name}=`, 'm'));
  });

  it('the README configuration table lists every variable with its default', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const lines = readme.split('\n');
    const start = lines.indexOf('| variable | default | meaning |') + 2;
    const end = lines.findIndex((line, i) => i >= start && !line.startsWith('|'));
    const documented: Record<string, string> = {};
    for (const line of lines.slice(start, end)) {
      const [names = '', defaults = ''] = line.split(' | ');
      const variables = [...names.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1] as string);
      const values = [...defaults.matchAll(/`([^`]*)`/g)].map((m) => m[1] as string);
      variables.forEach((name, i) => {
        documented[name] = defaults.startsWith('unset')
          ? 'unset'
          : (values[values.length === 1 ? 0 : i] ?? '?');
      });
    }
    expect(start).toBeGreaterThan(1);
    expect(documented).toEqual(Object.fromEntries(VARIABLES.map((v) => [v.name, v.default ?? 'unset'])));
  });
});
