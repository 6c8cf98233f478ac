// What the fair-use area offers plugins and other areas.
export { isCommandRoute } from './metered-routes.js';
export { commandCounter, judgeBulk, noticedCount, utcDay } from './bulk.js';
export { recordIncident, type IncidentType, type RecordedIncident } from './incidents.js';
export { dropCatchThrottle, type DropCatchThrottle } from './drop-catch.js';
export { memoryBuckets, redisBuckets, type BucketBackend } from './buckets.js';
export { FairUsePolicy, type BucketScope } from './policy.js';
