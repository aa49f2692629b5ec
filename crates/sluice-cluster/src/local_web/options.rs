//! The settings of a local job's REST server, with Flink's keys: `rest.port` (or
//! `rest.bind-port`, which may be a range), `rest.bind-address`, `security.rest.token` and
//! `state.savepoints.dir`.

use std::net::SocketAddr;
use std::ops::RangeInclusive;

use crate::jobmanager::DEFAULT_BIND_HOST;

/// How a local job serves its REST API: not at all until a port is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalWebOptions {
    /// The ports to listen on (the first free one); `None`: no server.
    pub ports: Option<RangeInclusive<u16>>,
    /// The address to listen on (loopback unless set).
    pub bind_address: Option<String>,
    /// With a token, every API request must carry it.
    pub token: Option<String>,
    /// The only directory savepoints requested over REST may go to.
    pub savepoint_dir: Option<String>,
}

impl LocalWebOptions {
    /// Whether `key` is one of these settings.
    pub fn is_key(key: &str) -> bool {
        matches!(
            key,
            "rest.port"
                | "rest.bind-port"
                | "rest.bind-address"
                | "security.rest.token"
                | "state.savepoints.dir"
        )
    }

    /// Applies one setting; an error says what is wrong with it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let text = value.trim().trim_matches(['\'', '"']);
        let nonempty = |what: &str| {
            (!text.is_empty())
                .then(|| text.to_string())
                .ok_or_else(|| format!("{key}: '{value}' is not {what}"))
        };
        match key {
            "rest.port" | "rest.bind-port" => {
                self.ports =
                    Some(crate::port_range::parse(text).map_err(|e| format!("{key}: {e}"))?)
            }
            "rest.bind-address" => self.bind_address = Some(nonempty("a host name")?),
            "security.rest.token" => self.token = Some(nonempty("a token")?),
            "state.savepoints.dir" => self.savepoint_dir = Some(nonempty("a directory")?),
            _ => return Err(format!("unknown REST option '{key}'")),
        }
        Ok(())
    }

    /// The host the server listens on.
    pub(super) fn bind_host(&self) -> &str {
        self.bind_address.as_deref().unwrap_or(DEFAULT_BIND_HOST)
    }

    /// The warning shown when the API listens on `address` beyond loopback without a token.
    pub(super) fn exposure_warning(&self, address: SocketAddr) -> Option<String> {
        (!address.ip().is_loopback() && self.token.is_none()).then(|| {
            format!(
                "THE REST API ON {address} IS OPEN: it listens beyond loopback without a token, \
                 so anyone who reaches it can cancel this process's jobs; set \
                 security.rest.token, or rest.bind-address: localhost"
            )
        })
    }

    /// The settings `/jobmanager/config` shows (no token).
    pub(super) fn shown(&self, address: SocketAddr) -> Vec<(String, String)> {
        let mut shown = vec![
            ("execution.target".to_string(), "local".to_string()),
            ("rest.port".to_string(), address.port().to_string()),
            (
                "rest.bind-address".to_string(),
                self.bind_host().to_string(),
            ),
        ];
        if let Some(dir) = &self.savepoint_dir {
            shown.push(("state.savepoints.dir".to_string(), dir.clone()));
        }
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flinks_keys_set_the_server_up() {
        let mut options = LocalWebOptions::default();
        assert_eq!(options.ports, None, "no port, no server");
        options.set("rest.port", "8081").unwrap();
        assert_eq!(options.ports, Some(8081..=8081));
        options.set("rest.bind-port", "'8090-8099'").unwrap();
        assert_eq!(options.ports, Some(8090..=8099));
        options.set("security.rest.token", "s3cret").unwrap();
        options.set("state.savepoints.dir", "/tmp/sp").unwrap();
        assert_eq!(options.bind_host(), "127.0.0.1");
        let shown = options.shown("127.0.0.1:8090".parse().unwrap());
        assert!(shown.contains(&("rest.port".into(), "8090".into())));
        assert!(!shown.iter().any(|(_, value)| value == "s3cret"));
        assert!(
            options
                .set("rest.port", "http")
                .unwrap_err()
                .contains("rest.port")
        );
        assert!(options.set("rest.bind-address", " ").is_err());
        assert!(
            options
                .set("rest.flavour", "x")
                .unwrap_err()
                .contains("unknown")
        );
        assert!(LocalWebOptions::is_key("rest.port") && !LocalWebOptions::is_key("rest.x"));
    }

    #[test]
    fn an_api_beyond_loopback_without_a_token_is_called_open() {
        let mut options = LocalWebOptions::default();
        let wide: SocketAddr = "0.0.0.0:8081".parse().unwrap();
        assert!(options.exposure_warning(wide).unwrap().contains("IS OPEN"));
        assert!(
            options
                .exposure_warning("127.0.0.1:8081".parse().unwrap())
                .is_none()
        );
        options.token = Some("t".into());
        assert!(options.exposure_warning(wide).is_none());
    }
}
