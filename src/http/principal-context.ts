import type { Principal } from '../identity/access-token';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified bearer of the access token; set by `authenticate` on every /v1 request. */
      principal?: Principal;
    }
  }
}

export {};
