"""CPU time and memory of a process, from /proc (Linux only)."""
import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ns(pid):
    """Time on CPU of every live thread of `pid`, in ns (first field of each thread's
    /proc/<pid>/task/<tid>/schedstat; ns precision, unlike /proc/<pid>/stat's clock ticks).
    A thread that exited is missing from the sum: see `cpu_ticks_ns` for the cross-check."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def cpu_by_thread(pids):
    """Time on CPU of every live thread of `pids`, in ns, by (pid, tid): to difference two
    readings thread by thread (see `cpu_delta`), so a thread or process that exits in between
    (tokio's blocking threads end after 10 s idle) cannot make the difference negative."""
    out = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    out[(pid, tid)] = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return out


def cpu_delta(before, after):
    """CPU ns spent between two `cpu_by_thread` readings by the threads alive at the second:
    a thread new since the first counts from 0, one gone since is left out (its last
    moments are lost, never subtracted)."""
    return sum(ns - before.get(key, 0) for key, ns in after.items())


def cpu_ticks_ns(pid):
    """utime + stime of the whole process (exited threads included), in ns, at 1/CLK_TCK
    resolution (10 ms at 100 Hz)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // CLK_TCK
    except (OSError, ValueError, IndexError):
        return 0


def status_kb(pid, key):
    """A `kB` line of /proc/<pid>/status, e.g. VmHWM (peak RSS)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def children(pid):
    """Pids whose parent is `pid`, with their executable's path."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out[int(name)] = os.readlink(f"/proc/{name}/exe")
        except (OSError, ValueError, IndexError):
            pass
    return out


def descendants(pid):
    """`pid` and every process below it."""
    found, todo = [pid], [pid]
    while todo:
        for c in children(todo.pop()):
            found.append(c)
            todo.append(c)
    return found


def environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        raw = f.read()
    env = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            env[k.decode()] = v.decode()
    return env
