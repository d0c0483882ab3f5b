//! Typed values deserialised straight from a [`Tok`] tape. Stricter than deserialising the
//! JSON value: a null, an unknown field skipped by a type that does not deny it, a struct
//! written as a list or a unit variant written as a mapping are errors here, so that the
//! caller takes the full path (JSON value, schema check, typing) for anything unusual, and
//! what this accepts is typed exactly as from the value.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::Tok;

/// Why a tape did not deserialise. The message is for tests: a caller takes the full path,
/// which explains the problem at its line.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

fn unusual(what: &str) -> Error {
    Error(format!("{what}: left to the full path"))
}

/// A reader of a tape, from `pos`.
pub struct Tape<'t, 'a> {
    toks: &'t [Tok<'a>],
    pos: usize,
}

impl<'t, 'a> Tape<'t, 'a> {
    pub fn new(toks: &'t [Tok<'a>]) -> Self {
        Tape { toks, pos: 0 }
    }

    /// The next token, consumed.
    pub fn take(&mut self) -> Option<&'t Tok<'a>> {
        let t = self.toks.get(self.pos)?;
        self.pos += 1;
        Some(t)
    }

    fn peek(&self) -> Result<&'t Tok<'a>, Error> {
        self.toks
            .get(self.pos)
            .ok_or_else(|| unusual("end of tape"))
    }

    /// Visits a collection's entries, then checks they were all read.
    fn collection<V, F>(&mut self, len: u32, end: u32, visit: F) -> Result<V, Error>
    where
        F: FnOnce(&mut Self, usize) -> Result<V, Error>,
    {
        self.pos += 1;
        let v = visit(self, len as usize)?;
        if self.pos != end as usize {
            return Err(unusual("entries left unread"));
        }
        Ok(v)
    }
}

impl<'de, 't> de::Deserializer<'de> for &mut Tape<'t, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.peek()? {
            Tok::Map { .. } => self.deserialize_map(visitor),
            Tok::Seq { .. } => self.deserialize_seq(visitor),
            Tok::Key(s) | Tok::Str(s) => {
                self.pos += 1;
                match s {
                    Cow::Borrowed(b) => visitor.visit_borrowed_str(b),
                    Cow::Owned(o) => visitor.visit_str(o),
                }
            }
            Tok::U64(u) => {
                self.pos += 1;
                visitor.visit_u64(*u)
            }
            Tok::I64(i) => {
                self.pos += 1;
                visitor.visit_i64(*i)
            }
            Tok::F64(f) => {
                self.pos += 1;
                visitor.visit_f64(*f)
            }
            Tok::Bool(b) => {
                self.pos += 1;
                visitor.visit_bool(*b)
            }
            Tok::Null => Err(unusual("a null")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.peek()? {
            Tok::Null => Err(unusual("a null")),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.peek()? {
            Tok::Map { len, end } => self.collection(*len, *end, |de, left| {
                visitor.visit_map(Entries { de, left })
            }),
            _ => Err(unusual("not a mapping")),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.peek()? {
            Tok::Seq { len, end } => self.collection(*len, *end, |de, left| {
                visitor.visit_seq(Entries { de, left })
            }),
            _ => Err(unusual("not a list")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.peek()? {
            Tok::Str(s) => {
                self.pos += 1;
                visitor.visit_enum(UnitVariant(s))
            }
            Tok::Map { len: 1, end } => {
                let end = *end;
                self.collection(1, end, |de, _| visitor.visit_enum(Variant { de }))
            }
            _ => Err(unusual("not a variant")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// A field a type skips without denying it: the schema may refuse it.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(unusual("an ignored field"))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(unusual("a unit"))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _visitor: V,
    ) -> Result<V::Value, Error> {
        Err(unusual("a unit"))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        let _ = len;
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf identifier
    }
}

/// The entries of a mapping or the items of a list.
struct Entries<'d, 't, 'a> {
    de: &'d mut Tape<'t, 'a>,
    left: usize,
}

impl<'de> Entries<'_, '_, 'de> {
    /// The next key (of a mapping) or item (of a list), if one is left.
    fn next<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        self.next(seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> de::SeqAccess<'de> for Entries<'_, '_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.next(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// A variant written as a string: a unit variant only.
struct UnitVariant<'t, 'a>(&'t Cow<'a, str>);

impl<'de> de::EnumAccess<'de> for UnitVariant<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let name: &str = self.0;
        let v = seed.deserialize(IntoDeserializer::<Error>::into_deserializer(name))?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, Error> {
        Err(unusual("a variant without its value"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, Error> {
        Err(unusual("a variant without its value"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Error> {
        Err(unusual("a variant without its value"))
    }
}

/// A variant written as a mapping of one key: the variant's name and its value.
struct Variant<'d, 't, 'a> {
    de: &'d mut Tape<'t, 'a>,
}

impl<'de> de::EnumAccess<'de> for Variant<'_, '_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let v = seed.deserialize(&mut *self.de)?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_, '_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Err(unusual("a unit variant with a value"))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(&mut *self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(&mut *self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_map(&mut *self.de, visitor)
    }
}
