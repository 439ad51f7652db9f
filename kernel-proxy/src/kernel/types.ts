import type { Principal } from '../access/roles.js';

/** The kernel model of the Jupyter Server REST API (`GET /api/kernels/{id}`). */
export interface KernelModel {
  id: string;
  name: string;
  last_activity: string;
  execution_state: 'starting' | 'idle' | 'busy' | 'restarting' | 'dead';
  connections: number;
}

export class UnknownKernelSpecError extends Error {
  constructor(readonly specName: string) {
    super(`No such kernel spec: ${specName}`);
  }
}

export class UnknownKernelError extends Error {
  constructor(readonly kernelId: string) {
    super(`Kernel does not exist: ${kernelId}`);
  }
}

/** What the Jupyter REST plugins (kernels, sessions) need from the kernels. */
export interface KernelManager {
  list(): KernelModel[];
  get(id: string): KernelModel | undefined;
  /** Starts a kernel of the given spec (only `clickhouse` exists) owned by `owner`. Throws UnknownKernelSpecError. */
  start(specName?: string, owner?: Principal): Promise<KernelModel>;
  /** The user a kernel belongs to. */
  owner?(id: string): Principal | undefined;
  /** Throws UnknownKernelError. */
  shutdown(id: string): Promise<void>;
  /** Kills the running query on the server. Throws UnknownKernelError. */
  interrupt(id: string): Promise<void>;
  /** Throws UnknownKernelError. */
  restart(id: string): Promise<KernelModel>;
  shutdownAll(): Promise<void>;
}
