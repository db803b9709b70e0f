declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The vault's own id: correlates the response, its log line and its audit events. */
      requestId: string;
      /** The caller's own X-Request-Id, when it can only be an opaque id: echoed and logged, never audited. */
      correlationId?: string;
    }
  }
}

export {};
