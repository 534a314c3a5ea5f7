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
});
