// Unit tests, no server: held ports (test/helpers/ports.ts) are released at once, whatever reached them meanwhile.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { holdPorts, strayClient } from './helpers/ports';

void describe('holdPorts', () => {
  void test('a held port is released at once after a client sent bytes to it and went away', async () => {
    // before: the held server kept the unread connection, and close() waited for it with no active handle, so the
    // event loop drained and this test was cancelled ("Promise resolution is still pending …")
    const held = await holdPorts([0, 0]);
    assert.equal(held.ports.length, 2);
    for (const port of held.ports) assert.ok(port > 0);
    await Promise.all(held.ports.map(strayClient));
    await held.release();
    // released: the port can be listened on again
    const again = await holdPorts(held.ports);
    assert.deepEqual(again.ports, held.ports);
    await again.release();
  });

  void test('a port already in use is not held, and the others are', async () => {
    const first = await holdPorts([0]);
    const second = await holdPorts([first.ports[0]!, 0]);
    assert.equal(second.ports.length, 1);
    assert.notEqual(second.ports[0], first.ports[0]);
    await Promise.all([first.release(), second.release()]);
  });
});
