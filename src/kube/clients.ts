import { CoreV1Api, CustomObjectsApi, EventsV1Api, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

/** The typed API clients the operator uses, made once from one KubeConfig. */
export interface KubeClients {
  core: CoreV1Api;
  customObjects: CustomObjectsApi;
  events: EventsV1Api;
}

export function createKubeClients(kubeConfig: KubeConfig): KubeClients {
  return {
    core: kubeConfig.makeApiClient(CoreV1Api),
    customObjects: kubeConfig.makeApiClient(CustomObjectsApi),
    events: kubeConfig.makeApiClient(EventsV1Api),
  };
}

/** Request options that send a body as the given patch type. */
export const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
export const jsonPatch = () => setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
