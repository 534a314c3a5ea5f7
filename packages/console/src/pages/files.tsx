export function FilesPage() {
  return <h1 className="mb-4 text-2xl font-semibold">Files</h1>;
}
