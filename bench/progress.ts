// The benchmark's progress lines go to stderr, so stdout carries only the report.

export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}
