// Shared by the benches: medians, the one-JSON-line-per-figure output, and
// fresh databases on the throw-away cluster.
import type pg from 'pg';

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export const emit = (figure: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(figure)}\n`);
};

/** Creates database `name` through the admin connection and returns its URL. */
export async function createDatabase(admin: pg.Client, adminUrl: string, name: string): Promise<string> {
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}
