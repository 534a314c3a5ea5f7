import { parseHTML } from 'linkedom';

/** One pattern found, with where: a short excerpt of the text that matched. */
export interface InjectionFinding {
  rule: string;
  weight: number;
  excerpt: string;
}

export interface InjectionScan {
  /** 0 (nothing found) to 1; findings combine as independent evidence: 1 - Π(1 - weight). */
  score: number;
  /** Whether the score reaches FLAG_SCORE: `flag` marks such a page, `block` withholds it. */
  flagged: boolean;
  findings: InjectionFinding[];
}

export const FLAG_SCORE = 0.5;

interface TextRule {
  rule: string;
  weight: number;
  pattern: RegExp;
}

/** Patterns of text addressed to a model rather than to a reader. */
const TEXT_RULES: TextRule[] = [
  {
    rule: 'ignore_instructions',
    weight: 0.7,
    pattern:
      /\b(ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}\b(previous|prior|above|earlier|preceding|all|any|your|system)\b[^.\n]{0,40}\b(instructions?|prompts?|rules|directions|guidelines|context)\b/i,
  },
  {
    rule: 'role_impersonation',
    weight: 0.6,
    pattern: /(<\|(im_start|im_end|system|endoftext)\|>|\[\/?INST\]|<<\/?SYS>>|<\/?(system|assistant)(_prompt)?>|^\s*(system|developer)\s*(prompt)?\s*:)/im,
  },
  {
    rule: 'tool_call_impersonation',
    weight: 0.5,
    pattern: /(<\/?(tool_call|function_call|tool_use|antml:invoke|invoke)\b|"(tool_calls?|function_call)"\s*:)/i,
  },
  {
    rule: 'new_instructions',
    weight: 0.4,
    pattern: /\b(you are now|from now on,? you|new instructions?:|your new (task|role|instructions?)|act as (an?|the) (?:unrestricted|jailbroken|different))\b/i,
  },
  {
    rule: 'secret_request',
    weight: 0.5,
    pattern:
      /\b(send|post|upload|forward|e-?mail|share|leak|exfiltrate|reveal|print|include)\b[^.\n]{0,60}\b(api[ _-]?keys?|passwords?|tokens?|secrets?|credentials|environment variables|\.env|ssh keys?|system prompt)\b/i,
  },
];

/** Invisible characters that can carry or hide instructions: zero-width, bidi overrides, tags. */
const INVISIBLE = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]|[\u{E0000}-\u{E007F}]/gu;
const INVISIBLE_MIN = 3;

/** A URL carrying what looks like a secret or a payload in its query: a way to send data out through a fetch or an image. */
const EXFILTRATION_URL = /https?:\/\/[^\s"'<>)]+[?&](?:[a-z_]*(?:key|token|secret|password|passwd|session|cookie|auth)[a-z_]*|q|data|d|payload)=(?:\{[^}\s]*\}|[^&\s"'<>)]{24,})/i;
const MARKDOWN_IMAGE_WITH_QUERY = /!\[[^\]]*\]\(https?:\/\/[^)\s]+\?[^)\s]+\)/i;

/** Styles that hide an element's text from a reader while a model still reads it. */
const HIDING_STYLE = /(display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d])|opacity\s*:\s*0(?![.\d])|color\s*:\s*(transparent|#fff\b|#ffffff\b|white\b)|(left|top)\s*:\s*-\d{3,}px|clip\s*:\s*rect\(0)/i;

function excerpt(text: string, index: number, length: number): string {
  const start = Math.max(0, index - 20);
  return text.slice(start, Math.min(text.length, index + length + 20)).replace(/\s+/g, ' ').trim().slice(0, 160);
}

/** The text of the elements an HTML page hides from its readers (hidden attribute, aria-hidden, hiding styles). */
function hiddenText(html: string): string {
  const { document } = parseHTML(html);
  const hidden = [...document.querySelectorAll('[hidden], [aria-hidden="true"], [style]')].filter(
    (element) => element.hasAttribute('hidden') || element.getAttribute('aria-hidden') === 'true' || HIDING_STYLE.test(element.getAttribute('style') ?? ''),
  );
  return hidden
    .map((element) => element.textContent ?? '')
    .join('\n')
    .trim();
}

function textFindings(text: string, where: string): InjectionFinding[] {
  const findings: InjectionFinding[] = [];
  for (const { rule, weight, pattern } of TEXT_RULES) {
    const match = pattern.exec(text);
    if (match) findings.push({ rule: `${where}${rule}`, weight, excerpt: excerpt(text, match.index, match[0].length) });
  }
  return findings;
}

/**
 * Looks for known prompt-injection patterns in fetched text (and, for HTML, in the text it hides): instructions to
 * ignore previous ones, role or system-prompt markers, tool-call impersonation, requests to send secrets, invisible
 * characters, and URLs that would carry data out. It is a tripwire for the common forms, not a guarantee: text that
 * persuades without these words, instructions in another language or encoding, in images, or split across pages
 * are not found.
 */
export function scanForInjection(text: string, html?: string): InjectionScan {
  const findings = textFindings(text, '');
  if (html !== undefined) {
    const hidden = hiddenText(html);
    if (hidden !== '') {
      const inHidden = textFindings(hidden, 'hidden_text:');
      findings.push(...inHidden.map((finding) => ({ ...finding, weight: Math.min(1, finding.weight + 0.2) })));
    }
  }
  const invisible = [...text.matchAll(INVISIBLE)];
  if (invisible.length >= INVISIBLE_MIN) {
    findings.push({ rule: 'invisible_characters', weight: 0.4, excerpt: `${invisible.length} zero-width, bidi or tag characters` });
  }
  for (const [rule, pattern] of [
    ['exfiltration_url', EXFILTRATION_URL],
    ['markdown_image_with_query', MARKDOWN_IMAGE_WITH_QUERY],
  ] as const) {
    const match = pattern.exec(text);
    if (match) findings.push({ rule, weight: 0.4, excerpt: excerpt(text, match.index, match[0].length) });
  }
  const score = 1 - findings.reduce((remaining, finding) => remaining * (1 - finding.weight), 1);
  const rounded = Math.round(score * 100) / 100;
  return { score: rounded, flagged: rounded >= FLAG_SCORE, findings };
}
