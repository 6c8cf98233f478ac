// The licenses area's event types (R-NTF-1): each written in the transaction of the change it
// reports, its data the license as GET /v1/licenses/plesk/{id} shows it right after the change. The
// multi-use ones (R-LIC-2) are the notices the rule asks for: detected is sent at once, with the
// report that caused it.
import { Type } from 'typebox';
import { defineEventType } from '../events/api.js';
import { License, MultiUseCharge, VendorPolicy } from './schemas.js';

const licenseEvent = (type: string, summary: string) =>
  defineEventType({ type, group: 'licenses', objectType: 'license', summary, data: License });

export const LicenseOrdered = licenseEvent(
  'license.ordered',
  'A Plesk license was ordered and charged (POST /v1/licenses/plesk)',
);
export const LicenseRenewed = licenseEvent(
  'license.renewed',
  'A license was renewed for another term, by the reseller or by autorenewal',
);
export const LicenseSuspended = licenseEvent(
  'license.suspended',
  'A license was suspended (by the reseller, or unpaid at renewal)',
);
export const LicenseResumed = licenseEvent('license.resumed', 'A suspended license was resumed');
export const LicenseTerminated = licenseEvent(
  'license.terminated',
  'A license was terminated: by the reseller, at expiry without autorenewal, or after repeated confirmed multi-use (R-LIC-2)',
);
export const LicenseRebound = licenseEvent('license.rebound', 'A license was bound to another address of its server');
export const LicenseMultiUseDetected = licenseEvent(
  'license.multi_use_detected',
  'R-LIC-2: a license was reported on an address besides its bound one: potential multi-use; resolve it before multi_use.notice_until',
);
export const LicenseMultiUseResolved = licenseEvent(
  'license.multi_use_resolved',
  'R-LIC-2: a potential multi-use was resolved (the other server stopped, or the license was rebound), or its extra addresses were not seen any more at the confirmation time',
);
export const LicenseMultiUseConfirmed = licenseEvent(
  'license.multi_use_confirmed',
  'R-LIC-2: extra addresses were still seen after the confirmation period: each is charged one license fee per billing period',
);
export const LicenseMultiUseCleared = licenseEvent(
  'license.multi_use_cleared',
  'An operator cleared a multi-use detection as false (with a note)',
);
export const LicenseMultiUseCharged = defineEventType({
  type: 'license.multi_use_charged',
  group: 'licenses',
  objectType: 'license',
  summary:
    'R-LIC-2: an extra address of a confirmed multi-use was charged one license fee for a billing period (once per address and period)',
  data: Type.Object({ license: License, charge: MultiUseCharge }, { additionalProperties: false }),
});
export const LicenseMultiUseChargeWaived = defineEventType({
  type: 'license.multi_use_charge_waived',
  group: 'licenses',
  objectType: 'license',
  summary: 'An operator waived a multi-use charge: refunded to the balance',
  data: Type.Object({ license: License, charge: MultiUseCharge }, { additionalProperties: false }),
});
export const VendorPolicyPublished = defineEventType({
  type: 'vendor_policy.published',
  group: 'licenses',
  objectType: 'vendor_policy',
  summary:
    'R-LIC-5: a vendor published a new version of a policy (its EULA, terms of use or fair-use policy); new orders must accept the current EULA',
  data: VendorPolicy,
});
