//! Prometheus's text exposition format (version 0.0.4): samples grouped by metric name, each
//! family announced as a gauge as Flink's reporter announces its metrics.

use std::fmt::Write as _;

pub use sluice_runtime::metrics::MetricSample as Sample;

/// A label value with `\`, `"` and new lines escaped.
fn escaped(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A metric name of Prometheus's alphabet (`[a-zA-Z_:][a-zA-Z0-9_:]*`): others become `_`.
pub fn metric_name(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            let allowed = c.is_ascii_alphabetic() || c == '_' || c == ':';
            if allowed || (i > 0 && c.is_ascii_digit()) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The value as the format writes it (`NaN`, `+Inf`, `-Inf` for the special ones).
fn value_text(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{value}")
    }
}

/// `samples` in the text format: one `# TYPE` line per metric, then its samples.
pub fn render(samples: &[Sample]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for sample in samples {
        if !names.contains(&sample.name.as_str()) {
            names.push(&sample.name);
        }
    }
    let mut text = String::new();
    for name in names {
        let name_text = metric_name(name);
        let _ = writeln!(text, "# HELP {name_text} {name_text}");
        let _ = writeln!(text, "# TYPE {name_text} gauge");
        for sample in samples.iter().filter(|s| s.name == name) {
            text.push_str(&name_text);
            if !sample.labels.is_empty() {
                let labels: Vec<String> = sample
                    .labels
                    .iter()
                    .map(|(key, value)| format!("{key}=\"{}\"", escaped(value)))
                    .collect();
                let _ = write!(text, "{{{}}}", labels.join(","));
            }
            let _ = writeln!(text, " {}", value_text(sample.value));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_grouped_and_label_values_escaped() {
        let samples = [
            Sample::new("flink_a", &[("job_name", "say \"hi\"\\")], 1.0),
            Sample::new("flink_b", &[], f64::NAN),
            Sample::new("flink_a", &[("job_name", "x")], 2.5),
        ];
        assert_eq!(
            render(&samples),
            "# HELP flink_a flink_a\n# TYPE flink_a gauge\n\
             flink_a{job_name=\"say \\\"hi\\\"\\\\\"} 1\nflink_a{job_name=\"x\"} 2.5\n\
             # HELP flink_b flink_b\n# TYPE flink_b gauge\nflink_b NaN\n"
        );
        assert_eq!(metric_name("flink_job.task-1"), "flink_job_task_1");
        assert_eq!(metric_name("9lives"), "_lives");
    }
}
