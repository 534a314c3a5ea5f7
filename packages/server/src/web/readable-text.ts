import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';

/** What a fetched page says, as a model should read it. */
export interface ReadableText {
  title: string | null;
  text: string;
}

/** Runs of spaces and tabs as one space; at most one blank line in a row; no space at line ends. */
function tidy(text: string): string {
  return text
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * The readable text of an answer: for HTML, the page's main content as Firefox's reader view finds it (Mozilla's
 * Readability on a linkedom document), or the whole body's text when it finds none; other text as it is.
 */
export function readableText(body: string, contentType: string): ReadableText {
  if (contentType !== 'text/html' && contentType !== 'application/xhtml+xml') return { title: null, text: body };
  const { document } = parseHTML(body);
  const title = document.querySelector('title')?.textContent?.trim() || null;
  for (const element of document.querySelectorAll('script, style, noscript, template')) element.remove();
  const whole = document.body?.textContent ?? '';
  // Readability changes the document it reads; the whole body's text is taken first.
  const article = new Readability(document as unknown as ConstructorParameters<typeof Readability>[0], { charThreshold: 100 }).parse();
  const text = article?.textContent ?? whole;
  return { title: article?.title || title, text: tidy(text) };
}
