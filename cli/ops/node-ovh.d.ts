// @ovhcloud/node-ovh ships no type declarations; the part we call (README "Promise" usage).
declare module "@ovhcloud/node-ovh" {
  interface OvhClientParams {
    endpoint?: string;
    appKey?: string;
    appSecret?: string;
    consumerKey?: string;
    clientID?: string;
    clientSecret?: string;
    host?: string;
    port?: number;
    basePath?: string;
    tokenURL?: string;
    timeout?: number;
  }
  interface OvhClient {
    requestPromised(method: string, path: string, params?: Record<string, unknown>): Promise<unknown>;
  }
  function ovh(params: OvhClientParams): OvhClient;
  export = ovh;
}
