import type { Logger } from 'pino';
import type { QueryService } from '../clickhouse/query-service.js';
import { SchemaCatalog } from './catalog.js';
import { ClickHouseKernel } from './kernel.js';
import { KERNEL_NAME } from './spec.js';
import type { CellMagic } from './cell-magic.js';
import type { Principal } from '../access/roles.js';
import { soleUser } from '../access/users.js';
import type { AuditLog } from '../access/audit.js';
import { UnknownKernelError, UnknownKernelSpecError, type KernelManager, type KernelModel } from './types.js';

/** Kernels live in this process; they share the QueryService and the schema catalog. */
export class ClickHouseKernelManager implements KernelManager {
  private readonly kernels = new Map<string, ClickHouseKernel>();
  private readonly catalog: SchemaCatalog;

  constructor(
    private readonly queries: QueryService,
    private readonly log: Logger,
    /** Owner of kernels started without a user (the single-token mode's one user). */
    private readonly defaultOwner: Principal = soleUser(),
    private readonly magics: readonly CellMagic[] = [],
    private readonly audit?: AuditLog,
  ) {
    this.catalog = new SchemaCatalog(queries.engine);
  }

  list(): KernelModel[] {
    return [...this.kernels.values()].map((k) => k.model);
  }

  get(id: string): KernelModel | undefined {
    return this.kernels.get(id)?.model;
  }

  kernel(id: string): ClickHouseKernel | undefined {
    return this.kernels.get(id);
  }

  private require(id: string): ClickHouseKernel {
    const kernel = this.kernels.get(id);
    if (!kernel) throw new UnknownKernelError(id);
    return kernel;
  }

  /** Who started the kernel: only they (or an admin) may use it. */
  owner(id: string): Principal | undefined {
    return this.kernels.get(id)?.principal;
  }

  async start(specName: string = KERNEL_NAME, owner: Principal = this.defaultOwner): Promise<KernelModel> {
    if (specName !== KERNEL_NAME) throw new UnknownKernelSpecError(specName);
    const kernel = new ClickHouseKernel(this.queries, this.catalog, this.log, owner, this.magics, this.audit);
    this.kernels.set(kernel.id, kernel);
    this.log.info({ kernelId: kernel.id }, 'kernel started');
    return kernel.model;
  }

  async shutdown(id: string): Promise<void> {
    const kernel = this.require(id);
    this.kernels.delete(id);
    await kernel.shutdown();
    this.log.info({ kernelId: id }, 'kernel shut down');
  }

  async interrupt(id: string): Promise<void> {
    await this.require(id).interrupt();
  }

  async restart(id: string): Promise<KernelModel> {
    const kernel = this.require(id);
    await kernel.restart();
    return kernel.model;
  }

  async shutdownAll(): Promise<void> {
    await Promise.all([...this.kernels.keys()].map((id) => this.shutdown(id)));
  }
}
