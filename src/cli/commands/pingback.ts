// Pingback addresses of the legacy family (2captcha, CaptchaAI): callback mode needs CAPTCHA_CALLBACK_URL registered
// with the provider once per deployment (the worker does it at start when it is missing; these commands show and
// change the list). The JSON family needs no registration.
import type { Command } from 'commander';
import { CliError, EXIT } from '../errors';
import { note, out, printJson } from '../output';
import { sessionOf } from '../session';

interface PingbackOptions {
  json?: boolean;
}

async function adminClient(cmd: Command) {
  const config = await sessionOf(cmd).settings();
  const [{ requireProviderKey }, { pingbackClient }] = await Promise.all([import('../../config'), import('../../callbacks/pingback')]);
  const client = pingbackClient({ ...config.provider, apiKey: requireProviderKey(config) });
  if (!client) throw new CliError(`${config.provider.name} needs no pingback registration: its createTask takes any callbackUrl`, EXIT.USAGE);
  return { client, config };
}

function checkAddress(addr: string): string {
  if (addr.length > 2_048 || !/^https?:\/\/\S+$/.test(addr)) throw new CliError(`the address must be an http(s) URL of at most 2,048 characters (got ${JSON.stringify(addr.slice(0, 80))})`, EXIT.USAGE);
  return addr;
}

export function addPingbackCommands(program: Command): void {
  const pingback = program.command('pingback').description('the legacy providers\' registered pingback addresses (callback mode)');

  pingback
    .command('list')
    .description('show the registered addresses (res.php?action=get_pingback)')
    .option('--json', 'print them as a JSON array')
    .action(async (o: PingbackOptions, cmd: Command) => {
      const { client } = await adminClient(cmd);
      try {
        const list = await client.pingbacks('get');
        if (o.json) printJson(list);
        else if (list.length === 0) note('no pingback address registered');
        else for (const addr of list) out(addr);
      } finally {
        await client.close();
      }
    });

  pingback
    .command('add')
    .description('register an address (default: CAPTCHA_CALLBACK_URL) (res.php?action=add_pingback)')
    .argument('[url]', 'the address; default CAPTCHA_CALLBACK_URL')
    .action(async (url: string | undefined, _o: unknown, cmd: Command) => {
      const { client, config } = await adminClient(cmd);
      const addr = url ?? config.callback?.publicUrl;
      if (!addr) throw new CliError('give the address, or set CAPTCHA_CALLBACK_URL', EXIT.USAGE);
      try {
        await client.pingbacks('add', checkAddress(addr));
        note(`registered ${addr}`);
      } finally {
        await client.close();
      }
    });

  pingback
    .command('remove')
    .description('remove an address, or every one with "all" (res.php?action=del_pingback)')
    .argument('<url>', 'the address, or all')
    .action(async (url: string, _o: unknown, cmd: Command) => {
      const { client } = await adminClient(cmd);
      try {
        await client.pingbacks('del', url === 'all' ? 'all' : checkAddress(url));
        note(url === 'all' ? 'removed every pingback address' : `removed ${url}`);
      } finally {
        await client.close();
      }
    });
}
