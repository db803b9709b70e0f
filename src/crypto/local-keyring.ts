import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../observability/logger';
import { AuthenticationFailed, KEY_BYTES, openWithKey, sealWithKey } from './aes-gcm';
import { MalformedCiphertext, parseCiphertext, SealedKind } from './ciphertext-format';
import { KeyProviderError, type EncryptionContext, type GeneratedDataKey, type KeyProvider, type ProviderKeyDescription, type ProviderStatus, type RewrappedDataKey } from './key-provider';

export const LOCAL_KEYRING_FILE = 'keyring.json';
const FILE_FORMAT = 'pdvault-local-keyring/1';

interface KeyringFile {
  format: typeof FILE_FORMAT;
  active: number;
  keys: Record<string, string>;
}

/**
 * The development key provider: master keys in a file (mode 0600) instead of KMS, one per
 * version so master-key rotation can be exercised. Anyone who can read the file can read
 * every key under it, which is why production refuses it unless told otherwise.
 */
export class LocalKeyring implements KeyProvider {
  readonly name = 'local' as const;

  private constructor(
    private readonly file: string,
    private readonly masterKeys: Map<number, Buffer>,
    private active: number,
  ) {}

  /** Opens `<dataDir>/keyring.json`, creating it with one fresh master key on first start. */
  static openOrCreate(dataDir: string, logger: Logger): LocalKeyring {
    const file = path.join(dataDir, LOCAL_KEYRING_FILE);
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o711 });
    let created = false;
    if (!fs.existsSync(file)) {
      const first: KeyringFile = { format: FILE_FORMAT, active: 1, keys: { '1': crypto.randomBytes(KEY_BYTES).toString('base64') } };
      try {
        fs.writeFileSync(file, JSON.stringify(first, null, 2), { mode: 0o600, flag: 'wx' });
        created = true;
      } catch (error) {
        // Another process created it first: use theirs.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    const keyring = LocalKeyring.read(file);
    logger.warn(
      { keyring_file: file, created, master_key_versions: keyring.masterKeys.size },
      'LOCAL KEYRING IN USE: every key is protected by a file on this machine, not by KMS; do not hold real personal data',
    );
    return keyring;
  }

  private static read(file: string): LocalKeyring {
    const { mode, uid } = fs.statSync(file);
    if ((mode & 0o077) !== 0) {
      throw new Error(`local keyring ${file} is readable by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
    }
    // A keyring someone else owns is one they could have written: its keys are not the vault's own.
    const self = process.getuid?.();
    if (self !== undefined && uid !== self) throw new Error(`local keyring ${file} is owned by another user (uid ${uid}); the vault uses only its own`);
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as KeyringFile;
    if (parsed.format !== FILE_FORMAT) throw new Error(`local keyring ${file} has an unknown format`);
    const keys = new Map<number, Buffer>();
    for (const [version, encoded] of Object.entries(parsed.keys)) {
      const key = Buffer.from(encoded, 'base64');
      if (key.length !== KEY_BYTES) throw new Error(`local keyring ${file}: master key ${version} is not 256 bits`);
      keys.set(Number(version), key);
    }
    if (!keys.has(parsed.active)) throw new Error(`local keyring ${file}: the active master key is missing`);
    return new LocalKeyring(file, keys, parsed.active);
  }

  get activeVersion(): number {
    return this.active;
  }

  /** Adds a master-key version and makes it the one new data keys are wrapped under. */
  rotateMasterKey(): number {
    // From the file as it is now: writing from an older view would drop a version another process added.
    this.takeInNewVersions();
    const next = Math.max(...this.masterKeys.keys()) + 1;
    this.masterKeys.set(next, crypto.randomBytes(KEY_BYTES));
    this.active = next;
    const contents: KeyringFile = {
      format: FILE_FORMAT,
      active: next,
      keys: Object.fromEntries([...this.masterKeys].map(([version, key]) => [String(version), key.toString('base64')])),
    };
    // Write-then-rename, so a crash never leaves a half-written keyring.
    const temporary = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(contents, null, 2), { mode: 0o600 });
    fs.renameSync(temporary, this.file);
    return next;
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const plaintext = crypto.randomBytes(KEY_BYTES);
    return { plaintext, wrapped: this.wrap(plaintext, context), providerKeyRef: `local:v${this.active}` };
  }

  async decryptDataKey(wrapped: Buffer, context: EncryptionContext): Promise<Buffer> {
    return this.unwrap(wrapped, context);
  }

  async reEncryptDataKey(wrapped: Buffer, context: EncryptionContext): Promise<RewrappedDataKey> {
    const plaintext = this.unwrap(wrapped, context);
    try {
      return { wrapped: this.wrap(plaintext, context), providerKeyRef: `local:v${this.active}` };
    } finally {
      plaintext.fill(0);
    }
  }

  async describe(): Promise<ProviderStatus> {
    return { ok: this.masterKeys.has(this.active) };
  }

  /** The local stand-in for a new KMS key: a fresh master-key version (a named one must already exist). */
  async describeKey(keyId: string | undefined): Promise<ProviderKeyDescription> {
    if (keyId === undefined) {
      const version = this.rotateMasterKey();
      return { usable: true, keyRef: `local:v${version}` };
    }
    const version = Number(/^local:v(\d+)$/.exec(keyId)?.[1]);
    if (!this.masterKeys.has(version)) this.takeInNewVersions();
    return this.masterKeys.has(version) ? { usable: true, keyRef: keyId } : { usable: false, keyRef: keyId, detail: 'no such local master-key version' };
  }

  useKey(keyRef: string): void {
    const version = Number(/^local:v(\d+)$/.exec(keyRef)?.[1]);
    if (!this.masterKeys.has(version)) this.takeInNewVersions();
    if (this.masterKeys.has(version)) this.active = version;
  }

  currentKeyRef(): string {
    return `local:v${this.active}`;
  }

  /**
   * Reads the file again for master-key versions added since it was read, by another process
   * (`pdvault keys rotate` beside a running vault, another instance): without them, keys
   * wrapped under a new version could not be opened until a restart. Known versions never change.
   */
  private takeInNewVersions(): void {
    for (const [version, key] of LocalKeyring.read(this.file).masterKeys) {
      if (!this.masterKeys.has(version)) this.masterKeys.set(version, key);
    }
  }

  private wrap(plaintext: Buffer, context: EncryptionContext): Buffer {
    return sealWithKey(this.masterKeys.get(this.active)!, SealedKind.LocalDataKey, this.active, contextBindings(context), plaintext);
  }

  private unwrap(wrapped: Buffer, context: EncryptionContext): Buffer {
    try {
      const version = parseCiphertext(wrapped, SealedKind.LocalDataKey).keyReference;
      if (!this.masterKeys.has(version)) this.takeInNewVersions();
      const master = this.masterKeys.get(version);
      if (!master) throw new KeyProviderError('invalid_ciphertext', 'wrapped under an unknown local master key');
      return openWithKey(master, wrapped, SealedKind.LocalDataKey, contextBindings(context));
    } catch (error) {
      if (error instanceof AuthenticationFailed || error instanceof MalformedCiphertext) {
        throw new KeyProviderError('invalid_ciphertext', 'local keyring rejected the wrapped key', { cause: error });
      }
      throw error;
    }
  }
}

/** The encryption context as AAD bindings, in a fixed order so equal contexts give equal AAD. */
function contextBindings(context: EncryptionContext): string[] {
  return Object.keys(context)
    .sort()
    .flatMap((key) => [key, context[key]!]);
}
