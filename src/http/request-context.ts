declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Correlates the response, its log line and (later) its audit event. */
      requestId: string;
    }
  }
}

export {};
