import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { tableFromIPC } from 'apache-arrow';
import { ClickHouseKernelManager } from '../../src/kernel/manager.js';
import { IncomingMessageSchema, type JupyterMessage } from '../../src/kernel/messages.js';
import { ARROW_MIME } from '../../src/kernel/spec.js';
import { silentLogger, testQueryService } from '../support/engine.js';

const { engine, queries } = testQueryService();
const manager = new ClickHouseKernelManager(queries, silentLogger);
afterAll(async () => {
  await manager.shutdownAll();
  await engine.close();
});

/** Drives a kernel the way a WebSocket connection does, collecting what it sends back. */
async function connectedKernel() {
  const model = await manager.start('clickhouse');
  const kernel = manager.kernel(model.id)!;
  const received: JupyterMessage[] = [];
  const client = { id: randomUUID(), send: (m: JupyterMessage) => received.push(m) };
  kernel.connect(client);
  const request = async (msgType: string, content: Record<string, unknown>, channel: 'shell' | 'control' = 'shell') => {
    const msgId = randomUUID();
    const message = IncomingMessageSchema.parse({
      channel,
      header: { msg_id: msgId, msg_type: msgType, session: 's', username: 'u', version: '5.3' },
      parent_header: {},
      metadata: {},
      content,
    });
    kernel.handle(message, client);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const mine = received.filter((m) => m.parent_header.msg_id === msgId);
      const reply = mine.find((m) => m.channel === channel);
      const idle = mine.find((m) => m.header.msg_type === 'status' && m.content.execution_state === 'idle');
      if (reply && (idle || channel === 'control')) return { reply, iopub: mine.filter((m) => m.channel === 'iopub') };
      if (Date.now() > deadline) throw new Error(`no reply to ${msgType}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const execute = (code: string) => request('execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
  return { kernel, model, received, request, execute };
}

describe('clickhouse kernel', () => {
  it('answers kernel_info with language sql', async () => {
    const { request } = await connectedKernel();
    const { reply, iopub } = await request('kernel_info_request', {});
    expect(reply.header.msg_type).toBe('kernel_info_reply');
    expect(reply.content).toMatchObject({ status: 'ok', protocol_version: '5.3', language_info: { name: 'sql' } });
    expect(iopub.map((m) => m.content.execution_state)).toEqual(['busy', 'idle']);
  });

  it('executes several statements, each showing its result, in order', async () => {
    const { execute } = await connectedKernel();
    const { reply, iopub } = await execute(`
      CREATE TABLE k_orders (id UInt32, note String) ENGINE = MergeTree ORDER BY id; -- a comment; with a semicolon
      INSERT INTO k_orders VALUES (1, 'semi;colon'), (2, 'it''s');
      SELECT id, note FROM k_orders ORDER BY id`);
    expect(reply.content).toMatchObject({ status: 'ok', execution_count: 1 });
    const types = iopub.map((m) => m.header.msg_type);
    expect(types[0]).toBe('status');
    expect(types).toContain('execute_input');
    const displays = iopub.filter((m) => m.header.msg_type === 'display_data');
    expect(displays).toHaveLength(3);
    expect(displays[0]!.content.data['text/plain']).toMatch(/^CREATE: OK/);
    const last = displays[2]!.content as { data: Record<string, string>; metadata: Record<string, any> };
    const table = tableFromIPC(Buffer.from(last.data[ARROW_MIME]!, 'base64'));
    expect(table.numRows).toBe(2);
    expect(table.getChild('note')!.toArray()).toEqual(['semi;colon', "it's"]);
    expect(last.metadata[ARROW_MIME]).toMatchObject({ rows: 2, truncated: false, columns: [{ name: 'id', type: 'UInt32' }, { name: 'note', type: 'String' }] });
    expect(last.data['text/html']).toContain('<table');
    expect(last.data['text/plain']).toContain('semi;colon');
  });

  it('turns a ClickHouse error into an error reply and aborts the queued cells', async () => {
    const { execute, request } = await connectedKernel();
    const failing = execute('SELEC 1');
    const queued = request('execute_request', { code: 'SELECT 1', stop_on_error: true });
    const { reply, iopub } = await failing;
    expect(reply.content).toMatchObject({ status: 'error', ename: 'SYNTAX_ERROR' });
    expect(reply.content.evalue).toMatch(/^Code: 62/);
    const error = iopub.find((m) => m.header.msg_type === 'error')!;
    expect(error.content.traceback.join('\n')).not.toMatch(/\bat .*\.js:\d+/);
    expect((await queued).reply.content.status).toBe('aborted');
  });

  it('points at the spot of a syntax error in the failing statement (line and caret), non-ASCII text before it included', async () => {
    const { execute } = await connectedKernel();
    const { iopub } = await execute("SELECT 1;\nSELECT 'ünïcødé' AS s,\n       count(*\nFROM system.one;\nSELECT 3");
    const error = iopub.find((m) => m.header.msg_type === 'error')!;
    const traceback: string[] = error.content.traceback;
    // (position 40 is a byte offset: the four 2-byte letters before it make it character 36)
    expect(traceback[0]).toMatch(/^Code: 62 \(SYNTAX_ERROR\)\. Syntax error: failed at position 40 \(\(\) \(line 2, col 13\)/);
    // (ClickHouse counts lines in the statement; the caret line counts them in the cell)
    expect(traceback.slice(1)).toEqual([
      'in statement 2 of 3 (line 2 of the cell); statement 1 ran; statement 3 was not run',
      '',
      'line 3 |        count(*',
      `${' '.repeat('line 3 | '.length + 12)}^`,
    ]);
    const single = (await execute('SELECT 1 +')).iopub.find((m) => m.header.msg_type === 'error')!;
    expect(single.content.traceback.slice(1)).toEqual(['', '  SELECT 1 +', '            ^']);
    const unknown = (await execute('SELECT * FROM k_missing_table')).iopub.find((m) => m.header.msg_type === 'error')!;
    expect(unknown.content.traceback).toEqual([expect.stringMatching(/^Code: 60 \(UNKNOWN_TABLE\)/)]);
    const second = (await execute('SELECT 1;\n\nSELECT * FROM k_missing_table')).iopub.find((m) => m.header.msg_type === 'error')!;
    expect(second.content.traceback).toEqual([expect.stringMatching(/^Code: 60 \(UNKNOWN_TABLE\)/), 'in statement 2 of 2 (line 3 of the cell); statement 1 ran']);
  });

  it('interrupts a running query and stays usable', async () => {
    const { execute, kernel } = await connectedKernel();
    const running = execute('SELECT number, sleepEachRow(0.02) FROM numbers(100000) SETTINGS max_block_size = 5');
    await new Promise((r) => setTimeout(r, 500));
    await kernel.interrupt();
    const { reply } = await running;
    expect(reply.content, JSON.stringify(reply.content).slice(0, 500)).toMatchObject({ status: "error", ename: "Interrupted" });
    const after = await execute('SELECT 42 AS answer');
    expect(after.reply.content.status).toBe('ok');
  });

  it('completes keywords, functions, tables and columns from the live schema', async () => {
    const { execute, request } = await connectedKernel();
    await execute('CREATE TABLE k_complete (customer_id UInt64, customer_name String) ENGINE = Memory');
    const columns = await request('complete_request', { code: 'SELECT custom', cursor_pos: 13 });
    expect(columns.reply.content.matches).toEqual(expect.arrayContaining(['customer_id', 'customer_name']));
    const dotted = await request('complete_request', { code: 'SELECT k_complete.cu', cursor_pos: 20 });
    expect(dotted.reply.content.matches).toEqual(['k_complete.customer_id', 'k_complete.customer_name']);
    expect(dotted.reply.content.cursor_start).toBe(7);
    const fn = await request('complete_request', { code: 'SELECT toStartOfMon', cursor_pos: 19 });
    expect(fn.reply.content.matches).toContain('toStartOfMonth');
    const kw = await request('complete_request', { code: 'SEL', cursor_pos: 3 });
    expect(kw.reply.content.matches).toContain('SELECT');
    const tables = await request('complete_request', { code: 'SELECT * FROM k_comp', cursor_pos: 20 });
    expect(tables.reply.content.matches).toContain('k_complete');
  });

  it('inspects a table and a column', async () => {
    const { execute, request } = await connectedKernel();
    await execute('CREATE TABLE k_inspect (amount Decimal(12, 2), at DateTime64(3)) ENGINE = Memory');
    const table = await request('inspect_request', { code: 'SELECT * FROM k_inspect', cursor_pos: 18, detail_level: 0 });
    expect(table.reply.content.found).toBe(true);
    expect(table.reply.content.data['text/plain']).toContain('amount  Decimal(12, 2)');
    const column = await request('inspect_request', { code: 'SELECT k_inspect.at', cursor_pos: 18, detail_level: 0 });
    expect(column.reply.content.data['text/plain']).toBe('column default.k_inspect.at: DateTime64(3)');
    const missing = await request('inspect_request', { code: 'SELECT nothing_here', cursor_pos: 12, detail_level: 0 });
    expect(missing.reply.content.found).toBe(false);
  });

  it('answers is_complete, history and comm_info', async () => {
    const { execute, request } = await connectedKernel();
    expect((await request('is_complete_request', { code: "SELECT 'open" })).reply.content.status).toBe('incomplete');
    expect((await request('is_complete_request', { code: 'SELECT 1' })).reply.content.status).toBe('complete');
    await execute('SELECT 7');
    const history = await request('history_request', { hist_access_type: 'tail', n: 10, output: false, raw: true });
    expect(history.reply.content.history).toEqual([[0, 1, 'SELECT 7']]);
    expect((await request('comm_info_request', {})).reply.content).toEqual({ status: 'ok', comms: {} });
  });

  it('rejects an execute_request with a bad content shape, naming the field', async () => {
    const { request } = await connectedKernel();
    const { reply } = await request('execute_request', { code: 42 });
    expect(reply.content.status).toBe('error');
    expect(reply.content.evalue).toContain('code');
  });

  it('restarts: execution count resets and the kernel reports idle', async () => {
    const { execute, model } = await connectedKernel();
    await execute('SELECT 1');
    const restarted = await manager.restart(model.id);
    expect(restarted.execution_state).toBe('idle');
    expect((await execute('SELECT 1')).reply.content.execution_count).toBe(1);
  });
});
