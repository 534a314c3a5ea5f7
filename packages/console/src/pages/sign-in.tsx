import { useQuery } from '@tanstack/react-query';
import { get } from '../api.js';
import { ErrorMessage } from '../components.js';

/** Shown when no one is signed in: the identity provider's button, or how to use the owner's one-time link. */
export function SignInPage() {
  const methods = useQuery({ queryKey: ['sign-in-methods'], queryFn: () => get<{ oidc: boolean; link: boolean }>('/auth/methods') });
  const returnTo = encodeURIComponent(window.location.pathname.startsWith('/console') ? window.location.pathname : '/console/');
  return (
    <main className="mx-auto mt-24 max-w-md rounded border border-slate-200 bg-white p-8 shadow-sm">
      <h1 className="mb-4 text-2xl font-semibold">Sign in to Airlock</h1>
      <ErrorMessage error={methods.error} />
      {methods.data?.oidc && (
        <a className="block rounded bg-slate-900 px-4 py-2 text-center text-white hover:bg-slate-700" href={`/auth/oidc/login?return_to=${returnTo}`}>
          Sign in with your identity provider
        </a>
      )}
      {methods.data?.link && (
        <p className="text-slate-700">
          Open the one-time sign-in link <code>airlock serve</code> printed when it started. Restart the server for a new one.
        </p>
      )}
    </main>
  );
}
