/**
 * The alert channels' secrets (a webhook's URL and signing key, a Slack
 * incoming-webhook URL), kept like the project's other secrets and never in
 * the table, whose items hold only a reference (StoredChannel.secretRev):
 *
 * - in the cloud, one JSON secret in Secrets Manager that the stack creates
 *   (ALERT_CHANNEL_SECRET_ARN, as CURSOR_SECRET_ARN names the cursor key's):
 *   `{"<channel id>": {"rev": "…", "url": "…", "secret": "…"}}`. One secret
 *   rather than one per channel: the grants name its exact ARN (the API
 *   function may read and put it, the evaluator only read it), no function
 *   may create or delete secrets, it lives and dies with the stack, and costs
 *   one secret's fee whatever the channel count;
 * - locally, a file in the data directory (`alert-channel-secrets.json`, mode
 *   600), as `npm start` keeps the cursor key; in memory with ENABLE_DB=0.
 *
 * The document is read whole, changed and written back whole, under a lease
 * in the table (withChannelSecretsLease), so concurrent writers never lose a
 * change. Readers cache it for SECRET_MAX_AGE_MS, and fetch it again at once
 * when a channel's reference names a revision the cached copy lacks (a
 * channel created or changed since).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { badRequest } from '../http/problem.js';
import { deleteChannel, listChannels, saveChannel, withChannelSecretsLease } from '../store/alerts.js';
import { type Channel, destinationOf, MAX_CHANNELS, type StoredChannel } from './model.js';

/** The file of the local store, in DATA_DIR. */
export const CHANNEL_SECRETS_FILE = 'alert-channel-secrets.json';
/** Secrets Manager's ceiling on a secret value. */
export const MAX_SECRET_BYTES = 65_536;
/** How long a read copy is trusted (as shared/secrets.ts caches the configuration's secrets). */
const SECRET_MAX_AGE_MS = 300_000;

/** One channel's secrets: its URL, and a webhook's signing key. */
export interface ChannelSecretEntry {
  rev: string;
  url: string;
  secret?: string | undefined;
}
export type ChannelSecretDocument = Record<string, ChannelSecretEntry>;

/** Where the document is kept. */
export interface ChannelSecretStore {
  readonly kind: 'secrets-manager' | 'file' | 'memory';
  load(): Promise<ChannelSecretDocument>;
  save(document: ChannelSecretDocument): Promise<void>;
}

function parseDocument(text: string | undefined): ChannelSecretDocument {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('The alert channel secrets are not a JSON object');
  return parsed as ChannelSecretDocument;
}

function secretsManagerStore(arn: string): ChannelSecretStore {
  return {
    kind: 'secrets-manager',
    async load() {
      // Imported on first use: functions that never touch a channel secret do not load the client.
      const { getSecretString } = await import('../secrets-client.js');
      return parseDocument(await getSecretString(arn));
    },
    async save(document) {
      const { putSecretString } = await import('../secrets-client.js');
      await putSecretString(arn, JSON.stringify(document));
    },
  };
}

function fileStore(dataDir: string): ChannelSecretStore {
  const file = join(dataDir, CHANNEL_SECRETS_FILE);
  return {
    kind: 'file',
    async load() {
      try {
        return parseDocument(readFileSync(file, 'utf8'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
        throw error;
      }
    },
    async save(document) {
      mkdirSync(dataDir, { recursive: true });
      // Written aside, then renamed over: a reader never sees half a document.
      const temporary = `${file}.${randomUUID().slice(0, 8)}.tmp`;
      writeFileSync(temporary, `${JSON.stringify(document, null, 2)}\n`, { mode: 0o600 });
      renameSync(temporary, file);
    },
  };
}

function memoryStore(): ChannelSecretStore {
  let kept: ChannelSecretDocument = {};
  return {
    kind: 'memory',
    load: async () => structuredClone(kept),
    save: async (document) => {
      kept = structuredClone(document);
    },
  };
}

/** A store with its cached copy, per location: warm invocations reuse both. */
interface CachedStore {
  store: ChannelSecretStore;
  copy?: { document: ChannelSecretDocument; at: number } | undefined;
}
const stores = new Map<string, CachedStore>();

/** The store this configuration names: Secrets Manager in the cloud, the data directory locally. */
export function channelSecretStore(config: Pick<Config, 'platform' | 'dataDir'>): CachedStore {
  const arn = config.platform.alertChannelSecretArn;
  const where = arn ? `arn:${arn}` : config.dataDir ? `dir:${config.dataDir}` : 'memory';
  let found = stores.get(where);
  if (!found) {
    found = {
      store: arn ? secretsManagerStore(arn) : config.dataDir ? fileStore(config.dataDir) : memoryStore(),
    };
    stores.set(where, found);
  }
  return found;
}

async function loadCopy(cached: CachedStore, now: number, fresh: boolean): Promise<ChannelSecretDocument> {
  if (!fresh && cached.copy && now - cached.copy.at < SECRET_MAX_AGE_MS) return cached.copy.document;
  const document = await cached.store.load();
  cached.copy = { document, at: now };
  return document;
}

/**
 * Resolves stored channels to channels with their secrets, reading the store
 * at most twice (the cached copy, then a fresh one if a revision is missing
 * from it). An old-form item is used as it is. A channel whose secrets cannot
 * be found is left out of the map (its deliveries fail, logged).
 */
export async function resolveChannels(
  config: Pick<Config, 'platform' | 'dataDir'>,
  stored: readonly StoredChannel[],
  now: number,
): Promise<Map<string, Channel>> {
  const resolved = new Map<string, Channel>();
  const referenced = stored.filter((c) => c.type !== 'email' && c.url === undefined);
  let document: ChannelSecretDocument = {};
  if (referenced.length > 0) {
    const cached = channelSecretStore(config);
    document = await loadCopy(cached, now, false);
    if (referenced.some((c) => document[c.id]?.rev !== c.secretRev))
      document = await loadCopy(cached, now, true);
  }
  for (const channel of stored) {
    const base = { id: channel.id, name: channel.name, updatedAt: channel.updatedAt };
    if (channel.type === 'email') {
      resolved.set(channel.id, { ...base, type: 'email' });
      continue;
    }
    const entry =
      channel.url !== undefined
        ? { url: channel.url, secret: channel.secret }
        : document[channel.id]?.rev === channel.secretRev
          ? document[channel.id]
          : undefined;
    if (!entry) continue;
    if (channel.type === 'slack') resolved.set(channel.id, { ...base, type: 'slack', url: entry.url });
    else if (entry.secret)
      resolved.set(channel.id, { ...base, type: 'webhook', url: entry.url, secret: entry.secret });
  }
  return resolved;
}

/** What a channel write changes: a channel created or replaced, or one deleted. */
export type ChannelChange = { put: Channel } | { remove: string };

/**
 * Applies a channel write with the secrets in the store and a reference in
 * the table, under the lease. Also moves every old-form channel's inline
 * secrets to the store (the migration: each channel write finishes it for all)
 * and drops entries whose channel is gone. Order: a deleted channel's item
 * goes first; the store is written before the items that refer to it, so an
 * item never names a revision the store lacks. Returns whether `remove` found it.
 */
export async function writeChannel(
  config: Pick<Config, 'platform' | 'dataDir' | 'tableName'>,
  change: ChannelChange,
  options: { now: () => number; sleep?: (ms: number) => Promise<void> },
): Promise<boolean> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return withChannelSecretsLease(config.tableName, { now: options.now, sleep }, async () => {
    if ('remove' in change && !(await deleteChannel(config.tableName, change.remove))) return false;
    const cached = channelSecretStore(config);
    const existing = await listChannels(config.tableName, MAX_CHANNELS);
    const document = { ...(await loadCopy(cached, options.now(), true)) };
    const items: StoredChannel[] = [];
    const moving = existing.filter((c) => c.type !== 'email' && c.url !== undefined);
    for (const channel of moving) {
      if ('put' in change && change.put.id === channel.id) continue;
      const rev = randomUUID();
      document[channel.id] = {
        rev,
        url: channel.url as string,
        ...(channel.secret ? { secret: channel.secret } : {}),
      };
      const { url: _url, secret: _secret, ...rest } = channel;
      items.push({ ...rest, destination: destinationOf(channel.url as string), secretRev: rev });
    }
    if ('put' in change) {
      const channel = change.put;
      const base = { id: channel.id, name: channel.name, type: channel.type, updatedAt: channel.updatedAt };
      if (channel.type === 'email') {
        delete document[channel.id];
        items.push(base);
      } else {
        const rev = randomUUID();
        document[channel.id] = {
          rev,
          url: channel.url,
          ...(channel.type === 'webhook' ? { secret: channel.secret } : {}),
        };
        items.push({ ...base, destination: destinationOf(channel.url), secretRev: rev });
      }
    }
    // Entries of channels deleted (now, or by a write that failed half-way) go.
    const kept = new Set([...existing.map((c) => c.id), ...items.map((c) => c.id)]);
    for (const id of Object.keys(document)) if (!kept.has(id)) delete document[id];
    if (Buffer.byteLength(JSON.stringify(document)) > MAX_SECRET_BYTES)
      throw badRequest(
        'body.url',
        `the channels' secrets would pass ${MAX_SECRET_BYTES} bytes; use shorter URLs`,
      );
    await cached.store.save(document);
    cached.copy = { document, at: options.now() };
    for (const item of items) await saveChannel(config.tableName, item);
    return true;
  });
}
