import { describe, expect, it } from 'vitest';
import { debianSources } from './debian-sources.js';

describe('debianSources', () => {
  it('takes the suite, its updates and its security updates from deb.debian.org by default', () => {
    expect(debianSources({ suite: 'trixie' })).toEqual({
      sources: [
        'deb http://deb.debian.org/debian trixie main',
        'deb http://deb.debian.org/debian trixie-updates main',
        'deb http://deb.debian.org/debian-security trixie-security main',
      ],
      aptOptions: [],
    });
  });

  it('takes security updates from the same moment of a snapshot mirror, accepting its expired Release files', () => {
    const sources = debianSources({ suite: 'trixie', mirror: 'http://snapshot.debian.org/archive/debian/20250901T000000Z/' });
    expect(sources.sources).toEqual([
      'deb http://snapshot.debian.org/archive/debian/20250901T000000Z trixie main',
      'deb http://snapshot.debian.org/archive/debian/20250901T000000Z trixie-updates main',
      'deb http://snapshot.debian.org/archive/debian-security/20250901T000000Z trixie-security main',
    ]);
    expect(sources.aptOptions).toEqual(['Acquire::Check-Valid-Until "false"']);
  });

  it('keeps a named security mirror and treats other mirrors as live archives', () => {
    const sources = debianSources({
      suite: 'trixie',
      mirror: 'http://mirror.example.test/debian',
      securityMirror: 'http://security.example.test/debian-security',
    });
    expect(sources.sources[0]).toBe('deb http://mirror.example.test/debian trixie main');
    expect(sources.sources[2]).toBe('deb http://security.example.test/debian-security trixie-security main');
    expect(sources.aptOptions).toEqual([]);
  });
});
