// Encryption at rest: an AES-256-GCM PayloadCodec with key ids and rotation. Every payload the client and the worker
// send to Temporal (workflow and activity arguments and results, signals, updates, queries, heartbeats, memo, the
// Web UI summaries) is stored as ciphertext; search attributes never are (Temporal indexes them), and failure messages
// stay readable (they carry provider codes, never the key).
//
// Wire format of an encoded payload (the same shape as Temporal's encryption samples):
//   metadata: { encoding: "binary/encrypted", "encryption-key-id": "<id>" }
//   data:     12-byte IV ‖ AES-256-GCM ciphertext of the whole original Payload protobuf ‖ 16-byte tag
// The key id is also the cipher's additional authenticated data: a payload relabelled with another id fails to decode.
//
// Keys come from TEMPORAL_CODEC_KEYS="k2:<base64 32 bytes>,k1:<base64 32 bytes>": the first is the current key (it
// encrypts), every listed key decrypts. Rotation: put a new key first and keep the old ones until no history that
// needs them is retained. Generate one with `openssl rand -base64 32`.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA_KEY = 'encryption-key-id';
const ENCODING_METADATA_KEY = 'encoding';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** One key as configured: its id and its 32 bytes in base64. */
export interface CodecKeySpec {
  id: string;
  /** base64 of 32 bytes */
  key: string;
}

export class CodecKeyError extends Error {
  override readonly name = 'CodecKeyError';
}

/**
 * Parses `id:base64,id:base64,…` (first = current). Errors name the entry by position and id, never the key material.
 */
export function parseCodecKeys(text: string): CodecKeySpec[] {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new CodecKeyError('no key given: expected "id:base64key[,id:base64key…]"');
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const material = colon > 0 ? entry.slice(colon + 1) : '';
    const where = `key ${i + 1}${id ? ` ("${id}")` : ''}`;
    if (!KEY_ID.test(id)) throw new CodecKeyError(`${where}: expected "id:base64key" with an id of letters, digits, . _ - (at most 64)`);
    if (seen.has(id)) throw new CodecKeyError(`${where}: the id is listed twice`);
    seen.add(id);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(material) || Buffer.from(material, 'base64').length !== 32) {
      throw new CodecKeyError(`${where}: the key must be 32 bytes in base64 (e.g. \`openssl rand -base64 32\`)`);
    }
    return { id, key: material };
  });
}

/** A fresh random key spec (tests, `npm run codec-server -- --generate-key`). */
export function generateCodecKey(id: string): CodecKeySpec {
  return { id, key: randomBytes(32).toString('base64') };
}

/** Back to `id:base64,…`. */
export function formatCodecKeys(keys: readonly CodecKeySpec[]): string {
  return keys.map((k) => `${k.id}:${k.key}`).join(',');
}

export class AesGcmPayloadCodec implements PayloadCodec {
  /** the key that encrypts */
  readonly currentKeyId: string;
  private readonly keys: ReadonlyMap<string, Buffer>;

  /** `keys[0]` is the current key; all of them decrypt. */
  constructor(keys: readonly CodecKeySpec[]) {
    if (keys.length === 0) throw new CodecKeyError('the codec needs at least one key');
    const map = new Map<string, Buffer>();
    for (const k of keys) {
      const bytes = Buffer.from(k.key, 'base64');
      if (bytes.length !== 32) throw new CodecKeyError(`key "${k.id}" is not 32 bytes`);
      if (map.has(k.id)) throw new CodecKeyError(`key id "${k.id}" is listed twice`);
      map.set(k.id, bytes);
    }
    this.currentKeyId = keys[0]!.id;
    this.keys = map;
  }

  /** The key ids this codec can decrypt. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? this.decrypt(payload) : payload));
  }

  private encrypt(payload: Payload): Payload {
    const id = this.currentKeyId;
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(id)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(id, 'utf8'));
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [ENCODING_METADATA_KEY]: Buffer.from(ENCRYPTED_ENCODING, 'utf8'),
        [KEY_ID_METADATA_KEY]: Buffer.from(id, 'utf8'),
      },
      data,
    };
  }

  private decrypt(payload: Payload): Payload {
    const rawId = payload.metadata?.[KEY_ID_METADATA_KEY];
    if (!rawId) throw new Error(`an encrypted payload has no "${KEY_ID_METADATA_KEY}" metadata`);
    const id = Buffer.from(rawId).toString('utf8');
    const key = this.keys.get(id);
    if (!key) {
      throw new Error(`a payload is encrypted with key id "${id}", which is not among the configured keys (${this.keyIds.join(', ')}): add it to TEMPORAL_CODEC_KEYS`);
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new Error(`an encrypted payload (key id "${id}") is too short to be one`);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(id, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new Error(`a payload encrypted with key id "${id}" does not authenticate: wrong key material for that id, or tampered data`);
    }
    return temporal.api.common.v1.Payload.decode(plain);
  }
}

function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.[ENCODING_METADATA_KEY];
  return !!encoding && Buffer.from(encoding).toString('utf8') === ENCRYPTED_ENCODING;
}

/** The data converter for client and worker: the codec when keys are configured, Temporal's default otherwise. */
export function codecDataConverter(keys: readonly CodecKeySpec[] | undefined): DataConverter | undefined {
  return keys && keys.length > 0 ? { payloadCodecs: [new AesGcmPayloadCodec(keys)] } : undefined;
}
