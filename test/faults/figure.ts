// How a fault test reports its figure: one line starting `figure: `, on
// stdout (so CI output can be quoted with a grep) and as a test diagnostic.
import type { TestContext } from 'node:test';

export function reportFigure(t: TestContext, figure: string): void {
  t.diagnostic(figure);
  console.log(`figure: ${figure.replace(/\s*\n\s*/g, ' ')}`);
}
