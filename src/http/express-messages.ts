import http from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';

interface MessageClasses {
  IncomingMessage?: typeof http.IncomingMessage;
  ServerResponse?: typeof http.ServerResponse;
}

type Initialiser = (this: unknown, ...args: unknown[]) => void;

/**
 * Request and response classes whose instances are born with the app's prototypes
 * (`app.request`, `app.response`), for the server's `IncomingMessage` and `ServerResponse`
 * options.
 *
 * Express otherwise gives each request and response those prototypes as it arrives, with
 * `Object.setPrototypeOf`. V8 then moves both objects to slow shapes, and every later property
 * access on them — Node's own HTTP code writing the response included — pays: a bare Express
 * route cost about twice the CPU for it. Born with the right prototype, Express's call changes
 * nothing (V8 returns early when the prototype is already the one asked for) and Express behaves
 * as before. The remedy is the one discussed upstream in expressjs/express#5998.
 */
export function expressMessageClasses(app: Express): MessageClasses {
  const initialiseRequest = http.IncomingMessage as unknown as Initialiser;
  const initialiseResponse = http.ServerResponse as unknown as Initialiser;
  // Node's constructors are plain functions that may be called on an object made elsewhere; were
  // they ever ES classes, that call would throw, so the server keeps Node's own classes instead.
  if (isClass(initialiseRequest) || isClass(initialiseResponse)) return {};

  // Plain constructors, not Reflect.construct: an object made with a borrowed new.target came
  // out slower still than the prototype change this avoids.
  function VaultRequest(this: unknown, socket: Socket): void {
    initialiseRequest.call(this, socket);
  }
  VaultRequest.prototype = app.request;

  function VaultResponse(this: unknown, req: http.IncomingMessage, options?: unknown): void {
    initialiseResponse.call(this, req, options);
  }
  VaultResponse.prototype = app.response;

  return {
    IncomingMessage: VaultRequest as unknown as typeof http.IncomingMessage,
    ServerResponse: VaultResponse as unknown as typeof http.ServerResponse,
  };
}

function isClass(fn: unknown): boolean {
  return typeof fn === 'function' && /^class\b/.test(Function.prototype.toString.call(fn));
}
