//! Validates JSON answers against the response schemas of an OpenAPI 3.0 document (Flink's
//! REST API description). It knows the schema keywords Flink's document uses and fails on any
//! other, so a schema it cannot check is never passed silently. `discriminator` is read as
//! documentation: `oneOf` itself is checked.

use std::path::Path;

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// An OpenAPI document.
pub struct OpenApi {
    doc: Value,
    /// Parts of schemas not checked, as (schema name, property; `""` for the whole schema),
    /// each with the reason.
    exempt: Vec<(String, String, String)>,
}

impl OpenApi {
    /// Loads the YAML document at `path`.
    pub fn load(path: &Path) -> OpenApi {
        OpenApi::parse(&std::fs::read_to_string(path).unwrap())
    }

    /// The YAML document `text`.
    pub fn parse(text: &str) -> OpenApi {
        let docs = YamlLoader::load_from_str(text).unwrap();
        OpenApi {
            doc: to_json(&docs[0]),
            exempt: Vec::new(),
        }
    }

    /// The document's paths (templates such as `/jobs/{jobid}`), each with its methods.
    pub fn paths(&self) -> Vec<(String, Vec<String>)> {
        self.doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(path, item)| {
                let methods = item.as_object().into_iter().flatten();
                (path.clone(), methods.map(|(m, _)| m.clone()).collect())
            })
            .collect()
    }

    /// Leaves `property` of the schema `schema` (all of it when `""`) unchecked, for `why`.
    pub fn exempt(mut self, schema: &str, property: &str, why: &str) -> OpenApi {
        self.exempt
            .push((schema.to_string(), property.to_string(), why.to_string()));
        self
    }

    fn is_exempt(&self, schema: &str, property: &str) -> bool {
        self.exempt
            .iter()
            .any(|(s, p, _)| s == schema && p == property)
    }

    /// Whether the document lists `path` (a template such as `/jobs/{jobid}`).
    pub fn has_path(&self, path: &str) -> bool {
        self.doc["paths"].get(path).is_some()
    }

    /// Checks `value`, the answer to `GET path` with `status`, against the schema the document
    /// gives that answer: `Err` with where and why it does not fit.
    pub fn check_get(&self, path: &str, status: u16, value: &Value) -> Result<(), String> {
        let responses = &self.doc["paths"][path]["get"]["responses"];
        let mut response = &responses[status.to_string()];
        if response.get("$ref").is_some() {
            response = self.resolve(&response["$ref"])?.1;
        }
        let Some(schema) = response["content"]["application/json"].get("schema") else {
            return Err(format!(
                "the document gives no JSON schema for GET {path} answering {status}"
            ));
        };
        self.check(schema, value, "", "")
    }

    /// Checks `value` against `schema`, a part of the named schema `name`; `at` is where
    /// `value` is (a JSON pointer).
    fn check(&self, schema: &Value, value: &Value, at: &str, name: &str) -> Result<(), String> {
        let Some(keywords) = schema.as_object() else {
            return Err(format!("{at}: the schema {schema} is not an object"));
        };
        if keywords.get("nullable") == Some(&Value::Bool(true)) && value.is_null() {
            return Ok(());
        }
        for (keyword, argument) in keywords {
            match keyword.as_str() {
                "$ref" => {
                    let (target, schema) = self.resolve(argument)?;
                    if !self.is_exempt(target, "") {
                        self.check(schema, value, at, target)?;
                    }
                }
                "type" => check_type(argument, value, at)?,
                "format" => check_format(argument, value, at)?,
                "enum" => {
                    let allowed = argument.as_array().cloned().unwrap_or_default();
                    if !allowed.contains(value) {
                        return Err(format!("{at}: {value} is not one of {argument}"));
                    }
                }
                "pattern" => {
                    let pattern = regex::Regex::new(argument.as_str().unwrap_or_default())
                        .map_err(|e| format!("{at}: bad pattern: {e}"))?;
                    if let Some(text) = value.as_str()
                        && !pattern.is_match(text)
                    {
                        return Err(format!("{at}: '{text}' does not match {argument}"));
                    }
                }
                "required" => {
                    if let Some(object) = value.as_object() {
                        for required in argument.as_array().into_iter().flatten() {
                            let required = required.as_str().unwrap_or_default();
                            if !object.contains_key(required) && !self.is_exempt(name, required) {
                                return Err(format!("{at}: the required '{required}' is missing"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let (Some(object), Some(properties)) =
                        (value.as_object(), argument.as_object())
                    {
                        for (key, property) in properties {
                            if let Some(field) = object.get(key)
                                && !self.is_exempt(name, key)
                            {
                                self.check(property, field, &format!("{at}/{key}"), name)?;
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(object) = value.as_object() {
                        let declared = keywords.get("properties").and_then(Value::as_object);
                        for (key, field) in object {
                            if declared.is_some_and(|d| d.contains_key(key)) {
                                continue;
                            }
                            match argument {
                                Value::Bool(false) => {
                                    return Err(format!("{at}: '{key}' is not allowed"));
                                }
                                Value::Bool(true) => {}
                                schema => {
                                    self.check(schema, field, &format!("{at}/{key}"), name)?
                                }
                            }
                        }
                    }
                }
                "items" => {
                    if let Some(items) = value.as_array() {
                        for (i, item) in items.iter().enumerate() {
                            self.check(argument, item, &format!("{at}/{i}"), name)?;
                        }
                    }
                }
                "allOf" => {
                    for part in argument.as_array().into_iter().flatten() {
                        self.check(part, value, at, name)?;
                    }
                }
                "oneOf" => {
                    let parts = argument.as_array().cloned().unwrap_or_default();
                    let fitting = parts
                        .iter()
                        .filter(|part| self.check(part, value, at, name).is_ok())
                        .count();
                    if fitting != 1 {
                        return Err(format!(
                            "{at}: {value} fits {fitting} of the oneOf schemas, not one"
                        ));
                    }
                }
                "description" | "title" | "discriminator" | "example" | "nullable" => {}
                other => return Err(format!("{at}: the schema keyword '{other}' is unknown")),
            }
        }
        Ok(())
    }

    /// The schema `reference` names: its name and itself.
    fn resolve<'a>(&'a self, reference: &'a Value) -> Result<(&'a str, &'a Value), String> {
        let pointer = reference
            .as_str()
            .and_then(|r| r.strip_prefix('#'))
            .ok_or_else(|| format!("unsupported reference {reference}"))?;
        let schema = self
            .doc
            .pointer(pointer)
            .ok_or_else(|| format!("the reference {reference} leads nowhere"))?;
        Ok((pointer.rsplit('/').next().unwrap_or_default(), schema))
    }
}

fn check_type(expected: &Value, value: &Value, at: &str) -> Result<(), String> {
    let fits = match expected.as_str().unwrap_or_default() {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        other => return Err(format!("{at}: the type '{other}' is unknown")),
    };
    if fits {
        Ok(())
    } else {
        Err(format!("{at}: {value} is not of type {expected}"))
    }
}

fn check_format(format: &Value, value: &Value, at: &str) -> Result<(), String> {
    let range = match format.as_str().unwrap_or_default() {
        "int32" => i64::from(i32::MIN)..=i64::from(i32::MAX),
        "int64" => i64::MIN..=i64::MAX,
        // Formats of strings (and doubles) constrain nothing a JSON value can get wrong here.
        "binary" | "byte" | "double" | "float" | "date-time" => return Ok(()),
        other => return Err(format!("{at}: the format '{other}' is unknown")),
    };
    match value.as_i64() {
        Some(number) if range.contains(&number) => Ok(()),
        _ if !value.is_number() => Ok(()),
        _ => Err(format!("{at}: {value} is out of the range of {format}")),
    }
}

/// A YAML document as JSON.
fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Hash(hash) => {
            let mut object = Map::new();
            for (key, value) in hash {
                let key = match key {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    other => format!("{other:?}"),
                };
                object.insert(key, to_json(value));
            }
            Value::Object(object)
        }
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(r) => r.parse::<f64>().map_or(Value::Null, Value::from),
        Yaml::Boolean(b) => Value::Bool(*b),
        _ => Value::Null,
    }
}

/// Flink's REST API description (kept in `tests/rest/`), but for the places where Flink 2.3's
/// own answers do not fit it either and clients follow the answers (and where a TaskManager's
/// id is Sluice's).
pub fn flink_api() -> OpenApi {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rest/flink_rest_v1_dispatcher.yml");
    OpenApi::load(&path)
        .exempt(
            "ResourceID",
            "",
            "described as 32 hex digits; Flink's TaskManager ids are `host:port-hex`, Sluice's \
             `host-hex` (a local run's one TaskManager is `local`)",
        )
        .exempt(
            "CheckpointStatistics",
            "clazz",
            "described as required; Flink names that field `className` in its answers",
        )
        .exempt(
            "SubtaskCheckpointStatistics",
            "clazz",
            "described as required; Flink tells a subtask's statistics apart by `status` \
             (`completed`)",
        )
        .exempt(
            "CheckpointConfigInfo",
            "mode",
            "described in upper case; Flink answers `exactly_once` / `at_least_once`",
        )
        .exempt(
            "MetricCollectionResponseBody",
            "",
            "described as an object; Flink answers a bare array of {id, value}, which its \
             dashboard reads",
        )
        .exempt(
            "AggregatedMetricsResponseBody",
            "",
            "described as an object; Flink answers a bare array of {id, min, max, avg, sum, \
             skew}",
        )
        .exempt(
            "AsynchronousOperationResult",
            "operation",
            "a oneOf of two object schemas that every answer fits both of (Flink's own too)",
        )
        .exempt(
            "JobDetailsInfo",
            "plan",
            "described as a string; Flink serves the plan as a JSON object, which Flink's REST \
             clients read",
        )
}
