//! CPU time from Linux's `/proc`, for benches that say where the time went: this process
//! in all, each of its live threads by name, and its children that were waited for (a
//! load generator such as wrk).

/// Linux's `USER_HZ`, the unit of `/proc/*/stat`'s CPU times on every architecture.
pub const TICKS_PER_SEC: f64 = 100.0;

/// CPU ticks (user and system) so far.
#[derive(Clone, Debug, Default)]
pub struct CpuTicks {
    /// This process, all its threads (ended ones included).
    pub process: u64,
    /// Its children that have been waited for.
    pub children: u64,
    /// Each live thread: its name (Linux cuts it to 15 bytes) and its ticks.
    pub threads: Vec<(String, u64)>,
}

impl CpuTicks {
    /// Reads `/proc/self/stat` and `/proc/self/task/*/stat`; what cannot be read counts 0.
    pub fn now() -> Self {
        let mut ticks = CpuTicks::default();
        if let Some((_, t)) = read_stat("/proc/self/stat") {
            ticks.process = t[0] + t[1];
            ticks.children = t[2] + t[3];
        }
        for task in std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Some((name, t)) = read_stat(task.path().join("stat")) {
                ticks.threads.push((name, t[0] + t[1]));
            }
        }
        ticks
    }

    /// The ticks of the live threads whose name starts with `prefix`.
    pub fn of_threads(&self, prefix: &str) -> u64 {
        self.threads
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, t)| t)
            .sum()
    }
}

/// `ticks` as CPU microseconds for each of `n` things (requests, entries).
pub fn micros_each(ticks: u64, n: u64) -> f64 {
    ticks as f64 / TICKS_PER_SEC * 1e6 / n.max(1) as f64
}

/// A `stat` file's name field and its utime, stime, cutime and cstime: the 12th to 15th
/// fields after the `(name)`, which may itself hold spaces and parentheses.
fn read_stat(path: impl AsRef<std::path::Path>) -> Option<(String, [u64; 4])> {
    let stat = std::fs::read_to_string(path).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let mut t = [0; 4];
    let mut fields = stat[close + 1..].split_whitespace().skip(11);
    for slot in &mut t {
        *slot = fields.next()?.parse().ok()?;
    }
    Some((stat[open + 1..close].to_owned(), t))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread's work shows as ticks under its name, and in the process's.
    #[test]
    fn reads_the_threads_by_name() {
        let start = CpuTicks::now();
        let spun = std::thread::Builder::new()
            .name("proc-cpu-spin".into())
            .spawn(|| {
                let mut n = 0u64;
                while CpuTicks::now().of_threads("proc-cpu-spin") < 2 {
                    n = n.wrapping_add(1);
                }
                n
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(spun > 0);
        // The process's figure is the kernel's adjusted sum, which may trail the thread's
        // own ticks for a moment: wait for it, sleeping (which adds no ticks of its own).
        for _ in 0..200 {
            if CpuTicks::now().process >= start.process + 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(CpuTicks::now().process >= start.process + 2);
        assert_eq!(CpuTicks::now().of_threads("proc-cpu-spin"), 0, "ended");
        assert_eq!(micros_each(100, 1_000_000), 1.0);
    }
}
