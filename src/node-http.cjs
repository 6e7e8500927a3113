// node:http for the bundle, as CommonJS: `npm run build` aliases 'http' and 'node:http' here.
// An ES module import of node:http makes Node build the module's ESM namespace, which reads its lazy
// WebSocket, CloseEvent and MessageEvent getters and so loads Node's own copy of undici (about 5 MiB of
// RSS the operator never uses; client-node bundles its own undici). Loaded this way, they stay unread.
module.exports = process.getBuiltinModule('node:http');
