// `--command "<cmd>"` is split the way a shell would split it, without a shell.
import { describe, expect, it } from 'vitest';
import { splitShellWords } from '../../cli/shell-words.js';

describe('splitShellWords', () => {
  it.each([
    ['node server.mjs', ['node', 'server.mjs']],
    ['  node   server.mjs  ', ['node', 'server.mjs']],
    [`"/opt/my node/bin/node" 'a b' c`, ['/opt/my node/bin/node', 'a b', 'c']],
    [`python -c "print('hi')"`, ['python', '-c', "print('hi')"]],
    [`echo "say \\"yes\\"" it\\'s`, ['echo', 'say "yes"', "it's"]],
    [`a""b '' x`, ['ab', '', 'x']],
    [`--flag="two words"`, ['--flag=two words']],
    ['', []],
  ])('%s', (line, words) => {
    expect(splitShellWords(line)).toEqual(words);
  });

  it('refuses an unterminated quote', () => {
    expect(() => splitShellWords(`node "server.mjs`)).toThrow(/unterminated double quote/);
    expect(() => splitShellWords(`node 'server.mjs`)).toThrow(/unterminated single quote/);
  });
});
