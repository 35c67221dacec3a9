/**
 * The conformance harness ends with "Failures (test output, last 150 lines each)": per failed
 * test, its whole output, mostly the server's logs as escaped JSON. This filter reads the
 * harness's stdout line by line and, in place of that section, prints each failed test's name
 * and the lines that say why it failed (`suite_test.go:171: Stat(missing): expected …`), then
 * where the full output is: the harness's `test.log` (its `logs:` line names the directory),
 * or, when that is not known, the section itself after the readable part.
 */

export interface FailedTest {
  name: string;
  /** The test's failure lines (`file.go:NN: message` and their continuation lines). */
  messages: string[];
}

const SECTION_START = 'Failures (test output, last 150 lines each):';
const TEST_HEADER = /^----- (.+) -----$/;
const SECTION_END = /^(?:suite wall time:|HARNESS ERROR:|Benchmark \(|no test ran|\d+ passed, \d+ failed)/;
/** `    suite_test.go:171: message`: go test's t.Error/t.Fatal lines (containerd's log hook excepted). */
const FAILURE_LINE = /^(\s+)([\w.-]+\.go:\d+: .*)$/;
const LOG_DIR = /^\[conformance\] logs: (\S+)/;

export function failureMessages(output: readonly string[]): string[] {
  const messages: string[] = [];
  let indent: number | undefined;
  for (const line of output) {
    const m = FAILURE_LINE.exec(line);
    if (m && !m[2]!.startsWith('log_hook.go:')) {
      messages.push(m[2]!);
      indent = m[1]!.length;
    } else if (indent !== undefined && !m && /^\s*$/.test(line) === false && leading(line) > indent && !/^\s*(?:===|---) /.test(line)) {
      messages.push(line.trim()); // a multi-line message continues, indented further
    } else {
      indent = undefined;
      if (/^\s*panic: /.test(line)) messages.push(line.trim()); // a crash says why on its own line
    }
  }
  return messages;
}

export function formatFailures(failed: readonly FailedTest[], fullOutput: string | undefined): string[] {
  const out = [`Failed conformance tests (${failed.length}):`];
  for (const t of failed) {
    out.push(`  ${t.name}`);
    if (t.messages.length === 0) out.push('    (no failure message in its output: see the full output)');
    for (const m of t.messages) out.push(`    ${m}`);
  }
  out.push(fullOutput !== undefined ? `Full output of the failed tests (with the server's logs): ${fullOutput}` : "Full output of the failed tests (with the server's logs):");
  return out;
}

/** Feed every line of the harness; print what `push` returns. */
export class ConformanceFailureFilter {
  #logDir: string | undefined;
  #inSection = false;
  #held: string[] = [];
  #tests: { name: string; output: string[] }[] = [];

  /** The lines to print now for `line` (of the harness's stdout, or `held: false` for stderr). */
  push(line: string, o: { hold?: boolean } = {}): string[] {
    const dir = LOG_DIR.exec(line);
    if (dir) this.#logDir = dir[1];
    if (o.hold === false) return [line];
    if (!this.#inSection) {
      if (line !== SECTION_START) return [line];
      this.#inSection = true;
      this.#held = [line];
      return [];
    }
    if (!SECTION_END.test(line)) {
      this.#held.push(line);
      const header = TEST_HEADER.exec(line);
      if (header) this.#tests.push({ name: header[1]!, output: [] });
      else this.#tests.at(-1)?.output.push(line);
      return [];
    }
    return [...this.flush(), line];
  }

  /** The readable failures (and the held section when its log file is not known); at a section's end or the harness's exit. */
  flush(): string[] {
    if (!this.#inSection) return [];
    this.#inSection = false;
    const failed = this.#tests.map((t) => ({ name: t.name, messages: failureMessages(t.output) }));
    const full = this.#logDir !== undefined ? `${this.#logDir}/test.log` : undefined;
    const out = [...formatFailures(failed, full), ...(full === undefined ? this.#held : [])];
    this.#held = [];
    this.#tests = [];
    return out;
  }
}

function leading(line: string): number {
  return line.length - line.trimStart().length;
}
