import { z } from 'zod';

/**
 * Every setting the vault reads, declared once: its environment variable, its schema, its
 * default and why. The README's configuration table is generated from this list
 * (`npm run config:doc`), so the documentation cannot drift from the code.
 *
 * A setting that holds a secret has no default, ever.
 */
export interface Setting {
  env: string;
  schema: z.ZodType;
  /** Default for development mode; `undefined` means "no default". */
  devDefault?: string;
  /** Default for production mode when it differs from development's. */
  prodDefault?: string;
  /** `to serve`: required only to run the service, not for a command (migrate, clients, keys). */
  requiredInProduction?: boolean | 'to serve';
  doc: string;
}

/**
 * A whole number written in digits: Number() (and so z.coerce) would also take `0x50`, `1e3`
 * and `0b11`, and turn a value of spaces into 0, which for several settings means "off".
 */
const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d{1,16}$/, 'must be a whole number written in digits')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
const port = wholeNumber(0, 65535);
const positiveInt = (max: number) => wholeNumber(1, max);
const flag = z.stringbool();
/** Addresses and ranges, comma-separated: `10.0.0.7, 10.1.0.0/16, fd00::/8`. */
const addressList = z
  .string()
  .transform((list) => list.split(',').map((entry) => entry.trim()))
  .pipe(
    z
      .array(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], { error: 'each entry must be an IP address or a CIDR range' }))
      .refine((entries) => entries.every((entry) => !/\/0+$/.test(entry)), 'a /0 range would trust every address to say where a request came from'),
  );
const nonEmpty = z.string().trim().min(1);
/**
 * A connection string in one of the forms `pg` reads: a `postgres://` or `postgresql://` URL (a
 * Unix socket as `?host=/var/run/postgresql`), `socket:/path`, or a socket folder path. Only the
 * form is checked, so that a value that is none of them is said at once rather than as a failed
 * host lookup; never echoed (it may hold a password).
 */
const databaseUrl = z
  .string()
  .trim()
  .regex(/^(postgres(ql)?:\/\/|socket:|\/)/, 'must be a PostgreSQL connection URL, e.g. postgres://user@db.internal:5432/pdvault (a Unix socket: postgres:///pdvault?host=/var/run/postgresql)');
/** An https URL; its own message, since zod's for a wrong protocol is "Invalid URL". */
const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https:// URL' });

export const SETTINGS = [
  {
    env: 'PDVAULT_MODE',
    schema: z.enum(['development', 'production']),
    devDefault: 'development',
    doc: '`development` embeds PostgreSQL, generates a self-signed certificate and a local keyring in the data folder. `production` needs every external setting given explicitly and refuses to start without it.',
  },
  {
    env: 'PDVAULT_DATA_DIR',
    schema: nonEmpty,
    devDefault: './.pdvault',
    doc: 'Folder for development state: the embedded PostgreSQL cluster, the generated certificate. Created traverse-only (0711); secrets inside are 0600.',
  },
  {
    env: 'PDVAULT_HOST',
    schema: nonEmpty,
    devDefault: '127.0.0.1',
    prodDefault: '0.0.0.0',
    doc: 'Address the HTTPS listener binds. Loopback in development so a laptop vault is not reachable from the network.',
  },
  {
    env: 'PDVAULT_PORT',
    schema: port,
    devDefault: '8443',
    doc: 'TCP port of the HTTPS listener (the only listener; there is no plaintext port). 0 picks a free port.',
  },
  {
    env: 'PDVAULT_TLS_CERT_FILE',
    schema: nonEmpty,
    requiredInProduction: 'to serve',
    doc: 'PEM certificate chain served to clients. Development generates `<data dir>/tls/cert.pem` when unset.',
  },
  {
    env: 'PDVAULT_TLS_KEY_FILE',
    schema: nonEmpty,
    requiredInProduction: 'to serve',
    doc: 'PEM private key for the certificate. Development generates `<data dir>/tls/key.pem` (mode 0600) when unset.',
  },
  {
    env: 'PDVAULT_TLS_MIN_VERSION',
    schema: z.enum(['TLSv1.2', 'TLSv1.3']),
    devDefault: 'TLSv1.2',
    doc: 'Lowest TLS version accepted. `TLSv1.3` turns TLS 1.2 off entirely; TLS 1.3 is always preferred.',
  },
  {
    env: 'PDVAULT_TLS_CLIENT_CA_FILE',
    schema: nonEmpty,
    doc: 'When set, mutual TLS: every client must present a certificate issued by a CA in this PEM file, or the handshake fails.',
  },
  {
    env: 'PDVAULT_BODY_LIMIT_BYTES',
    schema: positiveInt(10 * 1024 * 1024),
    devDefault: '65536',
    doc: 'Largest request body accepted; larger bodies get 413 before they are parsed.',
  },
  {
    env: 'PDVAULT_MAX_HEADER_BYTES',
    schema: positiveInt(64 * 1024),
    devDefault: '16384',
    doc: 'Largest total size of request headers; larger requests get 431 from the HTTP parser.',
  },
  {
    env: 'PDVAULT_HEADERS_TIMEOUT_MS',
    schema: positiveInt(120_000),
    devDefault: '10000',
    doc: 'Time a client has to send all request headers (slowloris bound).',
  },
  {
    env: 'PDVAULT_REQUEST_TIMEOUT_MS',
    schema: positiveInt(300_000),
    devDefault: '30000',
    doc: 'Time a client has to send a whole request.',
  },
  {
    env: 'PDVAULT_KEEP_ALIVE_TIMEOUT_MS',
    schema: positiveInt(120_000),
    devDefault: '5000',
    doc: 'How long an idle keep-alive connection stays open.',
  },
  {
    env: 'PDVAULT_TRUSTED_PROXIES',
    schema: addressList,
    doc: 'Load balancers or proxies in front of the vault, as IP addresses or CIDR ranges, comma-separated. A request whose peer is one of them is taken to come from the address it gives in `X-Forwarded-For` (the nearest address not itself trusted): that address is the one the failed-authentication throttle counts, the audit trail records and the request log shows. Unset, `X-Forwarded-For` is ignored and the peer address is used. Set it when a proxy stands in front, or every client shares the proxy\'s address and one attacker\'s failures throttle them all; never list addresses clients can send from.',
  },
  {
    env: 'PDVAULT_SHUTDOWN_GRACE_MS',
    schema: positiveInt(120_000),
    devDefault: '10000',
    doc: 'On SIGTERM, how long in-flight requests may take before their connections are closed. Meanwhile new connections are refused, `/readyz` answers 503, and a request arriving on an open connection is its last; the process exits at the latest 15 s after the grace, whatever is still waiting.',
  },
  {
    env: 'DATABASE_URL',
    schema: databaseUrl,
    requiredInProduction: true,
    doc: 'PostgreSQL (13 or later) connection string. For TLS to the database add `?sslmode=verify-full&sslrootcert=/path/ca.pem`. Development starts an embedded PostgreSQL when unset.',
  },
  {
    env: 'PDVAULT_DB_POOL_MAX',
    schema: positiveInt(200),
    devDefault: '20',
    doc: 'Most connections one instance holds open. A request holds one for each of its queries and the audit group commit holds one of its own, so below about 20 requests queue for connections under load. Mind PostgreSQL\'s `max_connections` across instances.',
  },
  {
    env: 'PDVAULT_DB_STATEMENT_TIMEOUT_MS',
    schema: positiveInt(600_000),
    devDefault: '5000',
    doc: 'PostgreSQL `statement_timeout` for the vault\'s sessions: a stuck query fails instead of holding a connection (503 `database_busy`). The vault also gives up on its own 2 s later (the server cannot answer when the network drops packets) and answers 503 `database_unavailable`; that session is closed, not reused.',
  },
  {
    env: 'PDVAULT_DB_APPLICATION_NAME',
    schema: z.string().regex(/^[A-Za-z0-9_.-]{1,63}$/),
    devDefault: 'pdvault',
    doc: 'PostgreSQL `application_name`, shown in `pg_stat_activity`.',
  },
  {
    env: 'PDVAULT_DB_SSL_CA_FILE',
    schema: nonEmpty,
    doc: 'PEM CA bundle for TLS to PostgreSQL; when set the server certificate and host name are verified (verify-full).',
  },
  {
    env: 'PDVAULT_MIGRATE_ON_START',
    schema: flag,
    devDefault: 'true',
    doc: 'Apply pending migrations at start. Set `false` where migrations run as a separate step (`npm run migrate`).',
  },
  {
    env: 'PDVAULT_EMBEDDED_PG_PORT',
    schema: port,
    devDefault: '54329',
    doc: 'Development only: port of the embedded PostgreSQL (listens on loopback).',
  },
  {
    env: 'PDVAULT_KEY_PROVIDER',
    schema: z.enum(['aws', 'local']),
    devDefault: 'local',
    prodDefault: 'aws',
    doc: 'What protects the top of the key hierarchy: `aws` (AWS KMS, recommended for any real data) or `local` (a keyring file `keyring.json` in the data folder, created mode 0600 on first start; development only, logged loudly, refused in production unless `PDVAULT_ALLOW_LOCAL_KEYRING_IN_PRODUCTION` is set).',
  },
  {
    env: 'PDVAULT_KMS_KEY_ID',
    schema: nonEmpty,
    doc: 'With the `aws` provider (required then): id, ARN or alias of the symmetric KMS key that wraps the KEK generations, until a `kms_key` rotation moves them to another: from then on the vault uses the key that rotation named (kept in the database) whatever this says, and a start whose setting names another key logs a warning saying so. Credentials come from the standard AWS chain (environment, web identity, container or instance role); grant `kms:GenerateDataKey`, `kms:Decrypt`, `kms:ReEncrypt*` and `kms:DescribeKey` on this key only.',
  },
  {
    env: 'PDVAULT_KMS_REGION',
    schema: nonEmpty,
    doc: 'With the `aws` provider: the KMS region. Unset, the standard AWS chain decides (`AWS_REGION`, shared config).',
  },
  {
    env: 'PDVAULT_KMS_ENDPOINT',
    schema: z.url({ protocol: /^https?$/ }),
    doc: 'With the `aws` provider: a KMS endpoint other than the region\'s public one (a VPC endpoint, FIPS endpoint, or a test server). Unset in normal use. In production `https` only (plain `http` only to a loopback address): key material travels over it.',
  },
  {
    env: 'PDVAULT_KMS_DEADLINE_MS',
    schema: positiveInt(60_000),
    devDefault: '3000',
    doc: 'Longest one KMS operation may take, retries included; past it the request fails with 503 `kms_unavailable`. KMS is off the hot path, so this bounds only cache misses and key creation.',
  },
  {
    env: 'PDVAULT_KMS_MAX_ATTEMPTS',
    schema: positiveInt(10),
    devDefault: '3',
    doc: 'Attempts per KMS operation, the first included; throttling and transient errors are retried with backoff within the deadline.',
  },
  {
    env: 'PDVAULT_KMS_READINESS_CHECK_MS',
    schema: wholeNumber(0, 3_600_000),
    devDefault: '10000',
    doc: 'How long `/readyz` reports the key provider ready from its last good answer before asking it again (one `DescribeKey`, shared by the probes waiting on it). Without it, anyone who can reach the port spends KMS calls, and one throttled call marks the instance not ready. A failed check is not remembered. 0 asks on every probe.',
  },
  {
    env: 'PDVAULT_ALLOW_LOCAL_KEYRING_IN_PRODUCTION',
    schema: flag,
    devDefault: 'false',
    doc: 'Lets production mode start with the `local` key provider. Keys are then only as safe as the keyring file; meant for test rigs, never for real personal data.',
  },
  {
    env: 'PDVAULT_KEK_CACHE_MAX_AGE_MS',
    schema: positiveInt(24 * 3600 * 1000),
    devDefault: '300000',
    doc: 'How long an unwrapped key-encryption key is used before KMS is asked again (refreshed ahead, in the background). Bounds how long a disabled KMS key keeps working; also the KMS call rate: about one Decrypt per KEK generation per period per instance.',
  },
  {
    env: 'PDVAULT_KEK_CACHE_STALE_MS',
    schema: wholeNumber(0, 24 * 3600 * 1000),
    devDefault: '900000',
    doc: 'How long past its maximum age a cached key-encryption key keeps serving reads while KMS is unreachable (an outage, not a refusal: a disabled key or denied access drops it at once). New keys are never wrapped with a stale one. 0 turns the grace off.',
  },
  {
    env: 'PDVAULT_KEK_MAX_WRAPS',
    schema: wholeNumber(1, 2 ** 30),
    devDefault: '100000000',
    doc: 'Keys wrapped under one KEK generation (random 96-bit nonces) before it is retired for new wraps and a new generation is created. At most 2^30, well below the 2^32 limit for random GCM nonces; the count is persisted.',
  },
  {
    env: 'PDVAULT_SUBJECT_KEY_CACHE_ENTRIES',
    schema: positiveInt(10_000_000),
    devDefault: '1000000',
    doc: 'Most subjects whose unwrapped keys are held in memory (least recently used are dropped and zeroed first); about 120 bytes each, the keys themselves in slots outside the JavaScript heap (about 120 MB at the default once full; slots are kept once used). A read of a subject outside it fetches the wrapped key with the row (same query) and unwraps it.',
  },
  {
    env: 'PDVAULT_KEK_ROTATE_AFTER_DAYS',
    schema: wholeNumber(0, 3650),
    devDefault: '90',
    doc: 'Automatic KEK rotation: once the active KEK generation is this many days old, a `kek` rotation job starts by itself (a new generation, every subject key re-wrapped). 0 turns the age trigger off.',
  },
  {
    env: 'PDVAULT_KEK_ROTATE_AFTER_WRAPS',
    schema: wholeNumber(0, 2 ** 30),
    devDefault: '50000000',
    doc: 'Automatic KEK rotation: once the active KEK generation has wrapped this many keys, a `kek` rotation job starts by itself. Keep it below `PDVAULT_KEK_MAX_WRAPS`, so the job re-wraps old keys instead of the generation merely being retired. 0 turns the count trigger off.',
  },
  {
    env: 'PDVAULT_ROTATION_BATCH_SIZE',
    schema: positiveInt(50_000),
    devDefault: '2000',
    doc: 'Rows a rotation job claims (`SELECT … FOR UPDATE SKIP LOCKED`), re-wraps and commits, with its progress, in one transaction. A crash loses at most one batch of work per worker, and redoes it.',
  },
  {
    env: 'PDVAULT_ROTATION_WORKERS',
    schema: wholeNumber(0, 16),
    devDefault: '2',
    doc: 'Batches one instance works on at once for a running rotation job; every instance on the database takes part. 0: this instance starts jobs but leaves the work to others.',
  },
  {
    env: 'PDVAULT_ROTATION_POLL_MS',
    schema: positiveInt(600_000),
    devDefault: '1000',
    doc: 'How often an instance looks for running rotation jobs to take part in (and for a KMS key another instance moved to). A job resumes after a crash within this time of a restart. A KEK rotation lasts at least 2.5 s (every instance checks within a second which generation takes new wraps), then ends at the next look.',
  },
  {
    env: 'PDVAULT_BLIND_INDEX_RETIRE_GRACE_MS',
    schema: wholeNumber(0, 3_600_000),
    devDefault: '60000',
    doc: 'A `blind_index` rotation retires the old index key no sooner than this after the new key became active: every instance reloads its index keys within 30 s, and a write it computed before then commits well within the 30 s more. A row written under the old key later than the count before retirement is re-indexed before the job ends. Lower only with a single instance.',
  },
  {
    env: 'PDVAULT_ISSUER',
    schema: httpsUrl,
    doc: 'The vault\'s public `https://` URL, used as the `iss` of every access token and in the RFC 8414 metadata. Set it wherever clients reach the vault through another name (a load balancer); unset, it is the listener\'s own URL.',
  },
  {
    env: 'PDVAULT_TOKEN_AUDIENCE',
    schema: nonEmpty,
    devDefault: 'urn:pdvault:api',
    doc: 'The `aud` of every access token; `/v1` accepts only tokens that name it.',
  },
  {
    env: 'PDVAULT_TOKEN_TTL_SECONDS',
    schema: wholeNumber(30, 900),
    devDefault: '300',
    doc: 'Lifetime of an access token, 5 minutes by default and 15 at most: a stolen token is useful briefly.',
  },
  {
    env: 'PDVAULT_TOKEN_ALGORITHM',
    schema: z.enum(['ES256', 'EdDSA']),
    devDefault: 'ES256',
    doc: 'Signature algorithm of new signing keys (`ES256` or `EdDSA`, Ed25519). Tokens signed by a key of the other algorithm stay valid until they expire.',
  },
  {
    env: 'PDVAULT_TOKEN_CLOCK_SKEW_SECONDS',
    schema: wholeNumber(0, 120),
    devDefault: '30',
    doc: 'Clock skew tolerated when checking `exp`, `nbf` and `iat` of an access token.',
  },
  {
    env: 'PDVAULT_TOKEN_CACHE_ENTRIES',
    schema: positiveInt(1_000_000),
    devDefault: '10000',
    doc: 'Most verified access tokens kept in memory (each until it expires), so a signature is not checked again on every request. Revocation and disabled clients are still checked on every request (see `PDVAULT_STANDING_CACHE_MS`).',
  },
  {
    env: 'PDVAULT_STANDING_CACHE_MS',
    schema: wholeNumber(0, 60_000),
    devDefault: '1000',
    doc: 'How long an instance may answer from memory whether a token is revoked and its client still enabled with the same grants, instead of asking PostgreSQL on every request. A trigger announces every change to a client and every revocation; each instance drops what it cached as soon as the announcement arrives (the instance that made the change, before it answers), so this only bounds how long a lost announcement could matter. While the session that listens for them is down, every request asks the database. 0 asks on every request.',
  },
  {
    env: 'PDVAULT_SECRET_ROTATION_OVERLAP_SECONDS',
    schema: wholeNumber(0, 30 * 24 * 3600),
    devDefault: '86400',
    doc: 'After a client secret is rotated, how long the previous secret keeps working, so the client can be redeployed without an outage. 0 ends it at once.',
  },
  {
    env: 'PDVAULT_AUTH_FAILURES_PER_CLIENT',
    schema: positiveInt(100_000),
    devDefault: '10',
    doc: 'Failed client authentications allowed per client id from one source address (the /64 of a global IPv6 address counts as one) in a window; beyond it the token and revocation endpoints answer 429 with `Retry-After` to that client id from that source, and other sources are unaffected (client ids are not secret). Counted in PostgreSQL, so the limit holds across instances; attempts sent at once count too (those beyond it wait while the others are checked, at most 10 s and 256 at a time on an instance, then 503 with `Retry-After`), so a burst gets no more guesses than the limit, on each instance.',
  },
  {
    env: 'PDVAULT_AUTH_FAILURES_PER_ADDRESS',
    schema: positiveInt(1_000_000),
    devDefault: '50',
    doc: 'Failed client authentications allowed per source address in a window (all client ids together; the /64 of a global IPv6 address counts as one address, the addresses of a private network each alone); beyond it, 429 with `Retry-After`.',
  },
  {
    env: 'PDVAULT_AUTH_FAILURE_WINDOW_SECONDS',
    schema: positiveInt(86_400),
    devDefault: '300',
    doc: 'Length of the window in which failed client authentications are counted.',
  },
  {
    env: 'PDVAULT_ARGON2_CONCURRENCY',
    schema: positiveInt(64),
    devDefault: '2',
    doc: 'Most argon2 computations (19 MiB each) running at once; keep it below the libuv thread pool size (4) so hashing never starves the rest of the process.',
  },
  {
    env: 'PDVAULT_ARGON2_QUEUE_LIMIT',
    schema: positiveInt(100_000),
    devDefault: '256',
    doc: 'Most client authentications waiting for argon2; beyond it the token endpoint answers 503 with `Retry-After` instead of queueing without bound.',
  },
  {
    env: 'PDVAULT_POLICY_CACHE_MS',
    schema: wholeNumber(0, 60_000),
    devDefault: '1000',
    doc: 'How long an instance decides with the policy version it holds before asking the database for the current version number; a new version is loaded only when the number changed. Bounds how long a policy change takes to reach every instance. 0 asks on every decision.',
  },
  {
    env: 'PDVAULT_DEFAULT_SUBSCRIBED',
    schema: flag,
    devDefault: 'true',
    doc: 'Whether a subject who never said otherwise receives newsletters, promotions, surveys and partner offers (the source policy\'s opt-out model). Set `false` in jurisdictions that require opt-in to marketing (a subject who never chose is then refused as `subject_not_subscribed`). Applied when a purpose is decided, not stored: a change moves every subject who never chose, so keep it the same on every instance.',
  },
  {
    env: 'PDVAULT_DEFAULT_SHARE_WITH_PARTNERS',
    schema: flag,
    devDefault: 'false',
    doc: 'Whether a subject who never said otherwise has consented to their data being shared with a partner (`joint_promotion`). Off: sharing is opt-in. Turn on only where the law and the privacy notice allow opt-out sharing.',
  },
  {
    env: 'PDVAULT_AUDIT_COMMIT_INTERVAL_MS',
    schema: wholeNumber(0, 1000),
    devDefault: '2',
    doc: 'Group commit: how long the audit writer collects events from concurrent requests before it appends them in one transaction. Each request waits for its commit, so this adds at most this much latency and saves one transaction per request.',
  },
  {
    env: 'PDVAULT_AUDIT_MAX_BATCH',
    schema: positiveInt(100_000),
    devDefault: '2000',
    doc: 'Most audit events appended in one transaction; a larger backlog is committed in several, back to back. Each commit must finish within the statement timeout, and every request in a failed one gets 503: keep groups small enough that a slow moment of the database (a checkpoint writing full pages of the audit indexes) cannot push one past it. A request\'s events (a 1,000-id batch) always go in one commit.',
  },
  {
    env: 'PDVAULT_AUDIT_QUEUE_LIMIT',
    schema: positiveInt(1_000_000),
    devDefault: '200000',
    doc: 'Most audit events waiting for their commit; beyond it requests fail at once with 503 `audit_unavailable` instead of queueing without bound while the database is slow.',
  },
  {
    env: 'PDVAULT_AUDIT_CHECKPOINT_INTERVAL_SECONDS',
    schema: positiveInt(86_400),
    devDefault: '60',
    doc: 'How often the head of the audit chain is signed (a checkpoint). Deleting the newest audit rows is detected back to the latest checkpoint, so this bounds what a database-level attacker can remove unnoticed.',
  },
  {
    env: 'PDVAULT_APPROVAL_MAX_LIFETIME_HOURS',
    schema: positiveInt(720),
    devDefault: '72',
    doc: 'Longest time a break-glass approval (`legal_disclosure`) may stay usable; an approval asking for a later expiry is refused.',
  },
  {
    env: 'PDVAULT_LOG_LEVEL',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    devDefault: 'info',
    doc: 'Least severe log level written (JSON lines on standard output).',
  },
] as const satisfies readonly Setting[];

export type SettingName = (typeof SETTINGS)[number]['env'];
