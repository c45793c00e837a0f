/**
 * Subcommands of the `headroom` CLI, loaded on demand so the agent's start-up pays for none of them.
 * Each returns the process exit code (0 ok, 2 bad input).
 */
export type Subcommand = (argv: string[]) => Promise<number>;

export const SUBCOMMANDS: Record<string, () => Promise<Subcommand>> = {
  'alert-rules': () => import('./alerts/cli.ts').then((m) => m.run),
  estimate: () => import('./estimate/cli.ts').then((m) => m.run),
};
