import { PageTitle, Table } from '../components.js';
import { useSession } from '../session.js';

/** Who is signed in, where, with which roles, and since when. */
export function OverviewPage() {
  const { me, organization } = useSession();
  return (
    <>
      <PageTitle description={`Signed in as ${me.actor}${me.instance_role ? `, ${me.instance_role} over every organization` : ''}.`}>Overview</PageTitle>
      <h2 className="mb-2 text-lg font-medium">Organizations</h2>
      <Table
        caption="Your organizations"
        headers={['Organization', 'Slug', 'Your role']}
        rows={me.organizations.map((candidate) => [
          candidate.slug === organization ? <strong key="name">{candidate.name}</strong> : candidate.name,
          <code key="slug">{candidate.slug}</code>,
          candidate.role,
        ])}
        empty="You have no role in any organization yet: ask an owner."
      />
      {me.session && (
        <p className="mt-6 text-sm text-slate-600">
          This session began {new Date(me.session.created_at).toLocaleString()} ({me.session.method === 'oidc' ? 'identity provider' : 'one-time link'}) and
          ends by {new Date(me.session.expires_at).toLocaleString()}.
        </p>
      )}
    </>
  );
}
