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
});
