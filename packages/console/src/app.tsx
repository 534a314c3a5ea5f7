import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useState } from 'react';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router';
import { Layout } from './layout.js';
import { ApiKeysPage } from './pages/api-keys.js';
import { AuditPage } from './pages/audit.js';
import { ConnectorsPage } from './pages/connectors.js';
import { ExecutionsPage } from './pages/executions.js';
import { ImagesPage } from './pages/images.js';
import { MembersPage } from './pages/members.js';
import { SettingsPage } from './pages/settings.js';
import { StoragePage } from './pages/storage.js';
import { OverviewPage } from './pages/overview.js';
import { SandboxesPage } from './pages/sandboxes.js';
import { SignInPage } from './pages/sign-in.js';
import { FilesPage } from './pages/files.js';
import { PlaygroundPage } from './pages/playground.js';
import { WebhooksPage } from './pages/webhooks.js';
import { WebPage } from './pages/web.js';
import { SessionProvider } from './session.js';

const queryClient = new QueryClient({ defaultOptions: { queries: { staleTime: 5_000, refetchOnWindowFocus: false } } });

export function App() {
  const [organization, setOrganization] = useState(() => localStorage.getItem('airlock.organization') ?? '');
  const choose = (slug: string) => {
    localStorage.setItem('airlock.organization', slug);
    setOrganization(slug);
    void queryClient.invalidateQueries();
  };
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter basename="/console">
        <SessionProvider organization={organization} signedOut={<SignInPage />}>
          <Routes>
            <Route element={<Layout onOrganization={choose} />}>
              <Route index element={<OverviewPage />} />
              <Route path="sandboxes" element={<SandboxesPage />} />
              <Route path="api-keys" element={<ApiKeysPage />} />
              <Route path="playground" element={<PlaygroundPage />} />
              <Route path="executions" element={<ExecutionsPage />} />
              <Route path="webhooks" element={<WebhooksPage />} />
              <Route path="web" element={<WebPage />} />
              <Route path="files" element={<FilesPage />} />
              <Route path="connectors" element={<ConnectorsPage />} />
              <Route path="images" element={<ImagesPage />} />
              <Route path="storage" element={<StoragePage />} />
              <Route path="members" element={<MembersPage />} />
              <Route path="settings" element={<SettingsPage />} />
              <Route path="audit" element={<AuditPage />} />
              <Route path="*" element={<Navigate to="/" replace />} />
            </Route>
          </Routes>
        </SessionProvider>
      </BrowserRouter>
    </QueryClientProvider>
  );
}
