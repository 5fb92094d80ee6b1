//! Reading a server's `/metrics` (the Prometheus text format) back in a test.

/// The sum of the samples of `name` whose labels include all of `labels` (0 when there is none).
pub fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let wanted = labels.iter().all(|(key, val)| {
                label_text
                    .split(',')
                    .any(|l| l == format!("{key}=\"{val}\""))
            });
            (metric == name && wanted).then(|| value.parse::<f64>().ok())?
        })
        .fold(0.0, |sum, value| sum + value)
}
