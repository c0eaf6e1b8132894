// undici's index also loads fetch, WebSocket, EventSource, its caches and mocks: about 3 MiB of
// V8 heap and 9 MiB of RSS in every worker, which uses none of them. The gateway imports the
// modules it uses one by one instead; these give them undici's own types.

declare module 'undici/lib/dispatcher/dispatcher.js' {
  import { Dispatcher } from 'undici';
  export default Dispatcher;
}

declare module 'undici/lib/dispatcher/pool.js' {
  import { Pool } from 'undici';
  export default Pool;
}

declare module 'undici/lib/dispatcher/agent.js' {
  import { Agent } from 'undici';
  export default Agent;
}

/** undici's `dispatcher.request()`, which only its index adds to Dispatcher.prototype. */
declare module 'undici/lib/api/api-request.js' {
  import type { Dispatcher } from 'undici';
  export default function request(this: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
}
