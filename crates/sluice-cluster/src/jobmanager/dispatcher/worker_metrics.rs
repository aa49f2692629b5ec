//! A worker's task counters as the JobManager keeps them: the latest report and the one
//! before, so the REST API can give rates as well as totals.

use std::time::Instant;

use sluice_runtime::metrics::MetricsReport;

/// The latest two metric reports of one worker.
#[derive(Debug, Default)]
pub(crate) struct WorkerMetrics {
    latest: Option<(Instant, MetricsReport)>,
    previous: Option<(Instant, MetricsReport)>,
}

/// A worker's counters as the API reads them.
#[derive(Debug, Clone, Default)]
pub struct MetricsReading {
    /// The latest report, if one came.
    pub latest: Option<MetricsReport>,
    /// The report before it and the seconds between the two, for rates.
    pub previous: Option<(f64, MetricsReport)>,
}

impl WorkerMetrics {
    /// A new report came.
    pub(crate) fn update(&mut self, report: MetricsReport) {
        self.previous = self.latest.take();
        self.latest = Some((Instant::now(), report));
    }

    /// The counters, copied out of the dispatcher's lock.
    pub(crate) fn reading(&self) -> MetricsReading {
        let previous = match (&self.latest, &self.previous) {
            (Some((now, _)), Some((then, report))) => {
                Some((now.duration_since(*then).as_secs_f64(), report.clone()))
            }
            _ => None,
        };
        MetricsReading {
            latest: self.latest.as_ref().map(|(_, report)| report.clone()),
            previous,
        }
    }
}
