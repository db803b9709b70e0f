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
  private readonly pending = new Map<string, Group<Request, Answer>>();

  /**
   * `run` answers each request of one kind, in order; if it fails, every request of the group
   * fails with it. A group holds at most `maxSize` of `sizeOf` (a request larger than that goes
   * alone): sixty-four 1,000-id batches in one turn make several statements, not one of 64,000 ids.
   */
  constructor(
    private readonly run: (kind: string, requests: readonly Request[]) => Promise<readonly Answer[]>,
    private readonly sizeOf: (request: Request) => number,
    private readonly maxSize: number,
  ) {}

  ask(kind: string, request: Request): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const size = this.sizeOf(request);
      let group = this.pending.get(kind);
      if (group && group.size + size > this.maxSize) {
        // Full: it goes now, and this request starts the next group of its kind.
        this.send(kind, group);
        group = undefined;
      }
      if (!group) {
        const fresh: Group<Request, Answer> = { waiting: [], size: 0 };
        this.pending.set(kind, fresh);
        setImmediate(() => this.send(kind, fresh));
        group = fresh;
      }
      group.waiting.push({ request, resolve, reject });
      group.size += size;
    });
  }

  /** Sends `group` unless it has gone already (full before its turn ended). */
  private send(kind: string, group: Group<Request, Answer>): void {
    if (group.sent) return;
    group.sent = true;
    if (this.pending.get(kind) === group) this.pending.delete(kind);
    void this.answer(kind, group.waiting);
  }

  private async answer(kind: string, group: ReadonlyArray<Waiting<Request, Answer>>): Promise<void> {
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

interface Group<Request, Answer> {
  waiting: Array<Waiting<Request, Answer>>;
  size: number;
  sent?: boolean;
}

interface Waiting<Request, Answer> {
  request: Request;
  resolve(answer: Answer): void;
  reject(error: unknown): void;
}
