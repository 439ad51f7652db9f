import { soleUser } from '../../src/access/users.js';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { CellError, parseMagic, type CellMagic } from '../../src/kernel/cell-magic.js';
import { ClickHouseKernelManager } from '../../src/kernel/manager.js';
import { IncomingMessageSchema, type JupyterMessage } from '../../src/kernel/messages.js';
import { silentLogger, testQueryService } from '../support/engine.js';

const { engine, queries } = testQueryService();
afterAll(() => engine.close());

const progressMagic: CellMagic = {
  name: 'progress',
  async run(context) {
    if (context.args === 'fail') throw new CellError('ProgressError', `bad body: ${context.body.trim()}`);
    context.display({ data: { 'text/plain': '0%' }, metadata: {} }, 'bar-1');
    for (const step of [50, 100]) {
      if (context.signal.aborted) return;
      await new Promise((r) => setTimeout(r, context.args === 'slow' ? 400 : 1));
      context.update('bar-1', { data: { 'text/plain': `${step}%` }, metadata: {} });
    }
    context.stream('stdout', `done: ${context.body.trim()}`);
  },
};

async function run(manager: ClickHouseKernelManager, code: string, interruptAfterMs?: number) {
  const model = await manager.start();
  const kernel = manager.kernel(model.id)!;
  const received: JupyterMessage[] = [];
  const client = { id: randomUUID(), send: (m: JupyterMessage) => received.push(m) };
  kernel.connect(client);
  kernel.handle(IncomingMessageSchema.parse({ channel: 'shell', header: { msg_id: 'm1', msg_type: 'execute_request' }, content: { code } }), client);
  if (interruptAfterMs !== undefined) setTimeout(() => void kernel.interrupt(), interruptAfterMs);
  for (let i = 0; i < 500 && !received.some((m) => m.header.msg_type === 'execute_reply'); i++) await new Promise((r) => setTimeout(r, 10));
  return received;
}

describe('cell magics', () => {
  const manager = new ClickHouseKernelManager(queries, silentLogger, soleUser(), [progressMagic]);

  it('parses the magic line', () => {
    expect(parseMagic('%%migrate users -> ch_users\nsource: x')).toEqual({ name: 'migrate', args: 'users -> ch_users', body: 'source: x' });
    expect(parseMagic('SELECT 1')).toBeUndefined();
  });

  it('dispatches to the magic, with display, in-place updates and streams', async () => {
    const received = await run(manager, '%%progress\nhello');
    const types = received.map((m) => m.header.msg_type);
    expect(types).toEqual(expect.arrayContaining(['display_data', 'update_display_data', 'stream', 'execute_reply']));
    const updates = received.filter((m) => m.header.msg_type === 'update_display_data');
    expect(updates.map((u) => (u.content.data as Record<string, string>)['text/plain'])).toEqual(['50%', '100%']);
    expect(updates.every((u) => (u.content.transient as { display_id: string }).display_id === 'bar-1')).toBe(true);
    expect(received.find((m) => m.header.msg_type === 'execute_reply')!.content.status).toBe('ok');
  });

  it('reports a magic error without a stack', async () => {
    const received = await run(manager, '%%progress fail\nxyz');
    const reply = received.find((m) => m.header.msg_type === 'execute_reply')!;
    expect(reply.content).toMatchObject({ status: 'error', ename: 'ProgressError', evalue: 'bad body: xyz' });
  });

  it('names the known cell kinds for an unknown one', async () => {
    const received = await run(manager, '%%nope\n');
    const reply = received.find((m) => m.header.msg_type === 'execute_reply')!;
    expect(reply.content).toMatchObject({ status: 'error', ename: 'UnsupportedCell' });
    expect(reply.content.evalue).toContain('%%progress');
  });

  it('interrupts a magic through its signal', async () => {
    const received = await run(manager, '%%progress slow\nx', 200);
    const reply = received.find((m) => m.header.msg_type === 'execute_reply')!;
    expect(reply.content).toMatchObject({ status: 'error', ename: 'Interrupted' });
  });
});
