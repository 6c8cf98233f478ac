// Micro-benchmark of the credential cache on the auth path (plugins/auth.ts): lru-cache against the
// hand-made TTL cache it replaced (kept below, verbatim but for its name, only for this comparison).
//   npx tsx bench/auth-cache.ts
// Three loads on a cache of 10,000 entries (the plugin's size) with a TTL (one minute here, so that no entry expires during a measurement):
//   hit:    every request's credential is cached (the usual case: get only);
//   churn:  20,000 credentials in turn through 10,000 places (get, miss, set, evict);
//   revoke: dropping one user's entries by a scan of the whole cache (rare: a password change).
import { LRUCache } from 'lru-cache';

class HandMadeTtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}
  get(key: string): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.value;
  }
  set(key: string, value: V): void {
    if (this.ttlMs <= 0) return;
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
  }
  deleteWhere(predicate: (value: V) => boolean): void {
    for (const [key, { value }] of this.entries) if (predicate(value)) this.entries.delete(key);
  }
}

interface Cache<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  deleteWhere(predicate: (value: V) => boolean): void;
}

const handMade = <V>(): Cache<V> => new HandMadeTtlCache<V>(60_000, 10_000);
const lru = <V extends object>(): Cache<V> => {
  const cache = new LRUCache<string, V>({ max: 10_000, ttl: 60_000 });
  return {
    get: (key) => cache.get(key),
    set: (key, value) => void cache.set(key, value),
    deleteWhere(predicate) {
      const doomed: string[] = [];
      for (const [key, value] of cache.entries()) if (predicate(value)) doomed.push(key);
      for (const key of doomed) cache.delete(key);
    },
  };
};

type Rec = { userId: string; credentialId: string };
// Keys as the plugin's: 64 hex characters (a SHA-256 of the presented secret).
const key = (i: number) => i.toString(16).padStart(64, '0');
const record = (i: number): Rec => ({ userId: `u${i % 500}`, credentialId: `c${i}` });
const keys = Array.from({ length: 20_000 }, (_, i) => key(i));

function time(ops: number, run: () => void): number {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start) / ops; // ns per operation
}

const loads: Record<string, (make: () => Cache<Rec>) => number> = {
  hit(make) {
    const cache = make();
    for (let i = 0; i < 10_000; i++) cache.set(keys[i]!, record(i));
    const ops = 500_000;
    let found = 0;
    const ns = time(ops, () => {
      for (let i = 0; i < ops; i++) if (cache.get(keys[(i * 7919) % 10_000]!)) found++;
    });
    if (found !== ops) throw new Error('a hit was missed');
    return ns;
  },
  churn(make) {
    const cache = make();
    const ops = 1_000_000;
    return time(ops, () => {
      for (let i = 0; i < ops; i++) {
        const k = keys[i % 20_000]!;
        if (!cache.get(k)) cache.set(k, record(i));
      }
    });
  },
  revoke(make) {
    const cache = make();
    for (let i = 0; i < 10_000; i++) cache.set(keys[i]!, record(i));
    const ops = 200;
    return time(ops, () => {
      for (let i = 0; i < ops; i++) cache.deleteWhere((r) => r.userId === `u${i}`);
    });
  },
};

const ROUNDS = 7;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log('| load | hand-made TTL cache (ns/op) | lru-cache (ns/op) |');
console.log('|---|---:|---:|');
for (const [name, load] of Object.entries(loads)) {
  const a: number[] = [];
  const b: number[] = [];
  // Alternated, so that a slower moment of the machine weighs on both alike.
  for (let r = 0; r < ROUNDS; r++) {
    a.push(load(handMade));
    b.push(load(lru));
  }
  console.log(`| ${name} | ${median(a).toFixed(0)} | ${median(b).toFixed(0)} |`);
}
