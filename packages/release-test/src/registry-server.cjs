// A verdaccio registry for the release test, run as a child process: it listens on a free
// loopback port, keeps its storage and users in the folder given as the first argument,
// proxies nothing (no uplinks: a package it does not hold is a 404), and sends its port to
// the parent over IPC once it listens.
const { join } = require('node:path');
const { runServer } = require('verdaccio');

const dir = process.argv[2];
if (!dir || !process.send) {
  console.error('usage: a child process with IPC, given the registry folder as its argument');
  process.exit(2);
}

runServer({
  self_path: join(dir, 'config.yaml'),
  storage: join(dir, 'storage'),
  auth: { htpasswd: { file: join(dir, 'htpasswd'), max_users: 1 } },
  uplinks: {},
  packages: {
    '@resilience/*': { access: '$all', publish: '$authenticated', unpublish: '$authenticated' },
    '**': { access: '$all' },
  },
  web: { enable: false },
  log: { type: 'stdout', format: 'pretty', level: 'warn' },
})
  .then((server) => {
    server.on('error', (error) => {
      console.error(error);
      process.exit(1);
    });
    server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  })
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
