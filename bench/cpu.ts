// CPU time read from the processes (far steadier than wall time on a shared machine): the Temporal dev server's from
// /proc/<pid>/stat, this process's (an in-process worker, the driver's client) from process.cpuUsage().
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** utime + stime of a process, in ms; NaN where /proc is not there (not Linux). */
export function processCpuMs(pid: number): number {
  try {
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces: count fields after its closing parenthesis
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return Number.NaN;
  }
}

export function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Starts a reading of the server's and this process's CPU; `stop()` gives the ms each spent since. */
export function cpuMeter(serverPid: number): { stop(): { serverMs: number; workerMs: number } } {
  const server0 = processCpuMs(serverPid);
  const own0 = ownCpuMs();
  return {
    stop: () => ({ serverMs: processCpuMs(serverPid) - server0, workerMs: ownCpuMs() - own0 }),
  };
}
