/* global Buffer */
// A fake GitHub over HTTPS, run inside a test network namespace by fake-github.ts:
//   node fake-github-server.mjs CONFIGURATION.json
// The configuration: { address, port, certificateFile, keyFile, projectRoot, token, login, logFile }.
// - api.github.com (by the Host header): GET /user answers {"login": LOGIN} for `Authorization: token TOKEN` or
//   `Bearer TOKEN` (what `gh api user` sends), 401 otherwise; other paths 404.
// - Any other host, github.com: git's smart HTTP through `git http-backend` for the repositories below PROJECT_ROOT
//   (`/owner/name.git/...`, or `/owner/name/...` as GitHub also takes), for HTTP Basic credentials whose password is
//   TOKEN (any user name, such as x-access-token) or whose user name is TOKEN; 401 with `WWW-Authenticate: Basic`
//   otherwise.
// Every request is appended to LOG_FILE as a JSON line before it is answered: method, host, path (with the query),
// scheme, username, token (the credential it carried) and authorized.
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import process from 'node:process';
import { URL } from 'node:url';

const configuration = JSON.parse(readFileSync(process.argv[2], 'utf8'));

/** The Authorization header's scheme, user name and credential; nulls without one. */
function credentialsOf(request) {
  const [scheme = '', value = ''] = (request.headers.authorization ?? '').trim().split(/\s+/, 2);
  const lowered = scheme.toLowerCase();
  if (lowered === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0
      ? { scheme: lowered, username: decoded, token: '' }
      : { scheme: lowered, username: decoded.slice(0, colon), token: decoded.slice(colon + 1) };
  }
  if (lowered === 'token' || lowered === 'bearer') return { scheme: lowered, username: null, token: value };
  return { scheme: null, username: null, token: null };
}

function answerJson(response, status, body, headers = {}) {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  response.end(JSON.stringify(body));
}

function serveApi(request, response, url, authorized) {
  if (url.pathname !== '/user') return answerJson(response, 404, { message: 'Not Found' });
  if (!authorized) return answerJson(response, 401, { message: request.headers.authorization ? 'Bad credentials' : 'Requires authentication' });
  answerJson(response, 200, { login: configuration.login });
}

/** Runs `git http-backend` as a CGI program for the request. */
function serveGit(request, response, url, username) {
  const match = /^\/([^/]+)\/([^/]+?)(?:\.git)?(\/.*)?$/.exec(url.pathname);
  if (!match) {
    response.writeHead(404).end('Not Found');
    return;
  }
  const environment = {
    PATH: process.env.PATH,
    HOME: configuration.projectRoot,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_PROJECT_ROOT: configuration.projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: `/${match[1]}/${match[2]}.git${match[3] ?? ''}`,
    QUERY_STRING: url.search.slice(1),
    REQUEST_METHOD: request.method,
    CONTENT_TYPE: request.headers['content-type'] ?? '',
    REMOTE_USER: username ?? '',
    REMOTE_ADDR: request.socket.remoteAddress ?? '',
    GIT_PROTOCOL: request.headers['git-protocol'] ?? '',
    HTTP_CONTENT_ENCODING: request.headers['content-encoding'] ?? '',
  };
  if (request.headers['content-length'] !== undefined) environment.CONTENT_LENGTH = request.headers['content-length'];
  const backend = spawn('git', ['http-backend'], { env: environment, stdio: ['pipe', 'pipe', 'inherit'] });
  request.pipe(backend.stdin);
  backend.stdin.on('error', () => undefined);
  // The CGI answer: header lines, a blank line, the body.
  let head = Buffer.alloc(0);
  backend.stdout.on('data', (chunk) => {
    if (response.headersSent) {
      response.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n') >= 0 ? head.indexOf('\r\n\r\n') + 4 : head.indexOf('\n\n') >= 0 ? head.indexOf('\n\n') + 2 : -1;
    if (end < 0) return;
    let status = 200;
    const headers = {};
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    response.writeHead(status, headers);
    response.write(head.subarray(end));
  });
  backend.on('close', (code) => {
    if (!response.headersSent) response.writeHead(code === 0 ? 200 : 500);
    response.end();
  });
}

const server = createServer(
  { cert: readFileSync(configuration.certificateFile), key: readFileSync(configuration.keyFile) },
  (request, response) => {
    const host = (request.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const url = new URL(request.url ?? '/', 'https://github.com');
    const credentials = credentialsOf(request);
    const api = host === 'api.github.com';
    const authorized = api
      ? credentials.scheme !== 'basic' && credentials.token === configuration.token
      : credentials.scheme === 'basic' && (credentials.token === configuration.token || credentials.username === configuration.token);
    const record = { method: request.method, host, path: request.url, ...credentials, authorized };
    appendFileSync(configuration.logFile, `${JSON.stringify(record)}\n`);
    if (api) return serveApi(request, response, url, authorized);
    if (!authorized) {
      response.writeHead(401, { 'www-authenticate': 'Basic realm="GitHub"', 'content-type': 'text/plain' });
      response.end('Invalid username or token. Password authentication is not supported for Git operations.\n');
      return;
    }
    serveGit(request, response, url, credentials.username);
  },
);
server.listen(configuration.port, configuration.address);
