// Problems with input files, each pinned to a file position, and the error that carries them.
// Every loader collects all problems it can find before throwing, so a user fixes a file in one pass.

/** One thing wrong with an input file. `line` and `column` are 1-based. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** A position in an input file (1-based line and column). */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** Bad input: carries every problem found; exit code 2 by the CLI convention. */
export class InputError extends Error {
  readonly exitCode = 2;
  readonly problems: readonly Problem[];

  constructor(problems: readonly Problem[]) {
    super(formatProblems(problems).trimEnd() || "invalid input");
    this.name = "InputError";
    this.problems = problems;
  }
}

/** Orders problems by file, then line, then column; keeps the order of equal positions. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) =>
      a.p.file !== b.p.file
        ? a.p.file < b.p.file
          ? -1
          : 1
        : a.p.line - b.p.line || a.p.column - b.p.column || a.i - b.i,
    )
    .map((x) => x.p);
}

/** One line per problem: `file:line:col: message`. */
export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}\n`).join("");
}

export const problemAt = (pos: SourcePos, message: string): Problem => ({ ...pos, message });
