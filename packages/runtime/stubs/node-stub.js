// Airlock's node entry point: started with `node -e`, it waits for one request on fd 3, applies the working
// directory and environment, writes the call's files (connectors' credentials, in the sandbox's own /run), then runs
// the code as `node -e CODE` would, as a fresh `[eval]` CommonJS module.
(() => {
  const fs = require('fs');
  const path = require('path');
  const vm = require('vm');
  const Module = require('module');

  // Warm the compile and run paths and the module set-up below, so the first real statement does not pay for them.
  vm.runInThisContext('0', { filename: '[warm-up]' });
  new Module('[warm-up]').paths = Module._nodeModulePaths(process.cwd());
  path.join(process.cwd(), '[warm-up]');
  process.hrtime.bigint();
  // process.stdout and process.stderr on pipes, and console, cost about 3 ms on first use: their modules are loaded
  // and run once here on a sink, while fds 1 and 2 stay as `node -e` leaves them until the code first writes (making
  // the streams sets O_NONBLOCK on the pipes, which the code's child processes share).
  const net = require('net');
  require('tty');
  new net.Socket({ readable: false, writable: true }).destroy();
  const sink = new (require('stream').Writable)({ write: (chunk, encoding, done) => done() });
  new console.Console({ stdout: sink, stderr: sink }).log('%s %d', 'warm-up', 0, { warm: [true] });
  fs.writeSync(4, 'R');
  const request = fs.readFileSync(3);
  fs.closeSync(3);
  let offset = 0;
  const field = () => {
    const end = request.indexOf(0, offset);
    const value = request.subarray(offset, end).toString();
    offset = end + 1;
    return value;
  };
  const cwd = field();
  const count = Number(field());
  for (let index = 0; index < count; index++) {
    const entry = field();
    const separator = entry.indexOf('=');
    process.env[entry.slice(0, separator)] = entry.slice(separator + 1);
  }
  const fileCount = Number(field());
  for (let index = 0; index < fileCount; index++) {
    const filePath = field();
    const content = field();
    fs.mkdirSync(path.dirname(filePath), { recursive: true, mode: 0o700 });
    fs.writeFileSync(filePath, content, { mode: 0o600, flag: 'wx' });
  }
  const source = request.subarray(offset).toString();
  process.chdir(cwd);

  const name = '[eval]';
  const main = new Module(name);
  main.filename = path.join(cwd, name);
  main.paths = Module._nodeModulePaths(cwd);
  globalThis.__filename = name;
  fs.writeSync(4, `S${process.hrtime.bigint()}\n`);
  fs.closeSync(4);
  const wrapper =
    'globalThis.module = module; globalThis.exports = exports; globalThis.__dirname = __dirname;' +
    ' globalThis.require = require; return (main) => main();';
  main._compile(wrapper, `${name}-wrapper`)(() =>
    vm.runInThisContext(source, {
      filename: name,
      displayErrors: true,
      importModuleDynamically: (specifier) => import(specifier),
    }),
  );
})();
