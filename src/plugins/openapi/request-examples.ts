// Hand-written request body examples for the operations an integration starts with; every other
// body gets one built from its schema (polish-document.ts). test/plugins/openapi.test.ts checks
// that every example matches its schema.
const CONTACT = 'RA-7K2M9X4Q1Z';
const NAMESERVERS = ['ns1.example-hosting.test', 'ns2.example-hosting.test'];

export const REQUEST_EXAMPLES: Record<string, unknown> = {
  login: { username: 'alice', password: 'correct horse battery staple', totp_code: '492039' },
  updateAccount: { company_name: 'Example Hosting GmbH', contact_email: 'billing@example-hosting.test' },
  setAccountIpAllowlist: { entries: ['203.0.113.0/24', '2001:db8::/32'] },
  createUser: {
    username: 'bob',
    email: 'bob@example-hosting.test',
    name: 'Bob Example',
    role: 'technical',
    password: 'a long passphrase nobody guesses',
  },
  updateUser: { role: 'support' },
  setUserPassword: { current_password: 'correct horse battery staple', new_password: 'a new and longer passphrase' },
  createApiKey: {
    name: 'billing sync',
    scopes: ['domains:read', 'domains:write'],
    ip_allowlist: ['203.0.113.0/24'],
    expires_at: '2027-01-01T00:00:00.000Z',
  },
  adminCreditAccount: {
    amount: { amount: 50000, currency: 'EUR' },
    reason: 'Bank transfer received',
    reference: 'SEPA-2026-03-01-0042',
  },
  adminSuspendAccount: { reason: 'Unpaid invoices since January' },
  createBulkNotice: { date: '2026-03-02', expected_count: 5000, description: 'Moving a customer portfolio in' },
  createContact: {
    name: 'Jane Customer',
    organisation: 'Customer Ltd',
    email: 'jane@customer.test',
    phone: '+44.2071234567',
    country: 'GB',
    street: ['1 High Street'],
    city: 'London',
    postal_code: 'EC1A 1BB',
  },
  updateContact: { email: 'jane.customer@customer.test' },
  checkDomains: { names: ['example.com', 'café.de', 'example.shop'] },
  registerDomain: {
    name: 'example.com',
    period_years: 1,
    contacts: { owner: CONTACT, admin: CONTACT, tech: CONTACT },
    nameservers: NAMESERVERS,
    quote_id: 'rq_eyJhIjoiOGExZDJjM2IifQ.c2lnbmF0dXJl',
    max_price: { amount: 1299, currency: 'EUR' },
  },
  updateDomain: { autorenew: false, nameservers: NAMESERVERS },
  renewDomain: {
    period_years: 1,
    current_expires_at: '2027-03-01T08:05:00.000Z',
    max_price: { amount: 1299, currency: 'EUR' },
  },
  restoreDomain: { max_price: { amount: 4900, currency: 'EUR' } },
  deleteDomain: { confirm: true },
  requestDomainTransfer: {
    name: 'example.org',
    auth_code: 'Xy7#pQ2!vL9m',
    contacts: { owner: CONTACT, admin: CONTACT, tech: CONTACT },
    nameservers: NAMESERVERS,
    max_price: { amount: 1099, currency: 'EUR' },
  },
  respondToAbuseComplaint: { action: 'removed', message: 'The customer took the phishing page down.' },
  adminCloseAbuseComplaint: { note: 'Page removed by the reseller; checked it is gone.' },
  adminSetFairUseLadder: {
    steps: [
      { threshold: 3, action: 'warning' },
      { threshold: 5, min_days: 2, action: 'suspend_api', suspension_hours: 24 },
      { threshold: 8, action: 'fee', fee: { EUR: 5000, USD: 5500 } },
      { threshold: 12, min_days: 5, action: 'termination_review' },
    ],
  },
};
