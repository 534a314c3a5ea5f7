import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePythonRequirements } from './python-requirements.js';

const HASH = 'a'.repeat(64);

describe('parsePythonRequirements', () => {
  it('reads pins continued over lines, skipping comments', () => {
    const text = `# generated\nnumpy==2.5.5 \\\n    --hash=sha256:${HASH}\n\nscikit-learn==1.9.1 --hash=sha256:${'b'.repeat(64)} # the model kit\n`;
    expect(parsePythonRequirements(text)).toEqual([
      { name: 'numpy', version: '2.5.5', sha256: HASH },
      { name: 'scikit-learn', version: '1.9.1', sha256: 'b'.repeat(64) },
    ]);
  });

  it.each([
    ['an unpinned name', 'numpy --hash=sha256:' + HASH],
    ['a range', `numpy>=2 --hash=sha256:${HASH}`],
    ['no hash', 'numpy==2.5.5'],
    ['two hashes', `numpy==2.5.5 --hash=sha256:${HASH} --hash=sha256:${HASH}`],
    ['another algorithm', `numpy==2.5.5 --hash=md5:${'a'.repeat(32)}`],
    ['an option line', '--index-url https://example.test/simple'],
    ['a direct reference', `numpy @ https://example.test/numpy.whl --hash=sha256:${HASH}`],
    ['an environment marker', `numpy==2.5.5; python_version < "3.14" --hash=sha256:${HASH}`],
  ])('refuses %s', (_, line) => {
    expect(() => parsePythonRequirements(line)).toThrow(/not a pinned requirement/);
  });

  it('reads the default image lock file, one pin per distribution', () => {
    const text = readFileSync(new URL('../../images/default/python-requirements.txt', import.meta.url), 'utf8');
    const pins = parsePythonRequirements(text);
    const names = pins.map((pin) => pin.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['numpy', 'pandas', 'matplotlib', 'scipy', 'scikit-learn', 'pyarrow']));
  });
});
