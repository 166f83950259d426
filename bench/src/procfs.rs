//! CPU time and resident memory of a process, from `/proc` (Linux only).

use serde::Serialize;
use std::time::Instant;

/// Clock ticks per second of `utime`/`stime` in `/proc/PID/stat`. Linux
/// reports them in USER_HZ, which is 100 on every mainstream architecture.
const USER_HZ: f64 = 100.0;

/// Which process: a pid, or this one.
#[derive(Debug, Clone, Copy)]
pub enum Proc {
    /// Another process.
    Pid(u32),
    /// The load tool itself.
    SelfProc,
}

impl Proc {
    fn path(self, file: &str) -> String {
        match self {
            Proc::Pid(pid) => format!("/proc/{pid}/{file}"),
            Proc::SelfProc => format!("/proc/self/{file}"),
        }
    }

    /// User + system CPU time of all threads, in seconds.
    pub fn cpu_seconds(self) -> Option<f64> {
        stat_cpu_seconds(std::path::Path::new(&self.path("stat")))
    }

    /// Resident set size in KiB (`VmRSS`).
    pub fn rss_kib(self) -> Option<u64> {
        status_field(&self.path("status"), "VmRSS:")
    }

    /// Number of threads.
    pub fn threads(self) -> Option<u64> {
        status_field(&self.path("status"), "Threads:")
    }

    /// Starts a CPU measurement window.
    pub fn cpu_window(self) -> CpuWindow {
        CpuWindow {
            proc: self,
            start: Instant::now(),
            cpu: self.cpu_seconds(),
        }
    }
}

/// User + system CPU time, in seconds, from a `stat` file of `/proc` (a
/// process's, or one thread's under `task/`).
pub fn stat_cpu_seconds(path: &std::path::Path) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields
    // after the last ')' start at field 3 (state).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime is field 14, stime field 15: indices 11 and 12 from field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

fn status_field(path: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// An open CPU measurement.
pub struct CpuWindow {
    proc: Proc,
    start: Instant,
    cpu: Option<f64>,
}

impl CpuWindow {
    /// CPU used since the window opened, as a percentage of one core.
    pub fn percent(&self) -> Option<f64> {
        let now = self.proc.cpu_seconds()?;
        let before = self.cpu?;
        let wall = self.start.elapsed().as_secs_f64();
        (wall > 0.0).then(|| (now - before) / wall * 100.0)
    }
}

/// Busy, interrupt (irq + softirq) and total jiffies of all CPUs, from the
/// `cpu` line of /proc/stat.
fn machine_jiffies() -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    let irq = v.get(5).copied().unwrap_or(0) + v.get(6).copied().unwrap_or(0);
    Some((total - idle, irq, total))
}

/// An open measurement of the whole machine's CPU.
pub struct MachineWindow {
    start: Option<(u64, u64, u64)>,
    cpus: f64,
}

impl MachineWindow {
    /// Opens a window.
    pub fn open() -> MachineWindow {
        MachineWindow {
            start: machine_jiffies(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
        }
    }

    /// CPU used by the whole machine since the window opened, and the part
    /// of it spent in interrupts, in % of one core (so up to 100 × CPUs).
    pub fn busy_percent(&self) -> Option<(f64, f64)> {
        let (b0, i0, t0) = self.start?;
        let (b1, i1, t1) = machine_jiffies()?;
        let scale = |x: u64| x as f64 / (t1 - t0) as f64 * self.cpus * 100.0;
        (t1 > t0).then(|| (scale(b1 - b0), scale(i1 - i0)))
    }
}

/// CPU use over a window, each in % of one core.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CpuUse {
    /// The server process (all threads).
    pub server_pct: Option<f64>,
    /// The load tool.
    pub tool_pct: Option<f64>,
    /// The whole machine (up to 100 × CPUs), kernel included.
    pub machine_pct: Option<f64>,
    /// Interrupt and softirq time of the machine (loopback TCP is processed
    /// there; most of it is also charged to the processes).
    pub irq_pct: Option<f64>,
    /// Machine minus server and tool: other processes (a busy neighbour
    /// skews every figure). /proc/stat is sampled on ticks, so this is only
    /// good to about ±10 points.
    pub other_pct: Option<f64>,
}

/// Server, tool and machine windows opened together.
pub struct CpuWindows {
    server: Option<CpuWindow>,
    tool: CpuWindow,
    machine: MachineWindow,
}

impl CpuWindows {
    /// Opens the three windows now.
    pub fn open(server: Option<Proc>) -> CpuWindows {
        CpuWindows {
            server: server.map(Proc::cpu_window),
            tool: Proc::SelfProc.cpu_window(),
            machine: MachineWindow::open(),
        }
    }

    /// CPU use since opening.
    pub fn read(&self) -> CpuUse {
        let server_pct = self.server.as_ref().and_then(CpuWindow::percent);
        let tool_pct = self.tool.percent();
        let machine = self.machine.busy_percent();
        // Interrupt time is mostly charged to the processes as well (their
        // loopback traffic), so it is not subtracted again.
        let other_pct = machine
            .map(|(m, _)| (m - server_pct.unwrap_or(0.0) - tool_pct.unwrap_or(0.0)).max(0.0));
        CpuUse {
            server_pct,
            tool_pct,
            machine_pct: machine.map(|m| m.0),
            irq_pct: machine.map(|m| m.1),
            other_pct,
        }
    }
}

/// What the machine is, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Online CPUs.
    pub cpus: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// `MemTotal` in MiB.
    pub mem_total_mib: u64,
    /// Kernel release.
    pub kernel: String,
}

impl Machine {
    /// Reads /proc.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            mem_total_mib: status_field("/proc/meminfo", "MemTotal:").unwrap_or(0) / 1024,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }
}

/// The soft limit on open files of this process.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        assert!(Proc::SelfProc.cpu_seconds().is_some());
        assert!(Proc::SelfProc.rss_kib().unwrap() > 0);
        assert!(Proc::SelfProc.threads().unwrap() >= 1);
        assert!(open_files_limit().unwrap() > 0);
        assert!(Machine::detect().cpus >= 1);
        let w = MachineWindow::open();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(w.busy_percent().is_some());
    }
}
