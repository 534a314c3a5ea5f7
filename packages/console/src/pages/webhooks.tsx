export function WebhooksPage() {
  return <h1 className="mb-4 text-2xl font-semibold">Webhooks</h1>;
}
