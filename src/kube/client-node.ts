/**
 * The values the operator takes from @kubernetes/client-node, each from the module that defines it.
 *
 * client-node's package root re-exports all of the library (exec, attach, port-forward, cp with its
 * tar streams, log, top, metrics, every generated API group), and the bundler keeps the CommonJS parts
 * of that (ws, tar-fs, ...) because it cannot tell whether loading them has effects. Importing each
 * value from its own module bundles only what these values need: less code, and less memory for its
 * source, which V8 keeps for as long as the process runs.
 *
 * Import values from here; types may still come from '@kubernetes/client-node' (`import type` is
 * erased). client-node 2.x has no "exports" map, so these paths resolve; an upgrade that moves one
 * fails `npm run typecheck` and `npm run build`.
 */
// The package root's first import: a File global for undici on Node versions without one.
import '@kubernetes/client-node/dist/polyfill.js';

export { KubeConfig } from '@kubernetes/client-node/dist/config.js';
export { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
export { createConfiguration } from '@kubernetes/client-node/dist/gen/configuration.js';
export { ResponseContext, wrapHttpLibrary } from '@kubernetes/client-node/dist/gen/http/http.js';
export { IsomorphicFetchHttpLibrary } from '@kubernetes/client-node/dist/gen/http/isomorphic-fetch.js';
export { ServerConfiguration } from '@kubernetes/client-node/dist/gen/servers.js';
// The package root exports these under the names the operator uses (CoreV1Api is ObjectCoreV1Api).
export {
  ObjectCoordinationV1Api as CoordinationV1Api,
  ObjectCoreV1Api as CoreV1Api,
  ObjectCustomObjectsApi as CustomObjectsApi,
  ObjectEventsV1Api as EventsV1Api,
} from '@kubernetes/client-node/dist/gen/types/ObjectParamAPI.js';
export { setHeaderMiddleware, setHeaderOptions } from '@kubernetes/client-node/dist/middleware.js';
export { PatchStrategy } from '@kubernetes/client-node/dist/patch.js';
export { V1MicroTime } from '@kubernetes/client-node/dist/types.js';
export { Watch } from '@kubernetes/client-node/dist/watch.js';
