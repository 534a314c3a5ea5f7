/** One line of a hash-pinned pip requirements file: a distribution at one version and the sha256 of its one wheel. */
export interface PythonPin {
  name: string;
  version: string;
  sha256: string;
}

const PIN = /^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s+--hash=sha256:([0-9a-f]{64})$/;

/**
 * Reads the requirements files scripts/lock-image-packages.sh writes: `name==version --hash=sha256:<hex>` per
 * distribution, continued over lines with a backslash, comments with #. Anything else is refused, so a file pip
 * would read differently cannot reach an image.
 */
export function parsePythonRequirements(text: string): PythonPin[] {
  const logicalLines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.replace(/(^|\s)#.*$/, '').replace(/\s+/g, ' ').trim())
    .filter((line) => line !== '');
  return logicalLines.map((line) => {
    const match = PIN.exec(line);
    if (!match) throw new Error(`not a pinned requirement with one sha256 hash: "${line}"`);
    return { name: match[1]!, version: match[2]!, sha256: match[3]! };
  });
}
