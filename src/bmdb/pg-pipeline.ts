// Several statements in a single extended-protocol exchange: their messages go
// out in one write and end with one Sync, so the server answers all of them in
// one round trip. A transaction's BEGIN rides on its first statement and, when
// the caller says so, its COMMIT on its last; independent statements of a
// transaction (batch) go together.
//
// Within one Sync the server stops at the first error and skips the rest: a
// failed BEGIN means no statement runs (so none can run outside the
// transaction), and a failed statement means nothing after it runs (the
// transaction is left aborted, for the caller's ROLLBACK).
import pg from 'pg';

/** The parts of node-postgres's connection used here: its extended-protocol messages and named-statement bookkeeping. */
interface ProtocolConnection {
  parse(msg: { text: string; name: string }): void;
  bind(msg: { portal: string; statement: string; values: unknown[]; valueMapper?: unknown }): void;
  describe(msg: { type: 'P'; name: string }): void;
  execute(msg: { portal: string }): void;
  sync(): void;
  on(event: 'parseComplete', listener: () => void): void;
  removeListener(event: 'parseComplete', listener: () => void): void;
  parsedStatements: Record<string, string | undefined>;
  submittedNamedStatements: Record<string, string | undefined>;
}

/** A statement of a pipeline: parameterless SQL (BEGIN, COMMIT), or a query config (named when it has parameters). */
export type PipelinePart = string | pg.QueryConfig;

// node-postgres's own conversion of parameter values (Date, Buffer, arrays, JSON).
const { prepareValue } = (pg as unknown as { utils: { prepareValue: (v: unknown) => unknown } }).utils;

/** A Query that sends every part's Parse (if not yet prepared on this connection), Bind, Describe and Execute, then one Sync. */
class PipelinedQuery extends pg.Query {
  readonly #parts: readonly PipelinePart[];
  // The statement names of the Parse messages in flight, in order ('' for unnamed).
  #parsing: string[] = [];
  #connection: ProtocolConnection | undefined;
  readonly #onParseComplete = () => {
    const name = this.#parsing.shift();
    if (!name || !this.#connection) return;
    this.#connection.parsedStatements[name] = this.#connection.submittedNamedStatements[name];
    delete this.#connection.submittedNamedStatements[name];
  };

  constructor(parts: readonly PipelinePart[], callback: (err: Error | undefined, result: unknown) => void) {
    // No name of its own: node-postgres's bookkeeping of named statements is done here, per part.
    super({ text: 'pipeline', queryMode: 'extended' } as pg.QueryConfig, undefined, callback);
    this.#parts = parts;
  }

  // A property, as node-postgres's type declarations have it.
  override submit = (pgConnection: pg.Connection): void => {
    const connection = pgConnection as unknown as ProtocolConnection;
    this.#connection = connection;
    connection.on('parseComplete', this.#onParseComplete);
    const stream = (connection as unknown as { stream: { cork?: () => void; uncork?: () => void } }).stream;
    stream.cork?.();
    try {
      for (const part of this.#parts) {
        const config = typeof part === 'string' ? { text: part } : part;
        const name = config.name ?? '';
        if (name === '' || (connection.parsedStatements[name] === undefined && connection.submittedNamedStatements[name] === undefined)) {
          connection.parse({ text: config.text, name });
          this.#parsing.push(name);
          if (name !== '') connection.submittedNamedStatements[name] = config.text;
        }
        connection.bind({ portal: '', statement: name, values: (config.values ?? []) as unknown[], valueMapper: prepareValue });
        connection.describe({ type: 'P', name: '' });
        connection.execute({ portal: '' });
      }
      connection.sync();
    } finally {
      stream.uncork?.();
    }
  };

  #detach(): void {
    const connection = this.#connection;
    if (!connection) return;
    connection.removeListener('parseComplete', this.#onParseComplete);
    // Parses the server skipped after an error: not prepared.
    for (const name of this.#parsing) if (name) delete connection.submittedNamedStatements[name];
    this.#parsing = [];
    this.#connection = undefined;
  }

  handleError(err: Error, connection: ProtocolConnection): void {
    this.#detach();
    // @ts-expect-error node-postgres's Query.handleError is not in its type declarations
    super.handleError(err, connection);
  }

  handleReadyForQuery(connection: ProtocolConnection): void {
    this.#detach();
    // @ts-expect-error node-postgres's Query.handleReadyForQuery is not in its type declarations
    super.handleReadyForQuery(connection);
  }
}

/** Runs `parts` on `client` in one round trip and returns their results, in order. */
export function pipeline<R extends pg.QueryResultRow>(client: pg.ClientBase, parts: readonly PipelinePart[]): Promise<pg.QueryResult<R>[]> {
  return new Promise((resolve, reject) => {
    const query = new PipelinedQuery(parts, (err, result) => {
      if (err) return reject(err);
      // One result per statement that completed, in order.
      resolve((Array.isArray(result) ? result : [result]) as pg.QueryResult<R>[]);
    });
    client.query(query);
  });
}
