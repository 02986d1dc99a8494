import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** A process that holds a listening TCP socket. */
export interface PortOwner {
  readonly pid: number;
  /** Its command line, as `ps` would show it (cut at 120 characters). */
  readonly command: string;
}

/**
 * Socket inodes of TCP listeners on `port` (state 0A), from /proc/net/tcp and tcp6.
 *
 * @example
 *   listeningInodes(8080).size === 0; // nothing listens on 8080
 */
export function listeningInodes(port: number): Set<string> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(hex) && fields[3] === '0A' && fields[9] !== undefined) inodes.add(fields[9]);
    }
  }
  return inodes;
}

function commandOf(pid: number): string {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  } catch {
    return '?';
  }
}

/**
 * Which process listens on a TCP port, found the way `ss -ltnp` does (the socket's inode in
 * /proc/net/tcp, then each process's fds); undefined when none of this user's processes
 * does, or the holder cannot be read. For error messages: "8080 is held by pid 412 (node server.js)".
 *
 * @example
 *   portOwners(8080); // [{ pid: 412, command: 'node server.js' }]
 */
export function portOwners(port: number): PortOwner[] {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return [];
  const owners: PortOwner[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${name}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${name}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) {
        owners.push({ pid: Number(name), command: commandOf(Number(name)) });
        break;
      }
    }
  }
  return owners;
}

/** " (held by pid 412: node server.js)" for a message, or '' when nobody can be named. */
export function heldBy(port: number, except: readonly number[] = [process.pid]): string {
  const owners = portOwners(port).filter((owner) => !except.includes(owner.pid));
  if (owners.length === 0) return '';
  return ` (held by ${owners.map((owner) => `pid ${owner.pid}: ${owner.command}`).join('; ')})`;
}
