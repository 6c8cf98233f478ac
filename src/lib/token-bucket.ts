// Token buckets (R-API-1): each bucket holds up to `capacity` tokens and refills continuously at
// `refillPerSecond`. A call costs tokens; several buckets (credential, account) are charged
// together or not at all. Pure: state in, state out, time injected.
export interface BucketPolicy {
  capacity: number;
  refillPerSecond: number;
}

export interface BucketState {
  tokens: number;
  /** Epoch milliseconds of `tokens`. */
  at: number;
}

export interface TakeResult {
  allowed: boolean;
  states: BucketState[];
  /** Whole tokens left in the tightest bucket after this call (0 when refused). */
  remaining: number;
  /** Refused: ms until every bucket holds `cost`. Allowed: 0. */
  retryAfterMs: number;
  /** ms until every bucket is full again. */
  resetMs: number;
}

export function refill(state: BucketState | undefined, policy: BucketPolicy, now: number): BucketState {
  if (!state) return { tokens: policy.capacity, at: now };
  const elapsed = Math.max(0, now - state.at) / 1000;
  return { tokens: Math.min(policy.capacity, state.tokens + elapsed * policy.refillPerSecond), at: now };
}

function msUntil(tokens: number, needed: number, policy: BucketPolicy): number {
  if (tokens >= needed) return 0;
  if (policy.refillPerSecond <= 0) return Number.MAX_SAFE_INTEGER;
  const ms = Math.ceil(((needed - tokens) / policy.refillPerSecond) * 1000);
  // Floating point may leave refill(ms) a hair short of `needed` (0.9999999999999999 of 1 token):
  // one millisecond more, so that a caller who waits exactly Retry-After is let through.
  return tokens + (ms / 1000) * policy.refillPerSecond >= needed ? ms : ms + 1;
}

/** Takes `cost` from every bucket if all of them hold it; otherwise takes nothing. */
export function takeFromAll(
  states: (BucketState | undefined)[],
  policies: BucketPolicy[],
  cost: number,
  now: number,
): TakeResult {
  const current = policies.map((p, i) => refill(states[i], p, now));
  const allowed = current.every((s, i) => s.tokens >= cost && cost <= policies[i]!.capacity);
  const after = allowed ? current.map((s) => ({ tokens: s.tokens - cost, at: s.at })) : current;
  return {
    allowed,
    states: after,
    remaining: allowed ? Math.floor(Math.min(...after.map((s) => s.tokens))) : 0,
    retryAfterMs: allowed ? 0 : Math.max(...current.map((s, i) => msUntil(s.tokens, cost, policies[i]!))),
    resetMs: Math.max(...after.map((s, i) => msUntil(s.tokens, policies[i]!.capacity, policies[i]!))),
  };
}
