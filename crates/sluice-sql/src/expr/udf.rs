//! User-defined scalar functions written in Rust: the [`ScalarFunction`] trait, evaluated a
//! batch of rows at a time, and the session's [`Functions`], where functions are registered by
//! name from Rust or created by `CREATE FUNCTION name AS 'identifier'` from an implementation
//! known under that identifier (the Nexmark benchmark's `CountChar` ships with Sluice).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, Int64Array};

use crate::error::{SqlError, SqlResult};
use crate::types::SqlType;

/// A scalar function callable from SQL.
pub trait ScalarFunction: Send + Sync + 'static {
    /// The type of the result for arguments of `args`, or an error saying what it accepts.
    fn result_type(&self, args: &[SqlType]) -> SqlResult<SqlType>;

    /// Whether the result can be NULL (by default: when an argument can be).
    fn nullable(&self, args_nullable: &[bool]) -> bool {
        args_nullable.iter().any(|n| *n)
    }

    /// The results for `rows` rows of argument columns (of the types `result_type` accepted),
    /// as a column of the result type.
    fn eval(&self, args: &[ArrayRef], rows: usize) -> SqlResult<ArrayRef>;
}

/// A function bound into an expression: its name (for messages) and implementation.
#[derive(Clone)]
pub struct Udf {
    /// The name it was called by.
    pub name: String,
    /// What it computes.
    pub function: Arc<dyn ScalarFunction>,
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.by_name.keys()).finish()
    }
}

impl fmt::Debug for Udf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Udf({})", self.name)
    }
}

/// A session's user-defined functions, by name (any case, as Flink resolves them), and the
/// implementations `CREATE FUNCTION` can name.
#[derive(Clone)]
pub struct Functions {
    by_name: BTreeMap<String, Arc<dyn ScalarFunction>>,
    implementations: BTreeMap<String, Arc<dyn ScalarFunction>>,
}

/// The identifier of the Nexmark benchmark's `count_char` function.
pub const COUNT_CHAR: &str = "com.github.nexmark.flink.udf.CountChar";

impl Default for Functions {
    /// No functions; the implementations shipped with Sluice.
    fn default() -> Self {
        let mut implementations: BTreeMap<String, Arc<dyn ScalarFunction>> = BTreeMap::new();
        implementations.insert(COUNT_CHAR.to_string(), Arc::new(CountChar));
        Functions {
            by_name: BTreeMap::new(),
            implementations,
        }
    }
}

impl Functions {
    /// Makes `function` callable as `name`.
    pub fn register(&mut self, name: &str, function: Arc<dyn ScalarFunction>) {
        self.by_name.insert(name.to_ascii_lowercase(), function);
    }

    /// Makes `function` available to `CREATE FUNCTION .. AS 'identifier'`.
    pub fn add_implementation(&mut self, identifier: &str, function: Arc<dyn ScalarFunction>) {
        self.implementations
            .insert(identifier.to_string(), function);
    }

    /// `CREATE [TEMPORARY] FUNCTION [IF NOT EXISTS] name AS 'identifier'`.
    pub fn create(&mut self, name: &str, identifier: &str, if_not_exists: bool) -> SqlResult<()> {
        if self.by_name.contains_key(&name.to_ascii_lowercase()) {
            if if_not_exists {
                return Ok(());
            }
            return Err(SqlError::new(format!("Function '{name}' already exists")));
        }
        let function = self.implementations.get(identifier).ok_or_else(|| {
            SqlError::new(format!(
                "no function implementation '{identifier}' (known: {}); a Rust program registers its own with SqlSession::add_function_implementation",
                self.implementations.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        self.by_name
            .insert(name.to_ascii_lowercase(), Arc::clone(function));
        Ok(())
    }

    /// `DROP [TEMPORARY] FUNCTION [IF EXISTS] name`.
    pub fn drop(&mut self, name: &str, if_exists: bool) -> SqlResult<()> {
        match self.by_name.remove(&name.to_ascii_lowercase()) {
            Some(_) => Ok(()),
            None if if_exists => Ok(()),
            None => Err(SqlError::new(format!("Function '{name}' does not exist"))),
        }
    }

    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<Udf> {
        self.by_name
            .get(&name.to_ascii_lowercase())
            .map(|function| Udf {
                name: name.to_string(),
                function: Arc::clone(function),
            })
    }

    /// The names of the registered functions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

/// The Nexmark benchmark's `count_char(s, c)`: how many bytes of `s` equal the first byte of
/// `c` (0 when `s` is NULL).
#[derive(Debug, Clone, Copy)]
pub struct CountChar;

impl ScalarFunction for CountChar {
    fn result_type(&self, args: &[SqlType]) -> SqlResult<SqlType> {
        match args {
            [a, b] if a.is_string() && b.is_string() => Ok(SqlType::BigInt),
            _ => Err(SqlError::new("count_char takes (STRING, STRING)")),
        }
    }

    fn nullable(&self, _args_nullable: &[bool]) -> bool {
        false
    }

    fn eval(&self, args: &[ArrayRef], rows: usize) -> SqlResult<ArrayRef> {
        let (text, character) = (args[0].as_string::<i32>(), args[1].as_string::<i32>());
        let counts: Int64Array = (0..rows)
            .map(|row| {
                if text.is_null(row) {
                    return Ok(0);
                }
                let wanted = if character.is_null(row) {
                    None
                } else {
                    character.value(row).bytes().next()
                };
                let wanted = wanted.ok_or_else(|| {
                    SqlError::new("count_char: the character argument is NULL or empty")
                })?;
                Ok(text.value(row).bytes().filter(|b| *b == wanted).count() as i64)
            })
            .collect::<SqlResult<Vec<i64>>>()?
            .into();
        Ok(Arc::new(counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::StringArray;

    #[test]
    fn create_function_names_a_known_implementation() {
        let mut functions = Functions::default();
        functions.create("count_char", COUNT_CHAR, false).unwrap();
        assert!(functions.get("COUNT_CHAR").is_some());
        assert!(functions.create("count_char", COUNT_CHAR, false).is_err());
        functions.create("count_char", COUNT_CHAR, true).unwrap();
        let err = functions
            .create("f", "com.example.Nope", false)
            .unwrap_err();
        assert!(err.to_string().contains(COUNT_CHAR), "{err}");
        functions.drop("count_char", false).unwrap();
        assert!(functions.get("count_char").is_none());
        assert!(functions.drop("count_char", false).is_err());
    }

    #[test]
    fn count_char_counts_bytes() {
        let text: ArrayRef = Arc::new(StringArray::from(vec![Some("abcabc"), None, Some("")]));
        let character: ArrayRef = Arc::new(StringArray::from(vec!["c", "c", "c"]));
        let counts = CountChar.eval(&[text, character], 3).unwrap();
        let counts = counts.as_primitive::<arrow_array::types::Int64Type>();
        assert_eq!(counts.values(), &[2, 0, 0]);
    }
}
