// JSON only: Fastify parses text/plain bodies by default, so a JSON text sent as text/plain reached
// validation as a string (422) and the audit trail unredacted. Without that parser every body that
// is not application/json answers 415 unsupported_media_type before anything reads it.
import fp from 'fastify-plugin';

export default fp(
  async function jsonBodiesOnly(app) {
    app.removeContentTypeParser('text/plain');
  },
  { name: 'json-bodies-only', fastify: '5.x' },
);
