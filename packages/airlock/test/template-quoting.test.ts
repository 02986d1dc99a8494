import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { commandArgv } from '../src/supervise/command.ts';
import { fillTemplate } from '../src/supervise/template.ts';

/**
 * What the shell runs is what the template says, whatever the values hold: every
 * character the shell reads specially, in a path or a value, in each place a template
 * variable can stand (bare, in single quotes, in double quotes), in a compound command.
 */
const dir = mkdtempSync(join(tmpdir(), 'airlock-quoting-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SPECIAL = [..." '\"\\$`!&|;<>(){}[]*?#~=%^,\t", 'a', 'b', 'é'];
const value = fc.array(fc.constantFrom(...SPECIAL), { minLength: 1, maxLength: 12 }).map((chars) => chars.join(''));

function run(template: string, values: Record<string, string>): { status: number | null; stderr: string } {
  const argv = commandArgv(fillTemplate(template, values));
  const result = spawnSync(argv[0], argv.slice(1), { cwd: dir, encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr };
}

describe('template values in shell commands', () => {
  it("runs every part of a compound command in a project path with a quote (q'uote)", () => {
    mkdirSync(join(dir, "q'uote"));
    const artifact = join(dir, "q'uote", 'bin');
    const { status, stderr } = run('cp /dev/null {artifact} && chmod +x {artifact}', { artifact });
    assert.equal(status, 0, stderr);
    assert.ok((statSync(artifact).mode & 0o111) !== 0, 'the chmod after && ran too');
  });

  it('passes any value through unchanged, bare, single-quoted and double-quoted, and runs both halves of &&', () => {
    fc.assert(
      fc.property(value, fc.constantFrom('{v}', "'{v}'", '"{v}"'), (v, placed) => {
        const out1 = join(dir, 'out1');
        const out2 = join(dir, 'out2');
        rmSync(out1, { force: true });
        rmSync(out2, { force: true });
        const { status, stderr } = run(`printf %s ${placed} > ${out1} && printf %s ${placed} > ${out2}`, { v });
        assert.equal(status, 0, `${JSON.stringify(v)} as ${placed}: ${stderr}`);
        assert.equal(readFileSync(out1, 'utf8'), v, `${JSON.stringify(v)} as ${placed}`);
        assert.equal(readFileSync(out2, 'utf8'), v, `the second half ran with ${JSON.stringify(v)} as ${placed}`);
      }),
      { numRuns: 300, seed: 42 },
    );
  });

  it('runs the chmod of `cp x {artifact} && chmod +x {artifact}` in a project path holding any special character', () => {
    fc.assert(
      fc.property(value, (name) => {
        const artifact = join(dir, `p-${name}`);
        rmSync(artifact, { force: true });
        const { status, stderr } = run('cp /dev/null {artifact} && chmod +x {artifact}', { artifact });
        assert.equal(status, 0, `${JSON.stringify(name)}: ${stderr}`);
        assert.ok((statSync(artifact).mode & 0o111) !== 0, `the chmod ran in ${JSON.stringify(artifact)}`);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
