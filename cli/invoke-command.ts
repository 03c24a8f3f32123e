// `saferoll invoke`: one scoring request through the data plane, the way a
// client sends it (with the endpoint's key), showing which deployment answered.
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { DEPLOYMENT_HEADER } from '../shared/contracts.js';
import { SaferollError } from '../shared/errors.js';
import { EXIT, UsageError, parseFlags, type Command } from './command.js';
import { checkName } from './deployment-source.js';
import { ROUTER_ENV_HELP, ROUTER_FLAGS, ROUTER_HELP, resolveRouterConfig, withSession } from './session.js';

const usage = `Usage: saferoll invoke <endpoint> [--data file.json] [--path /score] [--deployment d]

Sends one request to the endpoint through the data plane with its primary key
(read from the admin API) and prints the status, the deployment that answered
and the body. Exits 1 when the answer is not 2xx.

Options:
  --data <file>           request body (JSON; "-" reads stdin; default {})
  --path <p>              path under the endpoint (default /score)
  --method <m>            HTTP method (default POST)
  --deployment <d>        send to this deployment only (x-saferoll-deployment; never mirrored)
  --timeout <ms>          how long to wait for the answer (default 30000)
  --json                  print {status, deployment, body} on stdout
${ROUTER_HELP}
  -h, --help              this help

${ROUTER_ENV_HELP}`;

export const invokeCommand: Command = {
  name: 'invoke',
  summary: 'send one scoring request to an endpoint',
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(
      argv,
      {
        ...ROUTER_FLAGS,
        data: { type: 'string' },
        path: { type: 'string' },
        method: { type: 'string' },
        deployment: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    );
    if (values.help) {
      console.log(usage);
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw new UsageError('which endpoint? saferoll invoke <endpoint>');
    const endpoint = checkName(positionals[0], 'endpoint');
    const deployment = values.deployment === undefined ? undefined : checkName(values.deployment, '--deployment');
    const path = values.path ?? '/score';
    if (!path.startsWith('/')) throw new UsageError(`--path must start with /, got "${path}"`);
    const method = (values.method ?? 'POST').toUpperCase();
    if (!/^[A-Z]+$/.test(method)) throw new UsageError(`--method must be an HTTP method, got "${values.method}"`);
    const timeoutMs = values.timeout === undefined ? 30_000 : Number(values.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError(`--timeout must be a number of milliseconds, got "${values.timeout}"`);
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(values.data);
    const config = resolveRouterConfig(values);

    return withSession(config, async (session) => {
      const { primaryKey } = await session.admin().getKeys(endpoint);
      const url = `${config.routerDataUrl.replace(/\/+$/, '')}/${endpoint}${path}`;
      const headers: Record<string, string> = { authorization: `Bearer ${primaryKey}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (deployment !== undefined) headers[DEPLOYMENT_HEADER] = deployment;
      let answer;
      try {
        answer = await request(url, { method: method as 'POST', headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      } catch (err) {
        const e = err as { code?: string; message?: string };
        throw new SaferollError(
          'SAFEROLL_E_UNREACHABLE',
          `cannot reach the saferoll data plane at ${config.routerDataUrl}: ${e.code ?? e.message ?? String(err)}`,
          { cause: err },
        );
      }
      const text = await answer.body.text();
      const answered = answer.headers[DEPLOYMENT_HEADER];
      const by = typeof answered === 'string' ? answered : undefined;
      const ok = answer.statusCode >= 200 && answer.statusCode < 300;
      if (values.json) {
        console.log(JSON.stringify({ status: answer.statusCode, deployment: by, body: parseMaybe(text) }, null, 2));
      } else {
        console.log(`${answer.statusCode} from ${by === undefined ? 'the router' : `deployment ${by}`}`);
        if (text) console.log(text);
      }
      return ok ? EXIT.ok : EXIT.rolledBack;
    });
  },
};

async function readBody(file: string | undefined): Promise<string> {
  if (file === undefined) return '{}';
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    }
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --data ${file}: ${(err as Error).message}`);
  }
}

function parseMaybe(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
