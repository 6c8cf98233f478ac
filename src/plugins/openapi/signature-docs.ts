// The signed-request contract in full, with test vectors, on the hmacSignature security scheme: what a
// client needs to implement signing from the document alone (R-SEC-5; lib/request-signature.ts).
import { SIGNATURE_TEST_VECTORS } from '../../lib/request-signature-vectors.js';

export const SIGNING_DETAILS = `
**Details** (each is what lib/request-signature.ts does; the test vectors below check an implementation):
- **Secret**: the \`secret\` returned when the key was created or rotated (the part of \`rak_<key_id>_<secret>\` after the key id), used **as its text**: the HMAC key is the UTF-8 bytes of that string. Do not base64-decode it.
- **Credential**: the \`key_id\` (12 characters), public.
- **Timestamp**: Unix time in **seconds** (not milliseconds), 1-12 decimal digits; refused (401 \`signature_expired\`) when more than the allowed skew (default 300 s) from the server clock either way.
- **Nonce**: 16 to 128 characters of \`A-Za-z0-9_-\` (the base64url alphabet, no padding); 16 random bytes in base64url (22 characters) will do. Accepted once per key (401 \`nonce_reused\` after).
- **Path**: exactly as on the request line, without the query: not decoded, not normalised.
- **Query**: the server takes the raw query string as sent, splits it on \`&\`, decodes each name and value as \`application/x-www-form-urlencoded\` (\`+\` is a space, \`%XX\` a UTF-8 byte), re-encodes each per RFC 3986 section 2.1 with **upper case** hex digits, leaving only the unreserved \`A-Z a-z 0-9 - . _ ~\` as they are (a space is \`%20\`, never \`+\`), **sorts the pairs on the encoded form** (by name, then value, comparing bytes), and joins \`name=value\` with \`&\` (a parameter without \`=\` becomes \`name=\`). So the server **normalises**: you may send lower case hex or \`+\`, but you sign the normalised form.
- **Body hash**: lowercase hex SHA-256 of the exact bytes sent (\`e3b0c442...b855\`, the hash of nothing, for a request without a body).
- **Canonical string**: the seven lines joined with a single \`\\n\` (LF), no trailing newline.
- **Header**: \`Authorization: HMAC-SHA256 Credential=<key_id>, Timestamp=<seconds>, Nonce=<nonce>, Signature=<64 lowercase hex>\`; fields separated by commas, spaces around them ignored.

\`x-signature-test-vectors\` on this scheme lists inputs (key, method, path, raw query, body, timestamp, nonce) with the canonical string, the signature and the Authorization header they give. Their timestamps are in the past: check your canonical string and signature against them, not the server.`;

type Json = Record<string, unknown>;
const objectAt = (node: unknown, key: string): Json | undefined => {
  const v = node && typeof node === 'object' ? (node as Json)[key] : undefined;
  return v && typeof v === 'object' ? (v as Json) : undefined;
};

export function signatureDocumentation(doc: Json): void {
  const scheme = objectAt(objectAt(objectAt(doc, 'components'), 'securitySchemes'), 'hmacSignature');
  if (!scheme) return;
  if (!String(scheme.description).includes('**Details**'))
    scheme.description = `${String(scheme.description)}\n${SIGNING_DETAILS}`;
  scheme['x-signature-test-vectors'] = SIGNATURE_TEST_VECTORS;
}
