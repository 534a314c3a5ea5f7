'use strict';
// Airlock's web tools from Node.js: fetch a page or search the web through the sandbox's web gateway.
//
//   const web = require('airlock-web');
//   const page = await web.fetch('https://nodejs.org/en/about');   // { final_url, title, text, scan, ... }
//   const results = await web.search('node streams backpressure'); // [{ title, url, snippet }, ...]
//
// The gateway applies the sandbox's web policy and records every request; it works even when the network is blocked.
// A refused request rejects with an Error whose `code` and `rule` say why.
const http = require('http');

function call(route, payload) {
  const socketPath = process.env.AIRLOCK_WEB_SOCKET;
  const token = process.env.AIRLOCK_WEB_TOKEN;
  if (!socketPath || !token) {
    return Promise.reject(Object.assign(new Error('the web tools are off for this sandbox: its sandbox config has no web policy'), { code: 'off', rule: 'policy' }));
  }
  return new Promise((resolve, reject) => {
    const request = http.request(
      { socketPath, path: route, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => {
          let answer = {};
          try {
            answer = JSON.parse(text || '{}');
          } catch {
            answer = { message: text };
          }
          if (response.statusCode === 200) resolve(answer);
          else reject(Object.assign(new Error(answer.message || 'the web gateway refused'), { code: answer.error || 'error', rule: answer.rule || '' }));
        });
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(payload));
  });
}

/** The page at `url` as readable text: final_url, status, title, text, truncated, withheld and the injection scan. */
exports.fetch = (url) => call('/fetch', { url });

/** Web search results for `query` (at most `count`, up to 20): [{ title, url, snippet }]. */
exports.search = async (query, { count = 5 } = {}) => (await call('/search', { query, count })).results;
