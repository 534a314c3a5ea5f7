export function PlaygroundPage() {
  return <h1 className="mb-4 text-2xl font-semibold">Playground</h1>;
}
