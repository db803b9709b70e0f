import { Router, type RequestHandler } from 'express';
import { VaultError } from '../errors/vault-error';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type Handlers = Partial<Record<Method, RequestHandler>>;

/** What a route reads as its body: JSON (the default), a form (RFC 6749's endpoints), or nothing. */
export type BodyKind = 'json' | 'form' | 'none';

export interface RouteEntry {
  path: string;
  methods: Method[];
  /** What each method reads as its body; GET and DELETE read none. */
  bodies: Partial<Record<Method, BodyKind>>;
}

/**
 * A router whose paths match only as openapi.yaml spells them: Express routers match any case
 * and a trailing slash by default, whatever the app is set to. `/OAUTH/TOKEN` or `/reveal/`
 * would reach a route that a filter in front of the vault, matching paths exactly, would not see
 * as that route.
 */
export function caseSensitiveRouter(): Router {
  return Router({ caseSensitive: true, strict: true });
}

/**
 * Registers each path with the methods it serves, answers any other method with 405 and an
 * `Allow` header, and remembers every route so tests can hold openapi.yaml to the truth.
 */
export class RouteTable {
  readonly entries: RouteEntry[] = [];

  /** `readBody(kind)`: the step that reads a route's body, just before its handler (after a secured route's checks). */
  constructor(private readonly readBody: (kind: BodyKind) => RequestHandler) {}

  /**
   * `body`: what the path's POST, PUT or PATCH reads (JSON unless said); `none` for a POST that
   * takes no body (openapi.yaml declares none): one sent is refused, unread. GET and DELETE take none.
   */
  add(router: Router, path: string, handlers: Handlers, { body = 'json' }: { body?: BodyKind } = {}): void {
    if (!(router as Router & { caseSensitive?: boolean }).caseSensitive) throw new Error(`${path}: make its router with caseSensitiveRouter()`);
    const methods = Object.keys(handlers) as Method[];
    const route = router.route(path);
    const allow = methods.map((m) => m.toUpperCase()).join(', ');
    const refuse = () => {
      throw new VaultError('method_not_allowed', 405, 'This method is not allowed on this resource', { headers: { Allow: allow } });
    };
    // Express would answer HEAD with the GET handler: a whole audited read, an approval used up,
    // for an answer without a body. No route declares HEAD; it is refused like any other method.
    route.head(refuse);
    const bodies: RouteEntry['bodies'] = {};
    for (const method of methods) {
      bodies[method] = method === 'get' || method === 'delete' ? 'none' : body;
      route[method](this.readBody(bodies[method]), handlers[method]!);
    }
    route.all(refuse);
    this.entries.push({ path, methods, bodies });
  }
}
