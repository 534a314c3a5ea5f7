import { LIMITS } from './limits.js';

/**
 * What a sandbox is and what it can do, for the models that write code for it: the MCP tool's description and the
 * SDKs' code_sandbox tools (TypeScript and Python) carry these sentences, pinned to this text by tests. It states only
 * what this server serves.
 */
export const SANDBOX_DESCRIPTION = [
  'The sandbox is a Debian system with bash, coreutils, python3 with pip, node with npm, curl, git and jq.',
  'It has no network access (no DNS, loopback only): pip install, npm install and downloads fail, so work with what',
  'is installed. The code runs as an unprivileged user in /home/sandbox. /tmp is emptied after every call and no',
  `process outlives it. stdout and stderr are each cut after ${LIMITS.outputMaxBytes / 1024} KB, so print summaries,`,
  'not whole data sets. Code still running at its timeout is killed (exit code 137); a non-zero exit code, a timeout',
  'or running out of memory is a normal result, not an error: read stderr and fix the code.',
].join(' ');
