import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInAs, startOidcProvider, type OidcAccount, type OidcProviderFixture } from './support/oidc-provider.js';

/** Never requested: the sign-ins stop at the provider's redirect to it. */
const REDIRECT_URI = 'http://127.0.0.1:1/callback';
const ALICE: OidcAccount = { sub: 'alice', email: 'alice@example.test', name: 'Alice', groups: ['engineering'] };

describe('the OIDC provider fixture, with openid-client as the relying party', () => {
  let provider: OidcProviderFixture;
  let configuration: client.Configuration;

  beforeAll(async () => {
    provider = await startOidcProvider({ redirectUris: [REDIRECT_URI], accounts: [ALICE] });
    configuration = await client.discovery(new URL(provider.issuer), provider.clientId, provider.clientSecret, undefined, {
      execute: [client.allowInsecureRequests],
    });
  });
  afterAll(() => provider?.stop());

  /** Signs `sub` in through an authorization URL with PKCE (S256), state and nonce; stops at the callback. */
  async function signIn(sub: string, tamperAuthorizationUrl?: (url: URL) => void) {
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorizationUrl = client.buildAuthorizationUrl(configuration, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const { callbackUrl } = await signInAs({ startUrl: authorizationUrl.href, sub, followCallback: false, tamperAuthorizationUrl });
    if (callbackUrl === null) throw new Error('the provider did not redirect to the callback');
    const checks = { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true };
    return { callbackUrl: new URL(callbackUrl), checks };
  }

  it('completes a code flow: the ID token carries sub, email, groups and the nonce; userinfo the same claims', async () => {
    const { callbackUrl, checks } = await signIn('alice');
    expect(callbackUrl.origin + callbackUrl.pathname).toBe(REDIRECT_URI);
    const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, checks);
    expect(tokens.claims()).toMatchObject({
      iss: provider.issuer,
      aud: provider.clientId,
      sub: 'alice',
      email: 'alice@example.test',
      email_verified: true,
      name: 'Alice',
      groups: ['engineering'],
      nonce: checks.expectedNonce,
    });
    const userInfo = await client.fetchUserInfo(configuration, tokens.access_token, 'alice');
    expect(userInfo).toMatchObject({ sub: 'alice', email: 'alice@example.test', groups: ['engineering'] });
    expect(provider.authorizationRequests.at(-1)).toMatchObject({
      code_challenge_method: 'S256',
      state: checks.expectedState,
      nonce: checks.expectedNonce,
      redirect_uri: REDIRECT_URI,
    });
    expect(provider.tokenRequests.at(-1)).toEqual({ grantType: 'authorization_code', hadCodeVerifier: true });
  });

  it('refuses a wrong code_verifier', async () => {
    const { callbackUrl, checks } = await signIn('alice');
    const wrongVerifier = { ...checks, pkceCodeVerifier: client.randomPKCECodeVerifier() };
    await expect(client.authorizationCodeGrant(configuration, callbackUrl, wrongVerifier)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(provider.tokenRequests.at(-1)).toEqual({ grantType: 'authorization_code', hadCodeVerifier: true });
  });

  it('lets the relying party refuse a callback whose state is not the one it sent', async () => {
    const { callbackUrl, checks } = await signIn('alice');
    const otherState = { ...checks, expectedState: client.randomState() };
    const tokenRequests = provider.tokenRequests.length;
    await expect(client.authorizationCodeGrant(configuration, callbackUrl, otherState)).rejects.toMatchObject({
      cause: { message: 'unexpected "state" response parameter value' },
    });
    expect(provider.tokenRequests).toHaveLength(tokenRequests);
  });

  it('requires PKCE: an authorization request without a code_challenge comes back with an error', async () => {
    const { callbackUrl } = await signIn('alice', (url) => url.searchParams.delete('code_challenge'));
    expect(callbackUrl.searchParams.get('error')).toBe('invalid_request');
    expect(callbackUrl.searchParams.has('code')).toBe(false);
    expect(provider.authorizationRequests.at(-1)).not.toHaveProperty('code_challenge');
  });

  it('gives the next sign-in the groups setAccount set', async () => {
    provider.setAccount({ ...ALICE, groups: ['engineering', 'airlock-admins'] });
    const { callbackUrl, checks } = await signIn('alice');
    const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, checks);
    expect(tokens.claims()?.groups).toEqual(['engineering', 'airlock-admins']);
  });

  it('closes its port and its keep-alive connections on stop()', async () => {
    const other = await startOidcProvider({ redirectUris: [REDIRECT_URI], accounts: [ALICE] });
    const discovery = await fetch(`${other.issuer}/.well-known/openid-configuration`);
    expect(((await discovery.json()) as { end_session_endpoint: string }).end_session_endpoint).toBe(`${other.issuer}/session/end`);
    await other.stop();
    await other.stop();
    await expect(fetch(`${other.issuer}/.well-known/openid-configuration`)).rejects.toThrow();
  });
});
