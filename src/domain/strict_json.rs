//! JSON request bodies read with one meaning and a bounded cost: a duplicated object key, a
//! nesting deeper than `MAX_DEPTH` or more than `MAX_VALUES` values are refused before any value
//! is built, each with the path of the place it was found.

use std::collections::HashSet;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

use super::new_post::{FieldError, quote};

/// How deeply arrays and objects may nest; the body itself is level 1. Ayrshare's deepest
/// options nest three or four levels.
pub const MAX_DEPTH: usize = 32;

/// How many JSON values (objects, arrays, strings, numbers, booleans, nulls) one body may hold.
/// This bounds the memory and the validation work of a request whatever its shape: a 1 MiB body
/// of tiny values would otherwise become half a million of them.
pub const MAX_VALUES: usize = 10_000;

/// The key under which serde_json (with `arbitrary_precision`) hands a number to a visitor, as a
/// one-entry map whose value is the number's text. A real object with this key would be read as
/// a number by `serde_json::Value`, so it is refused (a test pins this behaviour).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Reads `bytes` as JSON into `T`, after checking that every object key is unique and the body
/// is within `MAX_DEPTH` and `MAX_VALUES`. Numbers keep their digits (`arbitrary_precision`).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FieldError> {
    check(bytes)?;
    serde_json::from_slice(bytes).map_err(|e| {
        FieldError::new(
            "body",
            format!(
                "does not have the expected shape: {}",
                quote(&e.to_string())
            ),
        )
    })
}

/// The checks of `from_slice`, without building anything.
pub fn check(bytes: &[u8]) -> Result<(), FieldError> {
    let mut scan = Scan {
        path: Vec::new(),
        values: 0,
        problem: None,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let scanned = ValueSeed { scan: &mut scan }
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    match (scanned, scan.problem) {
        (_, Some(problem)) => Err(problem),
        (Ok(()), None) => Ok(()),
        (Err(e), None) => Err(FieldError::new(
            "body",
            format!("is not valid JSON: {}", quote(&e.to_string())),
        )),
    }
}

/// One step of the path to a value: an object key or an array index.
enum Step {
    Key(String),
    Index(usize),
}

/// The state of one scan: where it is, how much it has seen, and the problem that stopped it.
struct Scan {
    path: Vec<Step>,
    values: usize,
    problem: Option<FieldError>,
}

impl Scan {
    /// The path as the errors spell it: `notes.items[2].title`, or `body` at the top.
    fn field(&self) -> String {
        let mut field = String::new();
        for step in &self.path {
            match step {
                Step::Key(key) => {
                    if !field.is_empty() {
                        field.push('.');
                    }
                    field.push_str(&quote(key));
                }
                Step::Index(i) => field.push_str(&format!("[{i}]")),
            }
        }
        if field.is_empty() {
            "body".to_owned()
        } else {
            field
        }
    }

    /// Records the problem and returns the error that stops serde_json at once.
    fn stop<E: de::Error>(&mut self, field: String, message: impl Into<String>) -> E {
        self.problem = Some(FieldError::new(field, message));
        E::custom("stopped")
    }

    /// Counts one more value.
    fn count<E: de::Error>(&mut self) -> Result<(), E> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(self.stop(
                "body".to_owned(),
                format!("holds more than {MAX_VALUES} JSON values"),
            ));
        }
        Ok(())
    }

    /// Enters an array or object, refusing one nested too deeply.
    fn enter<E: de::Error>(&mut self) -> Result<(), E> {
        // `path` holds one step per enclosing container below the body.
        if self.path.len() + 1 > MAX_DEPTH {
            let field = self.field();
            return Err(self.stop(
                field,
                format!("nests arrays and objects deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }
}

struct ValueSeed<'a> {
    scan: &'a mut Scan,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scan.count()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scan.count()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scan.count()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scan.count()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scan.count()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scan.count()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.scan.count()?;
        self.scan.enter()?;
        let mut index = 0;
        loop {
            self.scan.path.push(Step::Index(index));
            let next = seq.next_element_seed(ValueSeed {
                scan: &mut *self.scan,
            })?;
            self.scan.path.pop();
            if next.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            self.scan.count()?;
            return Ok(());
        };
        if first == NUMBER_TOKEN {
            // A number hands its text over as an owned string; a caller's object with this key
            // hands over a borrowed one (or something else).
            // An error means the caller wrote something else under this key: refused below,
            // and the scan stops, so the deserializer's state no longer matters.
            let is_number = map.next_value_seed(NumberText).unwrap_or(false);
            if is_number && map.next_key::<IgnoredAny>()?.is_none() {
                return self.scan.count();
            }
            let field = self.scan.field();
            return Err(self.scan.stop(
                field,
                format!("holds the key '{NUMBER_TOKEN}', which this service reserves"),
            ));
        }
        self.scan.count()?;
        self.scan.enter()?;
        let mut seen = HashSet::new();
        let mut key = Some(first);
        while let Some(k) = key {
            if seen.contains(&k) {
                self.scan.path.push(Step::Key(k));
                let field = self.scan.field();
                return Err(self.scan.stop(
                    field,
                    "appears more than once in the same object: send each key once",
                ));
            }
            self.scan.path.push(Step::Key(k));
            map.next_value_seed(ValueSeed {
                scan: &mut *self.scan,
            })?;
            let Some(Step::Key(k)) = self.scan.path.pop() else {
                unreachable!("the step pushed above");
            };
            seen.insert(k);
            key = map.next_key::<String>()?;
        }
        Ok(())
    }
}

/// Whether the value under `NUMBER_TOKEN` is a number's text (an owned string from serde_json's
/// number reader) rather than a string the caller wrote.
struct NumberText;

impl<'de> DeserializeSeed<'de> for NumberText {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NumberText {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_string<E: de::Error>(self, _: String) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    // Anything else (a number, an array, an object...) is the caller's, and an error here.
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn refused(text: &str) -> FieldError {
        check(text.as_bytes()).unwrap_err()
    }

    fn count(text: &str) -> usize {
        let mut scan = Scan {
            path: Vec::new(),
            values: 0,
            problem: None,
        };
        let mut deserializer = serde_json::Deserializer::from_str(text);
        ValueSeed { scan: &mut scan }
            .deserialize(&mut deserializer)
            .unwrap();
        scan.values
    }

    #[test]
    fn numbers_are_counted_as_one_value_each() {
        // Pins serde_json's way of handing over numbers (see NUMBER_TOKEN).
        assert_eq!(count("[1, -2.5e3, 18446744073709551616]"), 4);
        assert_eq!(count(r#"{"a": {"b": [true, null, "s"]}}"#), 6);
        assert_eq!(count("{}"), 1);
    }

    #[test]
    fn any_deserializer_can_be_scanned() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{BytesDeserializer, Error};
        let scan = |seed: &mut Scan, value: Result<(), Error>| {
            value.unwrap();
            seed.values
        };
        let mut state = Scan {
            path: Vec::new(),
            values: 0,
            problem: None,
        };
        let r = ValueSeed { scan: &mut state }.deserialize(1i64.into_deserializer());
        assert_eq!(scan(&mut state, r), 1);
        let r = ValueSeed { scan: &mut state }.deserialize(1u64.into_deserializer());
        assert_eq!(scan(&mut state, r), 2);
        let r = ValueSeed { scan: &mut state }.deserialize(1.5f64.into_deserializer());
        assert_eq!(scan(&mut state, r), 3);
        let bytes = ValueSeed { scan: &mut state }
            .deserialize(BytesDeserializer::<Error>::new(b"x"))
            .unwrap_err();
        assert!(
            bytes.to_string().contains("expected a JSON value"),
            "{bytes}"
        );
        let other = NumberText
            .deserialize(true.into_deserializer())
            .map_err(|e: Error| e.to_string());
        assert!(other.unwrap_err().contains("expected a number"));
        let number = NumberText.deserialize(String::from("1").into_deserializer());
        assert_eq!(number.map_err(|e: Error| e.to_string()), Ok(true));
    }

    #[test]
    fn a_duplicate_key_is_named_with_its_path() {
        let error = refused(r#"{"platforms": ["x"], "platforms": ["linkedin"]}"#);
        assert_eq!(error.field, "platforms");
        assert!(error.message.contains("more than once"), "{error:?}");
        let nested = refused(r#"{"notes": [1, {"a": 1, "b": 2, "a": 3}]}"#);
        assert_eq!(nested.field, "notes[1].a");
        // The same key spelled with an escape is the same key.
        assert_eq!(refused(r#"{"a": 1, "\u0061": 2}"#).field, "a");
    }

    #[test]
    fn the_same_key_in_different_objects_is_fine() {
        let value: Value =
            from_slice(br#"{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}], "c": 1e5}"#).unwrap();
        assert_eq!(value["c"].to_string(), "1e+5");
    }

    #[test]
    fn the_number_token_as_a_key_is_refused() {
        for text in [
            r#"{"$serde_json::private::Number": "12"}"#,
            r#"{"x": {"$serde_json::private::Number": 12}}"#,
            r#"{"$serde_json::private::Number": "1", "other": 2}"#,
            r#"{"$serde_json::private::Number": true}"#,
            r#"{"$serde_json::private::Number": null}"#,
            r#"{"$serde_json::private::Number": [1]}"#,
            r#"{"$serde_json::private::Number": {"a": "1"}}"#,
        ] {
            let error = refused(text);
            assert!(error.message.contains("reserves"), "{text}: {error:?}");
        }
    }

    #[test]
    fn depth_is_bounded_and_named() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(check(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let error = check(deep.as_bytes()).unwrap_err();
        assert!(error.field.starts_with("[0][0]"), "{error:?}");
        assert!(error.message.contains("deeper than 32"), "{error:?}");
        // Far past serde_json's own limit of 128: still our answer, not a stack overflow.
        let deeper = "[".repeat(100_000);
        assert!(refused(&deeper).message.contains("deeper"));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(40), "}".repeat(40));
        assert!(refused(&objects).field.starts_with("a.a.a"));
    }

    #[test]
    fn the_number_of_values_is_bounded() {
        let ok = format!("[{}]", vec!["0"; MAX_VALUES - 1].join(","));
        assert!(check(ok.as_bytes()).is_ok());
        let many = format!("[{}]", vec!["0"; MAX_VALUES].join(","));
        let error = check(many.as_bytes()).unwrap_err();
        assert_eq!(error.field, "body");
        assert!(error.message.contains("10000"), "{error:?}");
    }

    #[test]
    fn malformed_json_is_one_body_error() {
        for text in [
            "",
            "{",
            r#"{"a": 1} x"#,
            r#"{"a": tru}"#,
            "[1,]",
            r#""\ud800""#,
        ] {
            let error = refused(text);
            assert_eq!(error.field, "body", "{text}");
            assert!(error.message.starts_with("is not valid JSON"), "{text}");
        }
    }

    #[test]
    fn long_keys_are_shortened_in_the_path() {
        let key = "k".repeat(1000);
        let error = refused(&format!(r#"{{"{key}": 1, "{key}": 2}}"#));
        assert!(error.field.len() < 100, "{}", error.field);
    }
}
