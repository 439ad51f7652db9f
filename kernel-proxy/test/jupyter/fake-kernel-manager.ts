import { randomUUID } from 'node:crypto';
import { KERNEL_NAME } from '../../src/kernel/spec.js';
import { UnknownKernelError, UnknownKernelSpecError, type KernelManager, type KernelModel } from '../../src/kernel/types.js';

export class FakeKernelManager implements KernelManager {
  readonly kernels = new Map<string, KernelModel>();
  readonly calls: string[] = [];
  failNextStart: Error | undefined;

  list(): KernelModel[] {
    return [...this.kernels.values()];
  }

  get(id: string): KernelModel | undefined {
    return this.kernels.get(id);
  }

  private require(id: string): KernelModel {
    const model = this.kernels.get(id);
    if (!model) throw new UnknownKernelError(id);
    return model;
  }

  async start(specName?: string): Promise<KernelModel> {
    this.calls.push(`start:${specName ?? ''}`);
    if (this.failNextStart) {
      const err = this.failNextStart;
      this.failNextStart = undefined;
      throw err;
    }
    if (specName !== undefined && specName !== KERNEL_NAME) throw new UnknownKernelSpecError(specName);
    const model: KernelModel = {
      id: randomUUID(),
      name: KERNEL_NAME,
      last_activity: new Date().toISOString(),
      execution_state: 'idle',
      connections: 0,
    };
    this.kernels.set(model.id, model);
    return model;
  }

  async shutdown(id: string): Promise<void> {
    this.require(id);
    this.calls.push(`shutdown:${id}`);
    this.kernels.delete(id);
  }

  async interrupt(id: string): Promise<void> {
    this.require(id);
    this.calls.push(`interrupt:${id}`);
  }

  async restart(id: string): Promise<KernelModel> {
    const model = this.require(id);
    this.calls.push(`restart:${id}`);
    model.last_activity = new Date().toISOString();
    return model;
  }

  async shutdownAll(): Promise<void> {
    this.kernels.clear();
  }
}
