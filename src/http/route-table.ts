import type { RequestHandler, Router } from 'express';
import { VaultError } from '../errors/vault-error';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type Handlers = Partial<Record<Method, RequestHandler>>;

export interface RouteEntry {
  path: string;
  methods: Method[];
}

/**
 * Registers each path with the methods it serves, answers any other method with 405 and an
 * `Allow` header, and remembers every route so tests can hold openapi.yaml to the truth.
 */
export class RouteTable {
  readonly entries: RouteEntry[] = [];

  add(router: Router, path: string, handlers: Handlers): void {
    const methods = Object.keys(handlers) as Method[];
    const route = router.route(path);
    for (const method of methods) route[method](handlers[method]!);
    const allow = methods.map((m) => m.toUpperCase());
    if (allow.includes('GET')) allow.push('HEAD');
    route.all(() => {
      throw new VaultError('method_not_allowed', 405, 'This method is not allowed on this resource', {
        headers: { Allow: allow.join(', ') },
      });
    });
    this.entries.push({ path, methods });
  }
}
