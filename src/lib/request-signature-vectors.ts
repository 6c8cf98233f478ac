// Test vectors for signed requests (R-SEC-5), fixed: published in the OpenAPI document
// (x-signature-test-vectors on the hmacSignature scheme) and checked against the verifier and the
// server by test/lib/request-signature-vectors.test.ts. The timestamps are in the past on purpose:
// a client checks its canonical string and signature against them, not the server's clock.
export const SIGNATURE_TEST_VECTORS = {
  key: {
    key_id: 'Vk3TqZ8mR2xP',
    secret: 'd3Rq0Jx7n2VbYh5Kc8LmPz1QwErTyUiOaSdFgHjKlZx',
  },
  vectors: [
    {
      name: 'GET without query or body',
      method: 'GET',
      path: '/v1/account',
      query: '',
      body: '',
      timestamp: '1767225600',
      nonce: 'n0nce-AAAAAAAAAAA1',
      canonical_string:
        'HMAC-SHA256\nGET\n/v1/account\n\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n1767225600\nn0nce-AAAAAAAAAAA1',
      signature: 'a5efaf5945a08ca403ae1770ac771127a9bd93d82477f4b488c6116c76d21384',
      authorization:
        'HMAC-SHA256 Credential=Vk3TqZ8mR2xP, Timestamp=1767225600, Nonce=n0nce-AAAAAAAAAAA1, Signature=a5efaf5945a08ca403ae1770ac771127a9bd93d82477f4b488c6116c76d21384',
    },
    {
      name: 'GET with a query to encode and sort (lower-case hex, "+" for space, an unreserved "~" sent encoded)',
      method: 'GET',
      path: '/v1/audit-events',
      query: 'until=2026-03-01T08%3a05%3a00Z&operation=caf%c3%a9+b%7Ear&limit=10&result=success',
      body: '',
      timestamp: '1767225601',
      nonce: 'Zm9vYmFyYmF6cXV4',
      canonical_string:
        'HMAC-SHA256\nGET\n/v1/audit-events\nlimit=10&operation=caf%C3%A9%20b~ar&result=success&until=2026-03-01T08%3A05%3A00Z\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n1767225601\nZm9vYmFyYmF6cXV4',
      signature: '1a3f3647fec5628e7285397a1a0739a2916b81f1e9af00ef3cf0249753655325',
      authorization:
        'HMAC-SHA256 Credential=Vk3TqZ8mR2xP, Timestamp=1767225601, Nonce=Zm9vYmFyYmF6cXV4, Signature=1a3f3647fec5628e7285397a1a0739a2916b81f1e9af00ef3cf0249753655325',
    },
    {
      name: 'PATCH with a JSON body',
      method: 'PATCH',
      path: '/v1/account',
      query: '',
      body: '{"company_name":"Example Hosting GmbH"}',
      timestamp: '1767225602',
      nonce: 'q8Xv_3-LmN2pR7sT9wYz',
      canonical_string:
        'HMAC-SHA256\nPATCH\n/v1/account\n\ne2eb9b87d0f32a513e0d38283e1c4d801ee56111e57ace442a92c582dd7beb42\n1767225602\nq8Xv_3-LmN2pR7sT9wYz',
      signature: '57f7035199789b9d55720744404723b8b30b042b1ccca61dbafc0978d749f61d',
      authorization:
        'HMAC-SHA256 Credential=Vk3TqZ8mR2xP, Timestamp=1767225602, Nonce=q8Xv_3-LmN2pR7sT9wYz, Signature=57f7035199789b9d55720744404723b8b30b042b1ccca61dbafc0978d749f61d',
    },
  ],
};
