//! Progress of a long backfill: an indicatif bar on a terminal, periodic log lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const TARGET: &str = "quartz::monitor";
/// Ranges shorter than this are ordinary polls, not backfills.
const BACKFILL_BLOCKS: u64 = 5_000;
const LOG_EVERY: Duration = Duration::from_secs(10);

pub(crate) struct Progress {
    bar_allowed: bool,
    run: Option<Run>,
}

struct Run {
    bar: Option<ProgressBar>,
    first: u64,
    target: u64,
    started: Instant,
    last_line: Instant,
    logs: u64,
}

impl Progress {
    pub fn new(bar_allowed: bool) -> Self {
        Self {
            bar_allowed: bar_allowed && std::io::stderr().is_terminal(),
            run: None,
        }
    }

    /// A scan of `first..=target` begins.
    pub fn begin(&mut self, first: u64, target: u64) {
        let blocks = target.saturating_sub(first) + 1;
        if blocks < BACKFILL_BLOCKS {
            self.run = None;
            return;
        }
        tracing::info!(target: TARGET, first, target, blocks, "backfill started");
        let bar = self.bar_allowed.then(|| {
            let bar = ProgressBar::with_draw_target(Some(blocks), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("backfill {bar:40} {pos}/{len} blocks  {per_sec}  eta {eta}  {msg}")
            {
                bar.set_style(style);
            }
            bar
        });
        let now = Instant::now();
        self.run = Some(Run {
            bar,
            first,
            target,
            started: now,
            last_line: now,
            logs: 0,
        });
    }

    /// Blocks up to `done` are scanned; `logs` more logs were read.
    pub fn advance(&mut self, done: u64, logs: u64) {
        let Some(run) = &mut self.run else { return };
        run.logs += logs;
        let scanned = done.saturating_sub(run.first) + 1;
        if let Some(bar) = &run.bar {
            bar.set_position(scanned);
            bar.set_message(format!("{} logs", run.logs));
            return;
        }
        if run.last_line.elapsed() >= LOG_EVERY {
            run.last_line = Instant::now();
            let elapsed = run.started.elapsed().as_secs_f64().max(0.001);
            let rate = scanned as f64 / elapsed;
            let remaining = run.target.saturating_sub(done);
            let eta_secs = (remaining as f64 / rate.max(0.001)).round() as u64;
            tracing::info!(target: TARGET, scanned, remaining, logs = run.logs, blocks_per_sec = rate.round() as u64,
                eta_secs, "backfill progress");
        }
    }

    pub fn finish(&mut self) {
        let Some(run) = self.run.take() else { return };
        if let Some(bar) = &run.bar {
            bar.finish_and_clear();
        }
        let secs = run.started.elapsed().as_secs_f64();
        let blocks = run.target.saturating_sub(run.first) + 1;
        tracing::info!(target: TARGET, blocks, logs = run.logs, secs = format!("{secs:.1}"),
            blocks_per_sec = (blocks as f64 / secs.max(0.001)).round() as u64, "backfill done");
    }

    /// The scan stopped early (error or shutdown); keep the run to resume counting.
    pub fn suspend(&mut self) {
        if let Some(bar) = self.run.as_ref().and_then(|r| r.bar.as_ref()) {
            bar.abandon();
        }
        self.run = None;
    }
}
