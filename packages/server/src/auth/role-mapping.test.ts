import { describe, expect, it } from 'vitest';
import { mapRoles, parseRoleRules } from './role-mapping.js';

describe('role rules', () => {
  it('parse value=role (the default organization), value=slug:role and value=*:role', () => {
    expect(parseRoleRules(' airlock-owners=*:owner, acme-admins=acme:admin,staff=viewer ,', 'default')).toEqual([
      { match: 'airlock-owners', organization: '*', role: 'owner' },
      { match: 'acme-admins', organization: 'acme', role: 'admin' },
      { match: 'staff', organization: 'default', role: 'viewer' },
    ]);
    expect(() => parseRoleRules('staff=superuser', 'default')).toThrow('"staff=superuser" is not a rule: write value=role, value=organization:role or value=*:role (roles: owner, admin, viewer)');
    expect(() => parseRoleRules('staff', 'default')).toThrow(/"staff" is not a rule/);
  });

  it('map a claim (a list, a string, or a dotted path) and verified email domains; the strongest role counts', () => {
    const settings = {
      roleClaim: 'realm_access.roles',
      claimRules: parseRoleRules('ops=*:viewer,ops-leads=*:owner,acme-dev=acme:admin,acme-all=acme:viewer', 'default'),
      domainRules: parseRoleRules('example.com=viewer,acme.test=acme:viewer', 'default'),
    };
    expect(mapRoles({ realm_access: { roles: ['ops', 'acme-dev', 'acme-all', 'unrelated'] } }, settings)).toEqual({
      instanceRole: 'viewer',
      organizationRoles: new Map([['acme', 'admin']]),
    });
    expect(mapRoles({ realm_access: { roles: 'ops-leads' }, email: 'Ann@Example.com', email_verified: true }, settings)).toEqual({
      instanceRole: 'owner',
      organizationRoles: new Map([['default', 'viewer']]),
    });
    // An email the provider has not verified gives nothing.
    expect(mapRoles({ email: 'mallory@example.com', email_verified: false }, settings)).toEqual({ instanceRole: null, organizationRoles: new Map() });
    expect(mapRoles({ email: 'mallory@example.com' }, settings)).toEqual({ instanceRole: null, organizationRoles: new Map() });
    expect(mapRoles({ email: 'eve@notexample.com', email_verified: true }, settings).organizationRoles.size).toBe(0);
  });
});
