import { sandboxDescription } from '@airlock/contracts';
import { describe, expect, it } from 'vitest';
import { executeToolDescription } from './tool-descriptions.js';

describe("sandbox_execute's description", () => {
  it("states the caller's network, an allowlist with its entries", () => {
    const allow = ['api.example.com', '*.pypi.org'];
    const description = executeToolDescription({ mode: 'allowlist', allow });
    expect(description).toContain(sandboxDescription('allowlist', allow));
    expect(description).toContain('It reaches only these names and networks: api.example.com, *.pypi.org.');
    expect(executeToolDescription({ mode: 'blocked', allow: [] })).toContain(sandboxDescription('blocked'));
  });

  it('names the languages of an image other than the default, and nothing of the default image', () => {
    const description = executeToolDescription(
      { mode: 'blocked', allow: [] },
      { name: 'team-python', languages: [{ language: 'python', version: 'Python 3.12.8' }, { language: 'bash', version: 'GNU bash, version 5.2.37' }] },
    );
    expect(description).toContain(
      'The sandbox runs the image "team-python", which has python (Python 3.12.8), bash (GNU bash, version 5.2.37); use only those languages.',
    );
    expect(description).not.toContain('Debian 13');
    expect(description).toContain('It has no network access');
  });

  it("names the caller's connectors and how code uses each, and nothing of them without any", () => {
    const description = executeToolDescription({ mode: 'blocked', allow: [] }, undefined, [
      { name: 'warehouse', type: 'postgresql' },
      { name: 'code', type: 'github' },
    ]);
    expect(description).toContain('Credentials are set up for these services, and the network reaches their servers even where it is otherwise blocked:');
    expect(description).toContain('"warehouse" (PostgreSQL: psql and psycopg.connect("") connect as they are; psql "service=warehouse")');
    expect(description).toContain('"code" (GitHub: git clone https://github.com/... and gh work as they are)');
    expect(description).toContain('printed ones come back as [REDACTED]');
    expect(executeToolDescription({ mode: 'blocked', allow: [] })).not.toContain('Credentials');
  });
});
