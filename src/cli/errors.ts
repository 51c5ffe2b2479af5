// Exit codes shared by every command: 0 ok, 1 a check failed, 2 bad input or usage.
export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** Bad input or usage: printed as is (one problem per line), exit code 2. */
export class UsageError extends Error {
  readonly exitCode = EXIT_BAD_INPUT;
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A check ran and found problems: the data is printed by the command, then exit code 1. */
export class CheckFailed extends Error {
  readonly exitCode = EXIT_CHECK_FAILED;
  constructor(message: string) {
    super(message);
    this.name = "CheckFailed";
  }
}
