// rate-limiter-flexible's index loads every store it has (Mongo, MySQL, Postgres, DynamoDB, etcd,
// ...): about 1 MiB of V8 heap and 3 MiB of RSS in each process. meshgate uses three, imported
// one by one; these give them the package's own types.

declare module 'rate-limiter-flexible/lib/RateLimiterMemory.js' {
  import { RateLimiterMemory } from 'rate-limiter-flexible';
  export default RateLimiterMemory;
}

declare module 'rate-limiter-flexible/lib/BurstyRateLimiter.js' {
  import { BurstyRateLimiter } from 'rate-limiter-flexible';
  export default BurstyRateLimiter;
}

declare module 'rate-limiter-flexible/lib/RateLimiterRedis.js' {
  import { RateLimiterRedis } from 'rate-limiter-flexible';
  export default RateLimiterRedis;
}
