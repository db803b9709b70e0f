import type request from 'supertest';

/** A request that did not answer in time is a hang: no request in the fault suite may wait longer than this. */
export const ANSWER_WITHIN_MS = 20_000;

export type Outcome = { status: number; code?: string; body: Record<string, unknown>; text: string; etag?: string } | { failed: string };

/**
 * Sends a request and reports what came back instead of throwing: an answer (held to
 * openapi.yaml by the test vault), or why there was none (refused connection, hang, an
 * answer the contract does not allow).
 */
export async function attempt(test: request.Test): Promise<Outcome> {
  try {
    const res = await test.timeout({ deadline: ANSWER_WITHIN_MS });
    const body = (res.body && typeof res.body === 'object' ? res.body : {}) as Record<string, unknown>;
    return { status: res.status, code: typeof body.code === 'string' ? body.code : undefined, body, text: res.text ?? '', etag: res.headers.etag };
  } catch (error) {
    return { failed: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

export const answered = (outcome: Outcome): outcome is Exclude<Outcome, { failed: string }> => !('failed' in outcome);

/** A short label for assertion messages: "201", "503 kms_unavailable", "no answer: ...". */
export const describeOutcome = (outcome: Outcome) =>
  answered(outcome) ? `${outcome.status}${outcome.code ? ` ${outcome.code}` : ''}` : `no answer: ${outcome.failed}`;

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `probe` until it returns something other than undefined: at most `attempts` times,
 * `intervalMs` apart. Fails naming `what` when it never does.
 */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, { attempts = 150, intervalMs = 100 } = {}): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await pause(intervalMs);
  }
  throw new Error(`gave up waiting for ${what} after ${attempts} attempts`);
}
