//! The standard `process_*` metrics (as Prometheus client libraries name them) and `keymanager_build_info`,
//! rendered in the text format beside the exporter's: CPU seconds, resident and virtual memory, open and maximum
//! file descriptors, start time. Read from `/proc/self` on Linux at each scrape; elsewhere only the start time and
//! the build info.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

static STARTED: OnceLock<f64> = OnceLock::new();

/// Remember when the process started (call once, early).
pub(crate) fn mark_start() {
    STARTED.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    });
}

/// The version, the git commit it was built from, and the core features compiled in.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit (`unknown` outside a git checkout).
pub const COMMIT: &str = env!("KEYMANAGER_GIT_COMMIT");
/// The build, as `/health/live` says it.
pub(crate) const BUILD: keymanager::api::health::Build = keymanager::api::health::Build {
    version: VERSION,
    commit: COMMIT,
};
/// The core features the binary is built with.
pub const FEATURES: &str = "gateway,server,service,sql,validation";

/// The lines to append to `/metrics`.
pub(crate) fn render() -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
    };
    #[cfg(target_os = "linux")]
    {
        let ticks = rustix::param::clock_ticks_per_second() as f64;
        let page = rustix::param::page_size() as f64;
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the command name (which is in parentheses and may hold spaces).
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_ascii_whitespace().collect())
                .unwrap_or_default();
            let field = |n: usize| fields.get(n).and_then(|v| v.parse::<f64>().ok());
            // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name and state.
            if let (Some(user), Some(system)) = (field(11), field(12)) {
                metric(
                    "process_cpu_seconds_total",
                    "counter",
                    "Total user and system CPU time spent in seconds.",
                    (user + system) / ticks.max(1.0),
                );
            }
            if let (Some(vsize), Some(rss)) = (field(20), field(21)) {
                metric(
                    "process_virtual_memory_bytes",
                    "gauge",
                    "Virtual memory size in bytes.",
                    vsize,
                );
                metric(
                    "process_resident_memory_bytes",
                    "gauge",
                    "Resident memory size in bytes.",
                    rss * page,
                );
            }
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            metric(
                "process_open_fds",
                "gauge",
                "Number of open file descriptors.",
                fds.count() as f64,
            );
        }
        if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
            let max = limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_ascii_whitespace().nth(3))
                .and_then(|v| v.parse::<f64>().ok());
            if let Some(max) = max {
                metric(
                    "process_max_fds",
                    "gauge",
                    "Maximum number of open file descriptors.",
                    max,
                );
            }
        }
    }
    if let Some(start) = STARTED.get() {
        metric(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            *start,
        );
    }
    out.push_str(&format!(
        "# HELP keymanager_build_info The version, commit and features of this build (always 1).\n\
         # TYPE keymanager_build_info gauge\n\
         keymanager_build_info{{version=\"{VERSION}\",commit=\"{COMMIT}\",features=\"{FEATURES}\"}} 1\n"
    ));
    out
}
