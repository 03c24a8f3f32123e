// `saferoll validate`: checks a policy file and shows the plan it describes,
// or every problem at its file:line:col.
import { describePlan } from '../policies/describe.js';
import { loadPolicyFile } from '../policies/loader.js';
import { PolicyError } from '../policies/policy-error.js';
import { EXIT, UsageError, parseFlags, type Command } from './command.js';

const usage = `Usage: saferoll validate <policy.yaml> [--json]

Checks a rollout policy without starting anything. Prints the plan in one
line and exits 0, or prints every problem as file:line:col: field: message
(the form editors and CI annotators link; the first 50, then a count) and
exits 2. A policy is at most 128 KiB and 100 steps.

Options:
  --json        print {"ok": true, "plan", "policy"} or {"ok": false, "problems"} on stdout
  -h, --help    this help`;

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check a policy file and print its plan',
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { json: { type: 'boolean' } }, true);
    if (values.help) {
      console.log(usage);
      return EXIT.ok;
    }
    const [file, ...extra] = positionals;
    if (!file) throw new UsageError('which policy? saferoll validate <policy.yaml>');
    if (extra.length > 0) throw new UsageError(`one policy file at a time, got ${positionals.length}`);
    try {
      const policy = await loadPolicyFile(file);
      if (values.json) console.log(JSON.stringify({ ok: true, plan: describePlan(policy), policy }, null, 2));
      else console.log(describePlan(policy));
      return EXIT.ok;
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      if (values.json) {
        console.log(JSON.stringify({ ok: false, problems: err.problems, total: err.total }, null, 2));
      } else {
        console.error(err.message);
        console.error(`saferoll validate: ${err.total} problem${err.total === 1 ? '' : 's'} in ${file}`);
      }
      return EXIT.badInput;
    }
  },
};
