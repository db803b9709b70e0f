import crypto from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';

/**
 * A KMS-protocol server on loopback, for testing the AWS provider through the real
 * @aws-sdk/client-kms (DESIGN.md, "Testing without the cloud"). It speaks AWS JSON 1.1:
 * `POST /` with `X-Amz-Target: TrentService.<Operation>`, base64 blobs, and errors as 400
 * `{"__type": "...", "message": "..."}`. It ignores signatures.
 *
 * Modes: normal; throttle the next N calls; deny everything; the key disabled; the key in an
 * invalid state (pending deletion); stall (accept, never answer); stop (nothing listens).
 */
export type KmsMode = 'normal' | 'deny' | 'disabled' | 'invalid_state' | 'stall';

export interface KmsCall {
  operation: string;
  keyId?: string;
  encryptionContext?: Record<string, string>;
  sourceEncryptionContext?: Record<string, string>;
  destinationEncryptionContext?: Record<string, string>;
  /** What the server answered: `ok` or the error type. */
  outcome: string;
}

const REGION = 'us-east-1';
const ACCOUNT = '111122223333';

interface FakeKey {
  id: string;
  arn: string;
  material: Buffer;
}

export class KmsServer {
  readonly calls: KmsCall[] = [];
  private mode: KmsMode = 'normal';
  private throttleRemaining = 0;
  private readonly keys = new Map<string, FakeKey>();
  private readonly sockets = new Set<net.Socket>();
  private readonly stalled = new Set<http.ServerResponse>();
  private server: http.Server;
  readonly key: FakeKey;

  private constructor(readonly port: number, server: http.Server) {
    this.server = server;
    this.key = this.createKey();
  }

  /** Starts on a free loopback port (or `port`, to come back after `stop`). */
  static async start(port = 0): Promise<KmsServer> {
    const holder: { kms?: KmsServer } = {};
    const server = http.createServer((req, res) => holder.kms!.handle(req, res));
    const actual = await listen(server, port);
    const kms = new KmsServer(actual, server);
    holder.kms = kms;
    kms.track(server);
    return kms;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A further key, e.g. the destination of a KMS key rotation. */
  createKey(): FakeKey {
    const id = crypto.randomUUID();
    const key = { id, arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`, material: crypto.randomBytes(32) };
    this.keys.set(id, key);
    this.keys.set(key.arn, key);
    return key;
  }

  setMode(mode: KmsMode): void {
    this.mode = mode;
    if (mode !== 'stall') this.releaseStalled();
  }

  /** The next `times` calls fail with ThrottlingException; then the current mode applies again. */
  throttle(times: number): void {
    this.throttleRemaining = times;
  }

  count(operation?: string): number {
    return operation ? this.calls.filter((c) => c.operation === operation).length : this.calls.length;
  }

  /** Nothing listens any more: connections are refused until `resume`. */
  async stop(): Promise<void> {
    this.releaseStalled();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again on the same port, with the same keys. */
  async resume(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await listen(this.server, this.port);
    this.track(this.server);
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.stop();
  }

  private track(server: http.Server): void {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  private releaseStalled(): void {
    for (const res of this.stalled) res.destroy();
    this.stalled.clear();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : target;
      let body: Record<string, unknown>;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      } catch {
        return this.fail(res, { operation, outcome: 'SerializationException' }, 'SerializationException', 'invalid JSON');
      }
      const call: KmsCall = {
        operation,
        keyId: body.KeyId as string | undefined,
        encryptionContext: body.EncryptionContext as Record<string, string> | undefined,
        sourceEncryptionContext: body.SourceEncryptionContext as Record<string, string> | undefined,
        destinationEncryptionContext: body.DestinationEncryptionContext as Record<string, string> | undefined,
        outcome: 'ok',
      };
      if (req.method !== 'POST' || req.headers['content-type'] !== 'application/x-amz-json-1.1') {
        return this.fail(res, call, 'UnknownOperationException', 'expected POST application/x-amz-json-1.1');
      }
      if (this.throttleRemaining > 0) {
        this.throttleRemaining -= 1;
        return this.fail(res, call, 'ThrottlingException', 'Rate exceeded');
      }
      if (this.mode === 'stall') {
        call.outcome = 'stalled';
        this.calls.push(call);
        this.stalled.add(res);
        return;
      }
      if (this.mode === 'deny') return this.fail(res, call, 'AccessDeniedException', 'not authorized to perform this operation');
      try {
        this.answer(res, call, this.operate(operation, body));
      } catch (error) {
        const failure = error as { type: string; message: string };
        this.fail(res, call, failure.type ?? 'KMSInternalException', failure.message ?? 'internal error');
      }
    });
  }

  private operate(operation: string, body: Record<string, unknown>): unknown {
    switch (operation) {
      case 'DescribeKey': {
        const key = this.lookup(body.KeyId);
        const state = this.mode === 'disabled' ? 'Disabled' : this.mode === 'invalid_state' ? 'PendingDeletion' : 'Enabled';
        return {
          KeyMetadata: {
            AWSAccountId: ACCOUNT, KeyId: key.id, Arn: key.arn, CreationDate: 1764460800, Enabled: state === 'Enabled',
            KeyState: state, KeyUsage: 'ENCRYPT_DECRYPT', KeySpec: 'SYMMETRIC_DEFAULT', Origin: 'AWS_KMS', KeyManager: 'CUSTOMER',
          },
        };
      }
      case 'GenerateDataKey': {
        const key = this.usable(body.KeyId);
        if (body.KeySpec !== 'AES_256' && body.NumberOfBytes !== 32) throw { type: 'ValidationException', message: 'unsupported key spec' };
        const plaintext = crypto.randomBytes(32);
        return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), CiphertextBlob: wrap(key, plaintext, context(body.EncryptionContext)).toString('base64') };
      }
      case 'Decrypt': {
        const { key, plaintext } = this.unwrap(body.CiphertextBlob, body.EncryptionContext, body.KeyId);
        return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
      }
      case 'ReEncrypt': {
        const source = this.unwrap(body.CiphertextBlob, body.SourceEncryptionContext, body.SourceKeyId);
        const destination = this.usable(body.DestinationKeyId);
        return {
          SourceKeyId: source.key.arn,
          KeyId: destination.arn,
          CiphertextBlob: wrap(destination, source.plaintext, context(body.DestinationEncryptionContext)).toString('base64'),
          SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
          DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        };
      }
      default:
        throw { type: 'UnknownOperationException', message: `operation ${operation} is not served here` };
    }
  }

  private lookup(keyId: unknown): FakeKey {
    const key = typeof keyId === 'string' ? this.keys.get(keyId) : undefined;
    if (!key) throw { type: 'NotFoundException', message: 'key does not exist' };
    return key;
  }

  private usable(keyId: unknown): FakeKey {
    const key = this.lookup(keyId);
    if (this.mode === 'disabled') throw { type: 'DisabledException', message: `${key.arn} is disabled.` };
    if (this.mode === 'invalid_state') throw { type: 'KMSInvalidStateException', message: `${key.arn} is pending deletion.` };
    return key;
  }

  private unwrap(blob: unknown, encryptionContext: unknown, keyId: unknown): { key: FakeKey; plaintext: Buffer } {
    const bytes = Buffer.from(String(blob ?? ''), 'base64');
    const idLength = bytes[0] ?? 0;
    const key = this.keys.get(bytes.subarray(1, 1 + idLength).toString('utf8'));
    if (!key || bytes.length < 1 + idLength + 12 + 16) throw { type: 'InvalidCiphertextException', message: 'invalid ciphertext' };
    if (keyId !== undefined && this.keys.get(String(keyId)) !== key) throw { type: 'IncorrectKeyException', message: 'wrong key' };
    this.usable(key.id);
    const nonce = bytes.subarray(1 + idLength, 13 + idLength);
    const decipher = crypto.createDecipheriv('aes-256-gcm', key.material, nonce);
    decipher.setAAD(context(encryptionContext));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    try {
      return { key, plaintext: Buffer.concat([decipher.update(bytes.subarray(13 + idLength, bytes.length - 16)), decipher.final()]) };
    } catch {
      throw { type: 'InvalidCiphertextException', message: 'invalid ciphertext' };
    }
  }

  private answer(res: http.ServerResponse, call: KmsCall, body: unknown): void {
    this.calls.push(call);
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': crypto.randomUUID() });
    res.end(JSON.stringify(body));
  }

  private fail(res: http.ServerResponse, call: KmsCall, type: string, message: string): void {
    this.calls.push({ ...call, outcome: type });
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': crypto.randomUUID() });
    res.end(JSON.stringify({ __type: type, message }));
  }
}

/** Settings that point the vault's AWS provider at `kms`. */
export function kmsEnv(kms: KmsServer, deadlineMs = 2000): Record<string, string> {
  return {
    PDVAULT_KEY_PROVIDER: 'aws',
    PDVAULT_KMS_KEY_ID: kms.key.arn,
    PDVAULT_KMS_ENDPOINT: kms.url,
    PDVAULT_KMS_REGION: REGION,
    PDVAULT_KMS_DEADLINE_MS: String(deadlineMs),
  };
}

export const TEST_KMS_REGION = REGION;
export const TEST_AWS_CREDENTIALS = { accessKeyId: 'AKIDTESTVAULT', secretAccessKey: 'test-secret-not-used' };

function wrap(key: FakeKey, plaintext: Buffer, aad: Buffer): Buffer {
  const id = Buffer.from(key.id, 'utf8');
  const nonce = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key.material, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([id.length]), id, nonce, body, cipher.getAuthTag()]);
}

/** The encryption context as the AAD KMS would bind: sorted, so key order does not matter. */
function context(value: unknown): Buffer {
  const entries = Object.entries((value ?? {}) as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : 1));
  return Buffer.from(JSON.stringify(entries), 'utf8');
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}
