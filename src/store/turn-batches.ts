/**
 * Requests of one kind asked for in the same turn of the event loop, answered by one call.
 *
 * Under load the server reads many connections in one turn, and each request's read reaches
 * the database before the next is parsed. Sent one by one, each costs a round trip: a write to
 * the socket, a wake-up of the database backend, a snapshot, an executor start and the reply.
 * Held until the turn ends (`setImmediate` runs right after the poll phase that read them),
 * they share all of that. Nothing waits for a timer: an idle vault answers a lone request as
 * soon as its own turn ends.
 */
export class TurnBatches<Request, Answer> {
  private readonly pending = new Map<string, Array<Waiting<Request, Answer>>>();

  /** `run` answers each request of one kind, in order; if it fails, every request of the group fails with it. */
  constructor(private readonly run: (kind: string, requests: readonly Request[]) => Promise<readonly Answer[]>) {}

  ask(kind: string, request: Request): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const group = this.pending.get(kind);
      if (group) {
        group.push({ request, resolve, reject });
        return;
      }
      this.pending.set(kind, [{ request, resolve, reject }]);
      setImmediate(() => void this.answer(kind));
    });
  }

  private async answer(kind: string): Promise<void> {
    const group = this.pending.get(kind) ?? [];
    this.pending.delete(kind);
    try {
      const answers = await this.run(
        kind,
        group.map((waiting) => waiting.request),
      );
      group.forEach((waiting, i) => waiting.resolve(answers[i]!));
    } catch (error) {
      group.forEach((waiting) => waiting.reject(error));
    }
  }
}

interface Waiting<Request, Answer> {
  request: Request;
  resolve(answer: Answer): void;
  reject(error: unknown): void;
}
