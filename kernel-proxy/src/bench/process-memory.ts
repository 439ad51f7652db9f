import { readFileSync } from 'node:fs';

/** Samples a process's resident memory (VmRSS) until stopped; reports the peak. Linux only. */
export class MemorySampler {
  private peakKb = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pid: number) {}

  static rssKb(pid: number): number {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }

  start(intervalMs = 20): void {
    this.peakKb = MemorySampler.rssKb(this.pid);
    this.timer = setInterval(() => {
      try {
        this.peakKb = Math.max(this.peakKb, MemorySampler.rssKb(this.pid));
      } catch {
        this.stop();
      }
    }, intervalMs);
  }

  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.peakKb;
  }
}

export const mib = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
