// Seals and opens secrets at rest with the master key. Embedded mode without MASTER_KEY keeps a
// generated key in DATA_DIR/master.key (mode 0600), so `npm start` needs no setup. Signs tokens
// with keys derived from it, one per purpose.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fp from 'fastify-plugin';
import { openSecret, sealSecret, signToken, subkey, verifyToken, type SecretBox } from '../lib/secret-box.js';

export interface TokenSigner {
  // Function properties, not methods: callers pass them around detached.
  sign: (payload: string) => string;
  /** The payload, or null when the token was not signed by this signer. */
  verify: (token: string) => string | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    secretBox: SecretBox & { signer(purpose: string): TokenSigner };
  }
}

async function embeddedMasterKey(dataDir: string): Promise<Buffer> {
  const file = join(dataDir, 'master.key');
  try {
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold 32 base64 bytes`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dataDir, { recursive: true });
    const key = randomBytes(32);
    await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  }
}

export default fp<{ masterKey: Buffer | undefined; dataDir: string }>(
  async function secretsPlugin(app, opts) {
    let key = opts.masterKey;
    if (!key) {
      key = await embeddedMasterKey(opts.dataDir);
      app.log.warn('MASTER_KEY is not set: using the key kept in DATA_DIR/master.key (embedded mode only)');
    }
    const masterKey = key;
    app.decorate('secretBox', {
      seal: (plaintext: string) => sealSecret(masterKey, plaintext),
      open: (sealed: string) => openSecret(masterKey, sealed),
      signer(purpose: string): TokenSigner {
        const k = subkey(masterKey, purpose);
        return { sign: (payload) => signToken(k, payload), verify: (token) => verifyToken(k, token) };
      },
    });
  },
  { name: 'secrets', fastify: '5.x' },
);
