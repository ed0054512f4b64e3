//! The engine-neutral executor the table files use: parameters as [`Value`]s, rows with typed
//! getters, statements written once with `?1`-style placeholders (each engine translates them).
//!
//! Generated ids come back through `INSERT ... RETURNING id` (both engines have it).
//! Its shape follows rusqlite's (`execute`, `query_row`, `prepare_cached` + `query_map`,
//! `optional()`) so the SQL code reads as before; what differs is that rows are read into
//! owned values first, which lets the same closures run on SQLite and on PostgreSQL.

use super::{DbError, DbResult};

/// One parameter or column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Any integer (booleans are stored as 0/1 in both engines).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// What can be bound as a parameter.
pub trait ToValue {
    /// This as a parameter value.
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_to_value!(i64, i32, i16, u32, u16, u8, u64, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(*self as i64)
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// A statement's parameters.
pub trait Params {
    /// The parameters in order (`?1` first).
    fn into_values(self) -> Vec<Value>;
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl Params for () {
    fn into_values(self) -> Vec<Value> {
        Vec::new()
    }
}

impl Params for &[Value] {
    fn into_values(self) -> Vec<Value> {
        self.to_vec()
    }
}

impl Params for Vec<Value> {
    fn into_values(self) -> Vec<Value> {
        self
    }
}

/// Parameters of mixed types: `params![id, name, Some(3)]`.
macro_rules! params {
    () => { () };
    ($($p:expr),+ $(,)?) => {
        [$($crate::db::sql::ToValue::to_value(&$p)),+]
    };
}
pub(crate) use params;

/// What a column can be read as.
pub trait FromValue: Sized {
    /// Converts a column value; the error names what was found.
    fn from_value(v: &Value) -> Result<Self, String>;
}

fn found(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(i) => format!("integer {i}"),
        Value::Real(f) => format!("real {f}"),
        Value::Text(_) => "text".into(),
        Value::Blob(_) => "blob".into(),
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self, String> {
                match v {
                    Value::Int(i) => <$t>::try_from(*i).map_err(|_| format!("{i} out of range")),
                    other => Err(format!("expected an integer, found {}", found(other))),
                }
            }
        }
    )*};
}
int_from_value!(i64, i32, u32, u64, usize);

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Int(i) => Ok(*i != 0),
            other => Err(format!("expected a boolean, found {}", found(other))),
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Real(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => Err(format!("expected a number, found {}", found(other))),
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(format!("expected text, found {}", found(other))),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(format!("expected bytes, found {}", found(other))),
        }
    }
}

impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self, String> {
        Ok(v.clone())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// A column position (kept as a trait so `r.get::<_, T>(0)` reads as with rusqlite).
pub trait RowIndex {
    /// The zero-based position.
    fn index(self) -> usize;
}

impl RowIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// One result row.
pub struct Row<'a> {
    values: &'a [Value],
}

impl<'a> Row<'a> {
    /// A row of these column values (for the engines).
    pub(crate) fn new(values: &'a [Value]) -> Row<'a> {
        Row { values }
    }

    /// Every column's value, in order.
    pub(crate) fn values(&self) -> &[Value] {
        self.values
    }

    /// Column `i` as a `T`.
    pub fn get<I: RowIndex, T: FromValue>(&self, i: I) -> DbResult<T> {
        let i = i.index();
        let v = self
            .values
            .get(i)
            .ok_or_else(|| DbError::Corrupt(format!("no column {i}")))?;
        T::from_value(v).map_err(|e| DbError::Corrupt(format!("column {i}: {e}")))
    }
}

/// What one engine implements: statements on one locked connection (or its open transaction).
pub trait Executor {
    /// Runs a statement; returns the number of rows changed.
    fn execute(&self, sql: &str, params: &[Value]) -> DbResult<usize>;
    /// Runs a query, calling `each` for every row in order.
    fn query(&self, sql: &str, params: &[Value], each: &mut dyn FnMut(&Row<'_>) -> DbResult<()>) -> DbResult<()>;
    /// Runs statements without parameters (transaction control, pragmas).
    fn batch(&self, sql: &str) -> DbResult<()>;
}

/// A locked connection: what every storage call and transaction closure works with.
pub struct Conn<'a> {
    ex: Box<dyn Executor + 'a>,
}

/// A connection inside [`super::Db::write`]'s transaction.
pub type Tx<'a> = Conn<'a>;

impl<'a> Conn<'a> {
    /// Wraps an engine's executor.
    pub(crate) fn new(ex: Box<dyn Executor + 'a>) -> Conn<'a> {
        Conn { ex }
    }

    /// Runs a statement; returns the number of rows changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> DbResult<usize> {
        self.ex.execute(sql, &params.into_values())
    }

    /// Runs statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        self.ex.batch(sql)
    }

    /// The first row of a query through `f`; [`DbError::NoRows`] when there is none.
    pub fn query_row<P: Params, T>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<T> {
        let mut f = Some(f);
        let mut out = None;
        self.ex.query(sql, &params.into_values(), &mut |row| {
            if let Some(f) = f.take() {
                out = Some(f(row)?);
            }
            Ok(())
        })?;
        out.ok_or(DbError::NoRows)
    }

    /// Every row of a query through `f`.
    pub fn query_all<P: Params, T>(
        &self,
        sql: &str,
        params: P,
        mut f: impl FnMut(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        let mut out = Vec::new();
        self.ex.query(sql, &params.into_values(), &mut |row| {
            out.push(f(row)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Every row of a query through `f`, streamed (nothing is collected).
    pub(crate) fn for_each<P: Params>(
        &self,
        sql: &str,
        params: P,
        mut f: impl FnMut(&Row<'_>) -> DbResult<()>,
    ) -> DbResult<()> {
        self.ex.query(sql, &params.into_values(), &mut f)
    }

    /// A statement to run (possibly many times); the engines cache prepared statements by text.
    pub fn prepare_cached<'s>(&'s self, sql: &str) -> DbResult<Stmt<'s, 'a>> {
        Ok(Stmt {
            conn: self,
            sql: sql.to_string(),
        })
    }

    /// Same as [`Conn::prepare_cached`].
    pub fn prepare<'s>(&'s self, sql: &str) -> DbResult<Stmt<'s, 'a>> {
        self.prepare_cached(sql)
    }
}

/// A statement bound to a connection.
pub struct Stmt<'s, 'a> {
    conn: &'s Conn<'a>,
    sql: String,
}

impl Stmt<'_, '_> {
    /// Runs it; returns the number of rows changed.
    pub fn execute<P: Params>(&mut self, params: P) -> DbResult<usize> {
        self.conn.execute(&self.sql, params)
    }

    /// Its rows through `f`, read in full before returning.
    pub fn query_map<P: Params, T>(
        &mut self,
        params: P,
        mut f: impl FnMut(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<std::vec::IntoIter<DbResult<T>>> {
        let mut out = Vec::new();
        self.conn.ex.query(&self.sql, &params.into_values(), &mut |row| {
            out.push(f(row));
            Ok(())
        })?;
        Ok(out.into_iter())
    }

    /// Its first row through `f`.
    pub fn query_row<P: Params, T>(&mut self, params: P, f: impl FnOnce(&Row<'_>) -> DbResult<T>) -> DbResult<T> {
        self.conn.query_row(&self.sql, params, f)
    }
}

/// `optional()` on a single-row result, as with rusqlite.
pub trait OptionalExtension<T> {
    /// `Ok(None)` instead of [`DbError::NoRows`].
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> OptionalExtension<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// `?N` placeholders as PostgreSQL's `$N`, leaving quoted text and identifiers alone.
pub fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    out.push(c);
                }
                '?' => out.push('$'),
                _ => out.push(c),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_translate_outside_quotes() {
        assert_eq!(
            dollar_placeholders("SELECT '?1', \"a?\" FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1', \"a?\" FROM t WHERE a = $1 AND b = $12"
        );
    }

    #[test]
    fn values_convert_both_ways() {
        assert_eq!(Some(3i32).to_value(), Value::Int(3));
        assert_eq!(None::<&str>.to_value(), Value::Null);
        assert!(bool::from_value(&Value::Int(1)).unwrap());
        assert_eq!(Option::<i64>::from_value(&Value::Null).unwrap(), None);
        assert!(u32::from_value(&Value::Int(-1)).is_err());
        assert!(String::from_value(&Value::Int(1)).is_err());
    }
}
