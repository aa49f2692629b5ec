//! The configuration as the REST API shows it (`/jobmanager/config`): every effective setting
//! by its Flink key, secrets left out.

use super::ClusterConfig;

impl ClusterConfig {
    /// The effective settings as `(key, value)`, sorted by key; the cluster secret, the REST
    /// token and key files are never shown.
    pub fn shown_entries(&self) -> Vec<(String, String)> {
        let ms = |d: std::time::Duration| format!("{} ms", d.as_millis());
        let mut entries: Vec<(String, String)> = vec![
            (
                "jobmanager.rpc.address".into(),
                self.jobmanager_address.clone(),
            ),
            (
                "jobmanager.rpc.port".into(),
                self.jobmanager_port.to_string(),
            ),
            ("rest.port".into(), self.rest_port.to_string()),
            (
                "taskmanager.numberOfTaskSlots".into(),
                self.task_slots.to_string(),
            ),
            (
                "parallelism.default".into(),
                self.default_parallelism.to_string(),
            ),
            ("heartbeat.interval".into(), ms(self.heartbeat_interval)),
            ("heartbeat.timeout".into(), ms(self.heartbeat_timeout)),
            ("slot.request.timeout".into(), ms(self.slot_request_timeout)),
            (
                "jobstore.max-capacity".into(),
                self.job_history.max_capacity.to_string(),
            ),
            (
                "jobstore.expiration-time".into(),
                ms(self.job_history.expiration),
            ),
            (
                "security.ssl.internal.enabled".into(),
                self.internal_tls.to_string(),
            ),
            (
                "taskmanager.data.port".into(),
                self.taskmanager_data_port.to_string(),
            ),
        ];
        let optional = [
            ("rest.address", &self.rest_address),
            ("rest.bind-address", &self.rest_bind_address),
            ("jobmanager.bind-host", &self.jobmanager_bind_host),
            ("taskmanager.host", &self.taskmanager_host),
            ("state.savepoints.dir", &self.savepoint_dir),
            ("blob.storage.directory", &self.blob_dir),
            ("high-availability.storageDir", &self.ha_storage_dir),
        ];
        if self.prometheus {
            let (first, last) = (self.prometheus_ports.start(), self.prometheus_ports.end());
            let ports = if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            };
            entries.push((
                "metrics.reporter.prom.factory.class".into(),
                crate::prometheus::FACTORY_CLASS.into(),
            ));
            entries.push(("metrics.reporter.prom.port".into(), ports));
        }
        for (key, value) in optional {
            if let Some(value) = value {
                entries.push((key.into(), value.clone()));
            }
        }
        entries.extend(
            self.job_options
                .iter()
                .map(|(key, value)| (key.clone(), value.clone())),
        );
        entries.sort();
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_shown_by_key_and_secrets_are_not() {
        let config = ClusterConfig {
            cluster_secret: Some("s3cret".into()),
            rest_token: Some("t0ken".into()),
            savepoint_dir: Some("/savepoints".into()),
            ..ClusterConfig::default()
        };
        let entries = config.shown_entries();
        assert!(entries.contains(&("rest.port".into(), "8081".into())));
        assert!(entries.contains(&("state.savepoints.dir".into(), "/savepoints".into())));
        assert!(entries.windows(2).all(|pair| pair[0] <= pair[1]));
        let text = format!("{entries:?}");
        assert!(
            !text.contains("s3cret") && !text.contains("t0ken"),
            "{text}"
        );
    }
}
