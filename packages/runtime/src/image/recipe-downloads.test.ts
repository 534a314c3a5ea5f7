import { describe, expect, it } from 'vitest';
import { findFileByHash } from './recipe-downloads.js';

const WANTED = 'c'.repeat(64);
const OTHER = 'd'.repeat(64);
const PAGE = 'https://index.example.test/simple/numpy/';

describe('findFileByHash', () => {
  it('picks the file with the pinned sha256 from a PEP 691 JSON page, resolving relative URLs', () => {
    const page = JSON.stringify({
      files: [
        { filename: 'numpy-2.5.5.tar.gz', url: '../../packages/numpy-2.5.5.tar.gz', hashes: { sha256: OTHER } },
        { filename: 'numpy-2.5.5-cp313-cp313-manylinux_2_28_x86_64.whl', url: '../../packages/n.whl', hashes: { sha256: WANTED } },
      ],
    });
    expect(findFileByHash(PAGE, 'application/vnd.pypi.simple.v1+json', page, WANTED)).toEqual({
      filename: 'numpy-2.5.5-cp313-cp313-manylinux_2_28_x86_64.whl',
      url: 'https://index.example.test/packages/n.whl',
    });
  });

  it('picks it from a PEP 503 HTML page, decoding the link', () => {
    const page = [
      `<a href="https://files.example.test/a/numpy-2.5.5.tar.gz#sha256=${OTHER}">numpy-2.5.5.tar.gz</a><br/>`,
      `<a href="/files/numpy-2.5.5-cp313.whl?x=1&amp;y=2#sha256=${WANTED}" data-requires-python="&gt;=3.11">numpy-2.5.5-cp313.whl</a>`,
    ].join('\n');
    expect(findFileByHash(PAGE, 'text/html', page, WANTED)).toEqual({
      filename: 'numpy-2.5.5-cp313.whl',
      url: 'https://index.example.test/files/numpy-2.5.5-cp313.whl?x=1&y=2',
    });
  });

  it('finds nothing when no file has the hash', () => {
    expect(findFileByHash(PAGE, 'application/vnd.pypi.simple.v1+json', JSON.stringify({ files: [] }), WANTED)).toBeUndefined();
    expect(findFileByHash(PAGE, 'text/html', `<a href="x.whl#sha256=${OTHER}">x.whl</a>`, WANTED)).toBeUndefined();
  });
});
