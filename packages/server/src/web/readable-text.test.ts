import { describe, expect, it } from 'vitest';
import { readableText } from './readable-text.js';

const paragraph = (words: string) => `<p>${words} ${'The hive keeps its stores of honey through the winter months. '.repeat(4)}</p>`;

describe('the readable text of an answer', () => {
  it("keeps an HTML page's article and title, without its scripts, styles, navigation or footer", () => {
    const html = `<!doctype html><html><head><title>Bees - Encyclopedia</title><style>p { color: red }</style>
      <script>window.track = 'the script text';</script></head><body>
      <nav><a href="/">Home</a> <a href="/about">About us</a> <a href="/shop">Shop</a></nav>
      <article><h1>Bees</h1>${paragraph('Bees are flying insects.')}${paragraph('A colony has one queen.')}</article>
      <footer>Copyright and cookie settings</footer></body></html>`;
    const { title, text } = readableText(html, 'text/html');
    expect(title).toBe('Bees - Encyclopedia');
    expect(text).toContain('Bees are flying insects.');
    expect(text).toContain('A colony has one queen.');
    expect(text).not.toMatch(/the script text|color: red|About us|cookie settings/);
  });

  it('keeps the whole text of a page with no article, and gives other text as it is', () => {
    expect(readableText('<html><body><div>Short   note</div>\n\n\n\n<div>second</div></body></html>', 'text/html').text).toBe('Short note\n\nsecond');
    expect(readableText('{"a": 1}', 'application/json')).toEqual({ title: null, text: '{"a": 1}' });
  });
});
