// What the fair-use area offers plugins and other areas.
export { isCommandRoute } from './metered-routes.js';
