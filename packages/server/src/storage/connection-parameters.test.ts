import { describe, expect, it } from 'vitest';
import { changedDraft, checkSignIn, credentialHints, draftOf, parametersOf } from './connection-parameters.js';

const settings = { name: 'Archive', mount_name: 'archive' };

describe('credentialHints', () => {
  it('shows the last 4 characters of a secret of 12 or more, nothing of a shorter one, and a service account by its email', () => {
    expect(
      credentialHints({
        access_key_id: 'AKIAIOSFODNN7EXAMPLE',
        secret_access_key: 'short-secret',
        key: 'tiny',
        hmac: { access_key_id: 'GOOG1EXAMPLE0001', secret: 'abc' },
        service_account_json: JSON.stringify({ type: 'service_account', client_email: 'a@b.iam.gserviceaccount.com', private_key: 'k' }),
      }),
    ).toEqual({
      access_key_id: '****MPLE',
      secret_access_key: '****cret',
      key: '****',
      'hmac.access_key_id': '****0001',
      'hmac.secret': '****',
      service_account_json: 'a@b.iam.gserviceaccount.com',
    });
  });
});

describe('changedDraft', () => {
  const azure = draftOf({ ...settings, provider: 'azure', container: 'archive', account: 'acme', key: 'k'.repeat(20), endpoint: 'http://127.0.0.1:10000/acme' });

  it('a change to another way of signing in drops the former way, its account and endpoint with it', () => {
    const switched = changedDraft(azure, { connection_string: 'AccountName=acme;AccountKey=x' });
    checkSignIn(switched);
    expect(parametersOf(switched)).toEqual({ provider: 'azure', container: 'archive', connection_string: 'AccountName=acme;AccountKey=x' });
  });

  it('a change within the way keeps the rest: a new key keeps the account and endpoint', () => {
    const rotated = changedDraft(azure, { key: 'n'.repeat(20) });
    expect(parametersOf(rotated)).toEqual({ provider: 'azure', container: 'archive', account: 'acme', key: 'n'.repeat(20), endpoint: 'http://127.0.0.1:10000/acme' });
  });

  it('clearing a field with null signs in no other way', () => {
    const cleared = changedDraft(azure, { endpoint: null });
    expect(parametersOf(cleared)).toEqual({ provider: 'azure', container: 'archive', account: 'acme', key: 'k'.repeat(20) });
  });
});
