//! Reads `config.yaml` as Flink does: nested maps are flattened into dotted keys, lists become
//! `;`-separated values, and every setting keeps the line it was given on.

use std::collections::BTreeMap;
use std::path::Path;

use yaml_rust2::Event;
use yaml_rust2::parser::{MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use super::{ConfigError, ConfigSource, Setting};

/// The settings of a YAML configuration file read from `path`.
pub(super) fn parse_yaml(text: &str, path: &Path) -> Result<Vec<Setting>, ConfigError> {
    let mut flattener = Flattener {
        path,
        stack: Vec::new(),
        settings: Vec::new(),
        seen: BTreeMap::new(),
    };
    let mut events = Events::default();
    Parser::new_from_str(text)
        .load(&mut events, false)
        .map_err(|e| flattener.error(e.marker().line(), format!("not valid YAML: {}", e.info())))?;
    for (event, mark) in events.0 {
        flattener.event(event, mark.line())?;
    }
    Ok(flattener.settings)
}

/// Collects the events of a YAML document with their positions.
#[derive(Default)]
struct Events(Vec<(Event, Marker)>);

impl MarkedEventReceiver for Events {
    fn on_event(&mut self, event: Event, mark: Marker) {
        self.0.push((event, mark));
    }
}

/// An open map or list while walking the document.
enum Frame {
    /// A map under the dotted key `prefix`, with the key whose value comes next.
    Map {
        prefix: String,
        key: Option<(String, usize)>,
    },
    /// A list, the value of `key` given on `line`.
    List {
        key: String,
        line: usize,
        items: Vec<String>,
    },
}

/// Walks the events of a document, turning each scalar value into a setting.
struct Flattener<'a> {
    path: &'a Path,
    stack: Vec<Frame>,
    settings: Vec<Setting>,
    /// The line each key was first set on, to refuse a second setting.
    seen: BTreeMap<String, usize>,
}

impl Flattener<'_> {
    fn event(&mut self, event: Event, line: usize) -> Result<(), ConfigError> {
        match event {
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd
            | Event::Nothing => Ok(()),
            Event::MappingStart(..) => self.open_map(line),
            Event::SequenceStart(..) => self.open_list(line),
            Event::Scalar(value, ..) => self.scalar(value, line),
            Event::SequenceEnd => self.close_list(),
            Event::MappingEnd => {
                self.stack.pop();
                Ok(())
            }
            Event::Alias(_) => Err(self.error(line, "YAML aliases are not supported".into())),
        }
    }

    /// A map opens: at the top, or as the value of the pending key of the enclosing map.
    fn open_map(&mut self, line: usize) -> Result<(), ConfigError> {
        let prefix = match self.stack.last_mut() {
            None => String::new(),
            Some(Frame::Map { prefix, key }) => match key.take() {
                Some((key, _)) => joined(prefix, &key),
                None => return Err(self.error(line, "a map cannot be a key".into())),
            },
            Some(Frame::List { key, .. }) => {
                let message = format!("'{key}': list items must be plain values");
                return Err(self.error(line, message));
            }
        };
        self.stack.push(Frame::Map { prefix, key: None });
        Ok(())
    }

    /// A list opens: only as the value of a key.
    fn open_list(&mut self, line: usize) -> Result<(), ConfigError> {
        let opened = match self.stack.last_mut() {
            Some(Frame::Map { prefix, key }) => key.take().map(|(key, line)| Frame::List {
                key: joined(prefix, &key),
                line,
                items: Vec::new(),
            }),
            _ => None,
        };
        match (opened, self.stack.last()) {
            (Some(list), _) => {
                self.stack.push(list);
                Ok(())
            }
            (None, Some(Frame::List { key, .. })) => {
                let message = format!("'{key}': list items must be plain values");
                Err(self.error(line, message))
            }
            (None, _) => Err(self.error(line, "expected `key: value` lines".into())),
        }
    }

    /// A plain value: a map's key, the value of its pending key, or a list item.
    fn scalar(&mut self, value: String, line: usize) -> Result<(), ConfigError> {
        match self.stack.last_mut() {
            Some(Frame::Map { prefix, key }) => match key.take() {
                None => {
                    *key = Some((value, line));
                    Ok(())
                }
                Some((name, key_line)) => {
                    let key = joined(prefix, &name);
                    self.emit(key, value, key_line)
                }
            },
            Some(Frame::List { items, .. }) => {
                items.push(value);
                Ok(())
            }
            None => Err(self.error(line, "expected `key: value` lines".into())),
        }
    }

    /// A list closes: its items become one `;`-separated value.
    fn close_list(&mut self) -> Result<(), ConfigError> {
        match self.stack.pop() {
            Some(Frame::List { key, line, items }) => self.emit(key, items.join(";"), line),
            _ => Ok(()),
        }
    }

    fn emit(&mut self, key: String, value: String, line: usize) -> Result<(), ConfigError> {
        if let Some(first) = self.seen.insert(key.clone(), line) {
            let message = format!("'{key}' is set twice (first on line {first})");
            return Err(self.error(line, message));
        }
        self.settings.push(Setting {
            key,
            value,
            place: self.place(line),
        });
        Ok(())
    }

    fn place(&self, line: usize) -> ConfigSource {
        ConfigSource::File {
            path: self.path.to_path_buf(),
            line,
        }
    }

    fn error(&self, line: usize, message: String) -> ConfigError {
        ConfigError::Invalid {
            place: self.place(line),
            message,
        }
    }
}

fn joined(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<(String, String, String)>, String> {
        let settings = parse_yaml(text, Path::new("config.yaml")).map_err(|e| e.to_string())?;
        Ok(settings
            .into_iter()
            .map(|s| (s.key, s.value, s.place.to_string()))
            .collect())
    }

    #[test]
    fn nested_maps_become_dotted_keys_and_lists_joined_values() {
        let text = "rest:\n  port: 8082\n  address: localhost\nenv.java.opts:\n  - -Xmx1g\n  - -Dx=y\nparallelism.default: 2\n";
        assert_eq!(
            read(text).unwrap(),
            [
                ("rest.port", "8082", "config.yaml:2"),
                ("rest.address", "localhost", "config.yaml:3"),
                ("env.java.opts", "-Xmx1g;-Dx=y", "config.yaml:4"),
                ("parallelism.default", "2", "config.yaml:7"),
            ]
            .map(|(k, v, p)| (k.to_string(), v.to_string(), p.to_string()))
        );
    }

    #[test]
    fn structures_flink_does_not_read_are_errors_with_their_line() {
        for (text, expected) in [
            (
                "a:\n  - b: 1\n",
                "config.yaml:2: 'a': list items must be plain values",
            ),
            (
                "a:\n  - [1, 2]\n",
                "config.yaml:2: 'a': list items must be plain values",
            ),
            (
                "a: &x 1\nb: *x\n",
                "config.yaml:2: YAML aliases are not supported",
            ),
            (
                "just a value\n",
                "config.yaml:1: expected `key: value` lines",
            ),
            ("- 1\n", "config.yaml:1: expected `key: value` lines"),
            ("? {a: 1}\n: 2\n", "config.yaml:1: a map cannot be a key"),
            ("a: [1\n", "not valid YAML"),
        ] {
            let error = read(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
