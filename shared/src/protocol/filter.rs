//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2): parsing, validation
//! against the schema registry, and evaluation against resource documents.
//!
//! The grammar, with the precedence the RFC prescribes (grouping, then `not`, `and`, `or`):
//!
//! ```text
//! filter    = andExpr *("or" andExpr)
//! andExpr   = term *("and" term)
//! term      = "(" filter ")" / "not" "(" filter ")" / valuePath / attrExp
//! valuePath = attrPath "[" filter "]"        ; paths inside are relative to one element
//! attrExp   = attrPath "pr" / attrPath compareOp compValue
//! compValue = false / null / true / number / string / bareWord
//! patchPath = attrPath / attrPath "[" filter "]" ["." ATTRNAME]
//! ```
//!
//! Keywords, operators and attribute names are case-insensitive. Whitespace between tokens is
//! optional where the tokens are otherwise unambiguous.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use crate::protocol::clock::parse_datetime;
use crate::protocol::error::{ScimError, ScimResult};
use crate::protocol::resource::is_unassigned;
use crate::protocol::schema::{
    AttrPath, AttrType, Attribute, Mutability, Resolved, ResourceType, Returned, Uniqueness,
};

/// Longest filter or path accepted, in characters.
const MAX_LEN: usize = 8192;
/// Deepest nesting of parentheses and brackets accepted; bounds the parser's recursion.
const MAX_DEPTH: usize = 64;

/// An attribute operator (RFC 7644 Table 3), `pr` excepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// The operator spelled by `word` (case-insensitive).
    fn from_word(word: &str) -> Option<CompareOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `path op value`; `value` is a JSON string, number, boolean or null.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    /// `path pr`.
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@x.com"]`: `path` names the multi-valued (or complex)
    /// attribute, `filter` is evaluated against each element with paths relative to the element
    /// (sub-attribute names).
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH path (RFC 7644 §3.5.2 PATH ABNF): `attrPath / valuePath [subAttr]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPath {
    /// The attribute; `attr.sub` is set for "name.givenName" style paths (no filter).
    pub attr: AttrPath,
    /// The bracketed filter of a valuePath, paths relative to the element.
    pub filter: Option<Filter>,
    /// The sub-attribute after a valuePath: `emails[type eq "work"].value` -> Some("value").
    pub sub: Option<String>,
}

/// Parses a filter. Errors are `invalidFilter` with a message naming the 1-based character
/// position and what was expected there.
pub fn parse(text: &str) -> ScimResult<Filter> {
    let mut p = Parser::new(text, Grammar::Filter)?;
    let filter = p.or_expr()?;
    p.finish("'and', 'or' or the end of the filter")?;
    Ok(filter)
}

/// Parses a PATCH path. Errors are `invalidPath` naming the 1-based character position. A bare
/// extension URN is not an attribute path; callers handle that case before calling.
pub fn parse_patch_path(text: &str) -> ScimResult<PatchPath> {
    let mut p = Parser::new(text, Grammar::Path)?;
    p.skip_ws();
    let attr = p.attr_path("an attribute path")?;
    p.skip_ws();
    if p.peek() != Some('[') {
        p.finish("'[' or the end of the path")?;
        return Ok(PatchPath {
            attr,
            filter: None,
            sub: None,
        });
    }
    let filter = p.value_filter(&attr)?;
    let sub = if p.peek() == Some('.') {
        p.pos += 1;
        Some(p.sub_attr_name()?)
    } else {
        None
    };
    p.finish("'.' followed by a sub-attribute, or the end of the path")?;
    Ok(PatchPath {
        attr,
        filter: Some(filter),
        sub,
    })
}

/// Which grammar is being parsed; decides the error kind and wording.
#[derive(Clone, Copy)]
enum Grammar {
    Filter,
    Path,
}

/// A recursive-descent parser over the characters of a filter or PATCH path. Tokens are scanned
/// on demand because what a run of characters means depends on where it appears.
struct Parser {
    chars: Vec<char>,
    /// Index of the next unread character.
    pos: usize,
    /// Current nesting of parentheses and brackets.
    depth: usize,
    grammar: Grammar,
}

/// Characters of an attribute path token: `[urn ":"] name ["." sub]`.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-' | '$')
}

/// Characters of an unquoted comparison value.
fn is_bare_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | '[' | ']' | '"')
}

impl Parser {
    fn new(text: &str, grammar: Grammar) -> ScimResult<Parser> {
        let parser = Parser {
            chars: text.chars().collect(),
            pos: 0,
            depth: 0,
            grammar,
        };
        if parser.chars.len() > MAX_LEN {
            return Err(parser.error(MAX_LEN, &format!("longer than {MAX_LEN} characters")));
        }
        Ok(parser)
    }

    /// An error at character index `at` (reported 1-based).
    fn error(&self, at: usize, message: &str) -> ScimError {
        let position = at + 1;
        match self.grammar {
            Grammar::Filter => ScimError::InvalidFilter(format!(
                "invalid filter at position {position}: {message}"
            )),
            Grammar::Path => {
                ScimError::InvalidPath(format!("invalid path at position {position}: {message}"))
            }
        }
    }

    /// An "expected X, found Y" error at character index `at`.
    fn expected(&self, at: usize, what: &str) -> ScimError {
        self.error(at, &format!("expected {what}, found {}", self.found(at)))
    }

    /// Describes the input at `at` for error messages: a word, a character or the end.
    fn found(&self, at: usize) -> String {
        match self.chars.get(at) {
            None => "the end of the input".to_string(),
            Some(&c) if is_path_char(c) => {
                let word: String = self.text(at, self.run_end(at, is_path_char));
                format!("'{}'", word.chars().take(32).collect::<String>())
            }
            Some(c) => format!("'{c}'"),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        self.pos = self.run_end(self.pos, char::is_whitespace);
    }

    /// The index after the longest run of characters from `from` satisfying `pred`.
    fn run_end(&self, from: usize, pred: impl Fn(char) -> bool) -> usize {
        let run = self
            .chars
            .get(from..)
            .map_or(0, |rest| rest.iter().take_while(|&&c| pred(c)).count());
        from + run
    }

    /// The characters in `from..to` as a string.
    fn text(&self, from: usize, to: usize) -> String {
        self.chars
            .get(from..to)
            .unwrap_or_default()
            .iter()
            .collect()
    }

    /// Consumes `keyword` (case-insensitive, a whole word) after optional whitespace.
    fn eat_keyword(&mut self, keyword: &str) -> bool {
        self.skip_ws();
        let end = self.run_end(self.pos, is_path_char);
        if self.text(self.pos, end).eq_ignore_ascii_case(keyword) {
            self.pos = end;
            return true;
        }
        false
    }

    /// Fails unless only whitespace remains.
    fn finish(&mut self, what: &str) -> ScimResult<()> {
        self.skip_ws();
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.expected(self.pos, what)),
        }
    }

    /// Enters a parenthesis or bracket at `at`, enforcing the depth limit.
    fn enter(&mut self, at: usize) -> ScimResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(at, &format!("nested more than {MAX_DEPTH} levels deep")));
        }
        self.pos += 1;
        Ok(())
    }

    /// Consumes the closing `close` of a group entered with [`Parser::enter`].
    fn leave(&mut self, close: char) -> ScimResult<()> {
        self.skip_ws();
        if self.peek() != Some(close) {
            return Err(self.expected(self.pos, &format!("'and', 'or' or '{close}'")));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// `filter = andExpr *("or" andExpr)`.
    fn or_expr(&mut self) -> ScimResult<Filter> {
        let mut left = self.and_expr()?;
        while self.eat_keyword("or") {
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `andExpr = term *("and" term)`.
    fn and_expr(&mut self) -> ScimResult<Filter> {
        let mut left = self.term()?;
        while self.eat_keyword("and") {
            let right = self.term()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `term = "(" filter ")" / "not" "(" filter ")" / valuePath / attrExp`.
    fn term(&mut self) -> ScimResult<Filter> {
        self.skip_ws();
        if self.peek() == Some('(') {
            return self.group();
        }
        if self.eat_keyword("not") {
            self.skip_ws();
            if self.peek() != Some('(') {
                return Err(self.expected(self.pos, "'(' after 'not'"));
            }
            return Ok(Filter::Not(Box::new(self.group()?)));
        }
        let path = self.attr_path("an attribute path, '(' or 'not'")?;
        self.skip_ws();
        if self.peek() == Some('[') {
            let filter = Box::new(self.value_filter(&path)?);
            return Ok(Filter::ValuePath { path, filter });
        }
        self.attr_exp(path)
    }

    /// `"(" filter ")"`, the cursor on the opening parenthesis.
    fn group(&mut self) -> ScimResult<Filter> {
        self.enter(self.pos)?;
        let filter = self.or_expr()?;
        self.leave(')')?;
        Ok(filter)
    }

    /// `"[" filter "]"` after `path`, the cursor on the opening bracket.
    fn value_filter(&mut self, path: &AttrPath) -> ScimResult<Filter> {
        if path.sub.is_some() {
            let message = format!("a value filter cannot follow the sub-attribute path '{path}'");
            return Err(self.error(self.pos, &message));
        }
        self.enter(self.pos)?;
        let filter = self.or_expr()?;
        self.leave(']')?;
        Ok(filter)
    }

    /// An attribute path token, handed to [`AttrPath::parse`]; `what` describes it if missing.
    fn attr_path(&mut self, what: &str) -> ScimResult<AttrPath> {
        let start = self.pos;
        let end = self.run_end(start, is_path_char);
        if end == start {
            return Err(self.expected(start, what));
        }
        let word = self.text(start, end);
        let path = AttrPath::parse(&word)
            .ok_or_else(|| self.error(start, &format!("'{word}' is not a valid attribute path")))?;
        self.pos = end;
        Ok(path)
    }

    /// The sub-attribute name after `valuePath "."` in a PATCH path.
    fn sub_attr_name(&mut self) -> ScimResult<String> {
        let start = self.pos;
        let end = self.run_end(start, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$')
        });
        let word = self.text(start, end);
        match AttrPath::parse(&word) {
            Some(p) if p.schema.is_none() && p.sub.is_none() => {
                self.pos = end;
                Ok(p.name)
            }
            _ => Err(self.expected(start, "a sub-attribute name")),
        }
    }

    /// `attrPath "pr" / attrPath compareOp compValue`, the path already read.
    fn attr_exp(&mut self, path: AttrPath) -> ScimResult<Filter> {
        let start = self.pos;
        let end = self.run_end(start, is_path_char);
        let word = self.text(start, end);
        if word.eq_ignore_ascii_case("pr") {
            self.pos = end;
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::from_word(&word).ok_or_else(|| {
            self.expected(
                start,
                "an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr)",
            )
        })?;
        self.pos = end;
        let value = self.comp_value()?;
        Ok(Filter::Compare { path, op, value })
    }

    /// A comparison value: a JSON string, number, `true`, `false` or `null`.
    ///
    /// Tolerance: identity providers send unquoted values (`externalId eq jyoung`), so a bare
    /// word that is not a JSON literal is accepted as a string, unless it is `and`/`or`, which
    /// means the value is missing.
    fn comp_value(&mut self) -> ScimResult<Value> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some('"') {
            return self.string_literal();
        }
        let end = self.run_end(start, is_bare_char);
        let word = self.text(start, end);
        let lower = word.to_ascii_lowercase();
        let value = match lower.as_str() {
            "" | "and" | "or" => return Err(self.expected(start, "a comparison value")),
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            _ => serde_json::from_str::<Number>(&word).map_or(Value::String(word), Value::Number),
        };
        self.pos = end;
        Ok(value)
    }

    /// A JSON string literal, the cursor on its opening quote; decoded by serde_json.
    fn string_literal(&mut self) -> ScimResult<Value> {
        let start = self.pos;
        let mut i = start + 1;
        loop {
            match self.chars.get(i) {
                None => return Err(self.error(start, "unterminated string")),
                Some('\\') => i += 2,
                Some('"') => break,
                Some(_) => i += 1,
            }
        }
        let literal = self.text(start, i + 1);
        let decoded = serde_json::from_str::<String>(&literal).map_err(|_| {
            self.error(
                start,
                "invalid string (bad escape sequence or control character)",
            )
        })?;
        self.pos = i + 1;
        Ok(Value::String(decoded))
    }
}

/// `schemas` is not in the schema registry but is filterable (RFC 7644 §3.4.2.2 example
/// `schemas eq "urn:...:enterprise:2.0:User"`).
static SCHEMAS: Attribute = Attribute {
    name: "schemas",
    ty: AttrType::Reference,
    multi_valued: true,
    description: "The schema URNs the resource conforms to.",
    required: true,
    canonical_values: &[],
    case_exact: false,
    mutability: Mutability::ReadOnly,
    returned: Returned::Always,
    uniqueness: Uniqueness::None,
    reference_types: &["uri"],
    sub_attributes: Vec::new(),
};

/// Resolves a path against a resource type, including the `schemas` attribute.
fn resolve(rt: &ResourceType, path: &AttrPath) -> Option<Resolved> {
    let schemas = path.sub.is_none()
        && path.name.eq_ignore_ascii_case(SCHEMAS.name)
        && path
            .schema
            .as_deref()
            .is_none_or(|urn| urn.eq_ignore_ascii_case(rt.schema.id));
    rt.resolve(path).or(schemas.then_some(Resolved {
        extension: None,
        attr: &SCHEMAS,
        sub: None,
    }))
}

/// The member of a JSON object named `key`, matched case-insensitively (exact match first).
fn get_ci<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The values of an attribute: the elements of an array, or the value itself; nulls dropped.
fn flatten(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter(|v| !v.is_null()).collect(),
        Some(v) => vec![v],
    }
}

/// Value of an attribute path in a canonical resource: for core/common attributes the top-level
/// key, for extension attributes inside the object keyed by the extension URN; then the
/// sub-attribute (mapping over arrays). Returns the JSON values found (flattened over
/// multi-valued). Keys are matched case-insensitively; unknown attributes have no values.
pub fn values_at<'a>(rt: &ResourceType, resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    resolve(rt, path).map_or_else(Vec::new, |r| resolved_values(resource, &r))
}

/// The values of a resolved attribute in a resource.
fn resolved_values<'a>(resource: &'a Value, r: &Resolved) -> Vec<&'a Value> {
    let container = match r.extension {
        Some(urn) => get_ci(resource, urn),
        None => Some(resource),
    };
    let values = flatten(container.and_then(|c| get_ci(c, r.attr.name)));
    match r.sub {
        None => values,
        Some(sub) => values
            .into_iter()
            .flat_map(|v| flatten(get_ci(v, sub.name)))
            .collect(),
    }
}

/// Total order used by sortBy and by gt/ge/lt/le: compares two single values of attribute `attr`
/// by its type (strings honouring caseExact, dateTime chronologically, numbers numerically,
/// booleans false<true; complex values by their `value` sub-attribute). None if incomparable.
pub fn compare_values(attr: &Attribute, a: &Value, b: &Value) -> Option<Ordering> {
    match attr.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            let (a, b) = (a.as_str()?, b.as_str()?);
            Some(if attr.case_exact {
                a.cmp(b)
            } else {
                a.to_lowercase().cmp(&b.to_lowercase())
            })
        }
        AttrType::DateTime => Some(parse_datetime(a.as_str()?)?.cmp(&parse_datetime(b.as_str()?)?)),
        AttrType::Integer | AttrType::Decimal => a.as_f64()?.partial_cmp(&b.as_f64()?),
        AttrType::Boolean => Some(a.as_bool()?.cmp(&b.as_bool()?)),
        AttrType::Complex => {
            let sub = attr.sub_attribute("value")?;
            compare_values(sub, get_ci(a, sub.name)?, get_ci(b, sub.name)?)
        }
    }
}

/// Where a filter's paths are resolved: a resource, or one element of a complex attribute.
#[derive(Clone, Copy)]
enum Scope<'s> {
    Resource(&'s ResourceType),
    Element(&'s Attribute),
}

impl<'s> Scope<'s> {
    /// The definition `path` names in this scope.
    fn attribute(self, path: &AttrPath) -> Option<&'s Attribute> {
        match self {
            Scope::Resource(rt) => resolve(rt, path).map(|r| r.target()),
            Scope::Element(parent) => element_sub(parent, path),
        }
    }

    /// The definition `path` names and its values in `doc`.
    fn lookup<'v>(
        self,
        doc: &'v Value,
        path: &AttrPath,
    ) -> Option<(&'s Attribute, Vec<&'v Value>)> {
        match self {
            Scope::Resource(rt) => {
                let r = resolve(rt, path)?;
                Some((r.target(), resolved_values(doc, &r)))
            }
            Scope::Element(parent) => {
                let sub = element_sub(parent, path)?;
                Some((sub, flatten(get_ci(doc, sub.name))))
            }
        }
    }

    /// The error for a path unknown in this scope.
    fn unknown(self, path: &AttrPath) -> ScimError {
        ScimError::InvalidFilter(match self {
            Scope::Resource(rt) => {
                format!("invalid filter: unknown attribute '{path}' for {}", rt.name)
            }
            Scope::Element(parent) => {
                format!(
                    "invalid filter: unknown sub-attribute '{path}' of '{}'",
                    parent.name
                )
            }
        })
    }
}

/// The sub-attribute of `parent` a path relative to one of its elements names: a plain name.
fn element_sub<'s>(parent: &'s Attribute, path: &AttrPath) -> Option<&'s Attribute> {
    if path.schema.is_some() || path.sub.is_some() {
        return None;
    }
    parent.sub_attribute(&path.name)
}

impl Filter {
    /// Does a resource document match? `rt` gives attribute definitions (type, caseExact,
    /// multiValued). Pass the document as served (with `id` and `meta`) to filter on those.
    /// Unknown attributes are treated as absent.
    pub fn matches(&self, rt: &ResourceType, resource: &Value) -> bool {
        self.eval(Scope::Resource(rt), resource)
    }

    /// Evaluates a filter whose paths are relative to one element of the complex attribute
    /// `attr` (used for valuePath in PATCH, e.g. `emails[type eq "work"]` -> element
    /// `{"type":"work","value":...}`).
    pub fn matches_element(&self, attr: &Attribute, element: &Value) -> bool {
        self.eval(Scope::Element(attr), element)
    }

    /// Checks that every attribute path names a known attribute of `rt` (and, inside a
    /// valuePath, a known sub-attribute of a complex attribute); `invalidFilter` naming the
    /// unknown attribute otherwise.
    pub fn validate(&self, rt: &ResourceType) -> ScimResult<()> {
        self.check(Scope::Resource(rt))
    }

    fn check(&self, scope: Scope<'_>) -> ScimResult<()> {
        match self {
            Filter::Compare { path, .. } | Filter::Present(path) => scope
                .attribute(path)
                .map(|_| ())
                .ok_or_else(|| scope.unknown(path)),
            Filter::And(a, b) | Filter::Or(a, b) => a.check(scope).and_then(|()| b.check(scope)),
            Filter::Not(f) => f.check(scope),
            Filter::ValuePath { path, filter } => {
                let attr = scope.attribute(path).ok_or_else(|| scope.unknown(path))?;
                if attr.ty != AttrType::Complex {
                    return Err(ScimError::InvalidFilter(format!(
                        "invalid filter: '{path}' is not a complex attribute and cannot take a value filter"
                    )));
                }
                filter.check(Scope::Element(attr))
            }
        }
    }

    fn eval(&self, scope: Scope<'_>, doc: &Value) -> bool {
        match self {
            Filter::Compare { path, op, value } => compare(scope.lookup(doc, path), *op, value),
            Filter::Present(path) => scope.lookup(doc, path).is_some_and(|(_, v)| present(&v)),
            Filter::And(a, b) => a.eval(scope, doc) && b.eval(scope, doc),
            Filter::Or(a, b) => a.eval(scope, doc) || b.eval(scope, doc),
            Filter::Not(f) => !f.eval(scope, doc),
            Filter::ValuePath { path, filter } => {
                scope.lookup(doc, path).is_some_and(|(attr, elements)| {
                    elements
                        .iter()
                        .any(|e| filter.eval(Scope::Element(attr), e))
                })
            }
        }
    }
}

/// `pr`: some value that is not null, an empty string, an empty array or an empty object.
fn present(values: &[&Value]) -> bool {
    values
        .iter()
        .any(|v| !is_unassigned(v) && v.as_str() != Some(""))
}

/// Evaluates `op value` against an attribute's definition and values (`None`: unknown).
///
/// Multi-valued attributes match if ANY value matches. `eq null` means "not present" and
/// `ne null` "present". Choice: `ne` also matches when the attribute is absent, so that
/// `x ne v` and `not (x eq v)` agree for single-valued attributes.
fn compare(found: Option<(&Attribute, Vec<&Value>)>, op: CompareOp, value: &Value) -> bool {
    if value.is_null() {
        let is_present = found.is_some_and(|(_, v)| present(&v));
        return match op {
            CompareOp::Eq => !is_present,
            CompareOp::Ne => is_present,
            _ => false,
        };
    }
    match found.map(scalar_view) {
        Some((attr, values)) if !values.is_empty() => {
            let coerced = coerce(attr, value);
            let operand = coerced.as_ref().unwrap_or(value);
            values.iter().any(|v| holds(attr, op, v, operand))
        }
        _ => op == CompareOp::Ne,
    }
}

/// A complex attribute compared without a sub-attribute (`emails co "@x"`) is compared through
/// its `value` sub-attribute.
fn scalar_view<'a, 'v>(
    (attr, values): (&'a Attribute, Vec<&'v Value>),
) -> (&'a Attribute, Vec<&'v Value>) {
    if attr.ty != AttrType::Complex {
        return (attr, values);
    }
    match attr.sub_attribute("value") {
        Some(sub) => {
            let subs = values
                .into_iter()
                .flat_map(|v| flatten(get_ci(v, sub.name)))
                .collect();
            (sub, subs)
        }
        None => (attr, Vec::new()),
    }
}

/// Converts a filter value to the attribute's JSON type where a lenient reading exists:
/// numbers and booleans as text for string attributes, `"true"`/`"false"` for booleans,
/// numeric text for numbers. None if no conversion applies (the value is used as is).
fn coerce(attr: &Attribute, value: &Value) -> Option<Value> {
    match (attr.ty, value) {
        (
            AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime,
            Value::Number(_) | Value::Bool(_),
        ) => Some(Value::String(value.to_string())),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Some(Value::Bool(true))
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Some(Value::Bool(false))
        }
        (AttrType::Integer | AttrType::Decimal, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number),
        _ => None,
    }
}

/// One attribute value `actual` against the operand.
fn holds(attr: &Attribute, op: CompareOp, actual: &Value, operand: &Value) -> bool {
    let order = || compare_values(attr, actual, operand);
    match op {
        CompareOp::Eq => order() == Some(Ordering::Equal),
        CompareOp::Ne => order() != Some(Ordering::Equal),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => substring(attr, op, actual, operand),
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            attr.ty != AttrType::Boolean
                && order().is_some_and(|o| match op {
                    CompareOp::Gt => o.is_gt(),
                    CompareOp::Ge => o.is_ge(),
                    CompareOp::Lt => o.is_lt(),
                    _ => o.is_le(),
                })
        }
    }
}

/// `co`, `sw`, `ew`: only for string-like attributes, honouring caseExact.
fn substring(attr: &Attribute, op: CompareOp, actual: &Value, operand: &Value) -> bool {
    let string_like = matches!(
        attr.ty,
        AttrType::String | AttrType::Reference | AttrType::Binary
    );
    let (Some(a), Some(b), true) = (actual.as_str(), operand.as_str(), string_like) else {
        return false;
    };
    let (a, b) = if attr.case_exact {
        (a.to_string(), b.to_string())
    } else {
        (a.to_lowercase(), b.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        _ => a.ends_with(&b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, REGISTRY, USER_SCHEMA};
    use serde_json::json;

    /// Barbara Jensen, as served (RFC 7643 §8.2, abridged).
    fn bjensen() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "BJensen-1",
            "userName": "bjensen",
            "name": {"familyName": "O'Malley", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z"
            },
            ENTERPRISE_USER_SCHEMA: {
                "employeeNumber": "701984",
                "department": "Tour Operations",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            }
        })
    }

    /// An intern with no title, an example.org address and no extension.
    fn intern() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "id": "c75ad752-64ae-4823-840d-ffa80929976c",
            "userName": "jsmith",
            "title": "",
            "userType": "Intern",
            "active": false,
            "emails": [{"value": "jsmith@example.org", "type": "home"}],
            "meta": {"lastModified": "2011-05-13T04:42:35.000+00:00"}
        })
    }

    fn parsed(text: &str) -> Filter {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// Whether `text` matches `user`.
    fn matches(text: &str, user: &Value) -> bool {
        parsed(text).matches(&REGISTRY.user, user)
    }

    /// The error message parsing `text` gives; it must be invalidFilter.
    fn error(text: &str) -> String {
        let e = parse(text).expect_err(text);
        assert_eq!(e.scim_type(), Some("invalidFilter"), "{text}");
        e.to_string()
    }

    fn path_error(text: &str) -> String {
        let e = parse_patch_path(text).expect_err(text);
        assert_eq!(e.scim_type(), Some("invalidPath"), "{text}");
        e.to_string()
    }

    fn attr_path(text: &str) -> AttrPath {
        AttrPath::parse(text).expect(text)
    }

    fn cmp(path: &str, op: CompareOp, value: Value) -> Filter {
        Filter::Compare {
            path: attr_path(path),
            op,
            value,
        }
    }

    /// A scalar attribute of type `ty` for compare_values tests.
    fn scalar(ty: AttrType, case_exact: bool) -> Attribute {
        Attribute {
            name: "x",
            ty,
            case_exact,
            sub_attributes: Vec::new(),
            ..SCHEMAS.clone()
        }
    }

    #[test]
    fn every_rfc_7644_example_filter_parses_and_evaluates() {
        let (b, i) = (bjensen(), intern());
        let cases = [
            (r#"userName eq "bjensen""#, true, false),
            (r#"name.familyName co "O'Malley""#, true, false),
            (r#"userName sw "J""#, false, true),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                false,
                true,
            ),
            ("title pr", true, false),
            (
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                false,
                true,
            ),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true, true),
            (
                r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
                false,
                false,
            ),
            (
                r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
                true,
                false,
            ),
            (r#"title pr and userType eq "Employee""#, true, false),
            (r#"title pr or userType eq "Intern""#, true, true),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                true,
                false,
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                true,
                false,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                false,
                false,
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                true,
                false,
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                true,
                false,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                true,
                false,
            ),
        ];
        for (text, for_bjensen, for_intern) in cases {
            let f = parsed(text);
            f.validate(&REGISTRY.user).expect(text);
            assert_eq!(
                f.matches(&REGISTRY.user, &b),
                for_bjensen,
                "bjensen: {text}"
            );
            assert_eq!(f.matches(&REGISTRY.user, &i), for_intern, "intern: {text}");
        }
    }

    #[test]
    fn string_operators_ignore_case_unless_the_attribute_is_case_exact() {
        let b = bjensen();
        for (text, expected) in [
            (r#"userName eq "BJENSEN""#, true),
            (r#"userName ne "BJENSEN""#, false),
            (r#"userName ne "other""#, true),
            (r#"userName co "JENS""#, true),
            (r#"userName sw "BJ""#, true),
            (r#"userName ew "SEN""#, true),
            (r#"userName ew "bje""#, false),
            (r#"userName gt "BJ""#, true),
            (r#"userName ge "BJENSEN""#, true),
            (r#"userName lt "C""#, true),
            (r#"userName le "BJENSEN""#, true),
            (r#"userName lt "BJENSEN""#, false),
            (r#"externalId eq "BJensen-1""#, true),
            (r#"externalId eq "bjensen-1""#, false),
            (r#"externalId ne "bjensen-1""#, true),
            (r#"externalId co "jensen""#, false),
            (r#"externalId sw "BJ""#, true),
            (r#"externalId sw "bj""#, false),
            (r#"externalId ew "N-1""#, false),
            (r#"externalId gt "a""#, false),
            (r#"externalId lt "a""#, true),
            (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
            (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
        ] {
            assert_eq!(matches(text, &b), expected, "{text}");
        }
    }

    #[test]
    fn date_times_compare_as_instants() {
        let (b, i) = (bjensen(), intern());
        // The intern's lastModified is written with an offset and fractional seconds.
        assert!(matches(
            r#"meta.lastModified eq "2011-05-13T04:42:35Z""#,
            &i
        ));
        assert!(matches(
            r#"meta.lastModified gt "2011-05-13T06:42:34+02:00""#,
            &i
        ));
        assert!(matches(
            r#"meta.lastModified eq "2011-05-13T04:42:34.000Z""#,
            &b
        ));
        assert!(matches(r#"meta.created lt "2011-01-01T00:00:00Z""#, &b));
        // Unparseable operands and substring operators never match a dateTime.
        assert!(!matches(r#"meta.lastModified gt "yesterday""#, &b));
        assert!(!matches(r#"meta.lastModified sw "2011""#, &b));
        assert!(!matches(r#"meta.lastModified co "05""#, &b));
    }

    #[test]
    fn booleans_support_only_equality() {
        let (b, i) = (bjensen(), intern());
        assert!(matches("active eq true", &b));
        assert!(matches("active EQ TRUE", &b));
        assert!(matches("active ne true", &i));
        assert!(matches("active eq false", &i));
        assert!(!matches("active eq false", &b));
        // Lenient: "True" as a string compares as the boolean.
        assert!(matches(r#"active eq "True""#, &b));
        for op in ["gt", "ge", "lt", "le", "co", "sw", "ew"] {
            assert!(!matches(&format!("active {op} false"), &b), "{op}");
        }
    }

    #[test]
    fn multi_valued_attributes_match_if_any_value_matches() {
        let b = bjensen();
        assert!(matches(r#"emails.value eq "babs@jensen.org""#, &b));
        assert!(matches(r#"emails.type eq "home""#, &b));
        assert!(matches(r#"emails eq "BJENSEN@example.com""#, &b));
        assert!(matches(r#"emails ew ".org""#, &b));
        assert!(!matches(r#"emails.value eq "nobody@example.com""#, &b));
        // ANY semantics for ne too: some email differs.
        assert!(matches(r#"emails ne "babs@jensen.org""#, &b));
    }

    #[test]
    fn present_requires_a_non_empty_value() {
        let i = intern();
        assert!(!matches("title pr", &i), "empty string is not present");
        assert!(!matches("nickName pr", &i), "absent");
        assert!(matches("emails pr", &i));
        assert!(matches("emails.value pr", &i));
        assert!(!matches("emails.display pr", &i));
        let empties = json!({"emails": [], "name": {}, "displayName": null});
        for text in ["emails pr", "name pr", "displayName pr"] {
            assert!(!matches(text, &empties), "{text}");
        }
    }

    #[test]
    fn ne_matches_absent_attributes_and_null_means_absent() {
        let i = intern();
        assert!(matches(r#"nickName ne "x""#, &i));
        assert!(!matches(r#"nickName eq "x""#, &i));
        assert!(matches("nickName eq null", &i));
        assert!(!matches("nickName ne null", &i));
        assert!(matches("userName ne null", &i));
        assert!(!matches("userName eq null", &i));
        assert!(
            matches("title eq null", &i),
            "an empty string is not present"
        );
    }

    #[test]
    fn unknown_attributes_are_absent_when_matching_and_rejected_by_validate() {
        let b = bjensen();
        assert!(!matches(r#"shoeSize eq "9""#, &b));
        assert!(matches(r#"shoeSize ne "9""#, &b));
        assert!(!matches("shoeSize pr", &b));
        for (text, named) in [
            (r#"shoeSize eq "9""#, "shoeSize"),
            (r#"name.nickname eq "x""#, "name.nickname"),
            (r#"userName eq "a" or not (shoeSize pr)"#, "shoeSize"),
            (r#"emails[kind eq "work"]"#, "kind"),
            (r#"emails[emails.type eq "work"]"#, "emails.type"),
            ("nosuch[value pr]", "nosuch"),
        ] {
            let e = parsed(text).validate(&REGISTRY.user).expect_err(text);
            assert_eq!(e.scim_type(), Some("invalidFilter"), "{text}");
            assert!(e.to_string().contains(&format!("'{named}'")), "{text}: {e}");
        }
        let e = parsed(r#"userName[value eq "x"]"#)
            .validate(&REGISTRY.user)
            .expect_err("not complex");
        assert!(e.to_string().contains("not a complex attribute"), "{e}");
        // Group attributes are not User attributes.
        assert!(parsed("userName pr").validate(&REGISTRY.group).is_err());
        parsed(r#"members[value eq "1"] and displayName sw "A""#)
            .validate(&REGISTRY.group)
            .expect("group filter");
    }

    #[test]
    fn urn_qualified_attributes_resolve_to_core_or_extension() {
        let b = bjensen();
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        for text in [
            format!(r#"{ext}:department eq "tour operations""#),
            format!(r#"{ext}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
            format!("{ext}:employeeNumber eq 701984"),
            r#"department eq "Tour Operations""#.to_string(),
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME eq "bjensen""#.to_string(),
            format!(r#"{ext}:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
        ] {
            let f = parsed(&text);
            f.validate(&REGISTRY.user).expect(&text);
            assert!(f.matches(&REGISTRY.user, &b), "{text}");
        }
        assert!(!matches(&format!("{ext}:manager.value pr"), &intern()));
        let e = error(r#"urn:example:unknown:attr eq "x""#);
        assert!(
            e.contains("position 1") && e.contains("not a valid attribute path"),
            "{e}"
        );
    }

    #[test]
    fn keywords_operators_and_names_are_case_insensitive() {
        let b = bjensen();
        for text in [
            r#"USERNAME eq "bjensen""#,
            r#"userName EQ "bjensen""#,
            r#"username Eq "bjensen" AND Title PR"#,
            r#"userName eq "x" OR NOT (userName eq "x")"#,
            r#"EMAILS[TYPE eq "work"]"#,
        ] {
            assert!(matches(text, &b), "{text}");
        }
        let keys = json!({"USERNAME": "bjensen", "Emails": [{"VALUE": "a@b.c"}]});
        assert!(matches(r#"userName eq "bjensen""#, &keys));
        assert!(matches(r#"emails.value eq "a@b.c""#, &keys));
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        let (a, b, c) = (
            cmp("title", CompareOp::Eq, json!("a")),
            cmp("title", CompareOp::Eq, json!("b")),
            cmp("title", CompareOp::Eq, json!("c")),
        );
        let and = |x: &Filter, y: &Filter| Filter::And(Box::new(x.clone()), Box::new(y.clone()));
        let or = |x: &Filter, y: &Filter| Filter::Or(Box::new(x.clone()), Box::new(y.clone()));
        assert_eq!(
            parsed(r#"title eq "a" or title eq "b" and title eq "c""#),
            or(&a, &and(&b, &c))
        );
        assert_eq!(
            parsed(r#"title eq "a" and title eq "b" or title eq "c""#),
            or(&and(&a, &b), &c)
        );
        assert_eq!(
            parsed(r#"(title eq "a" or title eq "b") and title eq "c""#),
            and(&or(&a, &b), &c)
        );
        assert_eq!(
            parsed(r#"title eq "a" and title eq "b" and title eq "c""#),
            and(&and(&a, &b), &c)
        );
        assert_eq!(
            parsed(r#"not (title eq "a") and not(title eq "b")"#),
            and(&Filter::Not(Box::new(a.clone())), &Filter::Not(Box::new(b)))
        );
        assert_eq!(parsed(r#"(((title eq "a")))"#), a);
        // Evaluated, not just parsed: false or (true and false) is false.
        assert!(!matches(
            r#"userName eq "x" or userName eq "bjensen" and title eq "x""#,
            &bjensen()
        ));
        assert!(matches(
            r#"(userName eq "x" or userName eq "bjensen") and title pr"#,
            &bjensen()
        ));
    }

    #[test]
    fn comparison_values_are_json_literals_or_bare_words() {
        let value = |text: &str| match parsed(text) {
            Filter::Compare { value, .. } => value,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            value(r#"title eq "a\"b\\c\u00e9\n""#),
            json!("a\"b\\c\u{e9}\n")
        );
        assert_eq!(value(r#"title eq "true""#), json!("true"));
        assert_eq!(value("title eq 42"), json!(42));
        assert_eq!(value("title eq -1.5e3"), json!(-1500.0));
        assert_eq!(value("title eq 0.25"), json!(0.25));
        assert_eq!(value("title eq true"), json!(true));
        assert_eq!(value("title eq FALSE"), json!(false));
        assert_eq!(value("title eq null"), Value::Null);
        // Tolerated: unquoted words are strings.
        assert_eq!(value("externalId eq jyoung"), json!("jyoung"));
        assert_eq!(value("title eq 01"), json!("01"));
        assert_eq!(value(r#"title eq """#), json!(""));
        assert!(matches("emails[type eq work]", &bjensen()));
        assert!(matches("(userName eq bjensen)", &bjensen()));
        // ...but not keywords: the value is missing.
        assert!(
            error(r#"title eq and userName pr"#)
                .contains("position 10: expected a comparison value")
        );
        assert!(error("title eq or").contains("position 10: expected a comparison value"));
    }

    #[test]
    fn value_path_filters_apply_to_one_element_at_a_time() {
        let b = bjensen();
        assert!(matches(
            r#"emails[type eq "work" and value co "@example.com"]"#,
            &b
        ));
        // Both conditions must hold for the same element.
        assert!(!matches(
            r#"emails[type eq "home" and value co "@example.com"]"#,
            &b
        ));
        assert!(matches(r#"emails[not (type eq "work")]"#, &b));
        assert!(matches(r#"emails[primary eq true]"#, &b));
        assert!(!matches(r#"ims[type eq "aim"]"#, &b));
        assert!(!matches(r#"phoneNumbers[type pr]"#, &b));
        assert_eq!(
            parsed(r#"emails [ type eq "work" ]"#),
            Filter::ValuePath {
                path: attr_path("emails"),
                filter: Box::new(cmp("type", CompareOp::Eq, json!("work"))),
            }
        );
    }

    #[test]
    fn matches_element_evaluates_sub_attribute_paths() {
        let emails = REGISTRY.user.core_attribute("emails").expect("emails");
        let work = json!({"type": "work", "value": "a@x.com"});
        assert!(parsed(r#"type eq "work""#).matches_element(emails, &work));
        assert!(parsed(r#"TYPE eq "WORK" and value ew "X.COM""#).matches_element(emails, &work));
        assert!(!parsed(r#"type eq "home""#).matches_element(emails, &work));
        assert!(!parsed("primary pr").matches_element(emails, &work));
        assert!(!parsed(r#"nosuch eq "work""#).matches_element(emails, &work));
        let members = REGISTRY.group.core_attribute("members").expect("members");
        let member = json!({"value": "2819c223-7f76-453a-919d-413861904646", "type": "User"});
        let f = parse_patch_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#)
            .expect("path")
            .filter
            .expect("filter");
        assert!(f.matches_element(members, &member));
        // members.value is caseExact.
        assert!(
            !parsed(r#"value eq "2819C223-7F76-453A-919D-413861904646""#)
                .matches_element(members, &member)
        );
    }

    #[test]
    fn bad_filters_report_the_position_and_what_was_expected() {
        for (text, expected) in [
            (
                "userName eq",
                "position 12: expected a comparison value, found the end",
            ),
            (r#"userName xx "a""#, "position 10: expected an operator"),
            (
                r#"(userName eq "a""#,
                "position 17: expected 'and', 'or' or ')'",
            ),
            (
                r#"emails[type eq "work""#,
                "position 22: expected 'and', 'or' or ']'",
            ),
            (r#""unterminated"#, "position 1: expected an attribute path"),
            (
                r#"userName eq "unterminated"#,
                "position 13: unterminated string",
            ),
            (
                r#"userName eq "bad \q escape""#,
                "position 13: invalid string",
            ),
            (
                "",
                "position 1: expected an attribute path, '(' or 'not', found the end",
            ),
            ("   ", "position 4: expected an attribute path"),
            ("userName", "position 9: expected an operator"),
            (
                r#"userName eq "a" and"#,
                "position 20: expected an attribute path",
            ),
            (
                r#"userName eq "a" xx"#,
                "position 17: expected 'and', 'or' or the end of the filter, found 'xx'",
            ),
            (
                r#"userName eq "a")"#,
                "position 16: expected 'and', 'or' or the end",
            ),
            (
                r#"not userName eq "a""#,
                "position 5: expected '(' after 'not'",
            ),
            ("()", "position 2: expected an attribute path"),
            (
                r#"1userName eq "a""#,
                "position 1: '1userName' is not a valid attribute path",
            ),
            (
                r#"name.givenName[value eq "a"]"#,
                "position 15: a value filter cannot follow",
            ),
            (
                r#"emails[type eq "work"].value eq "a""#,
                "position 23: expected 'and', 'or' or the end",
            ),
            (
                r#"userName eq "a" and é"#,
                "position 21: expected an attribute path",
            ),
        ] {
            let message = error(text);
            assert!(
                message.starts_with("invalid filter at "),
                "{text}: {message}"
            );
            assert!(message.contains(expected), "{text}: {message}");
        }
    }

    #[test]
    fn nesting_and_length_are_bounded() {
        let nested = |n: usize| format!("{}title pr{}", "(".repeat(n), ")".repeat(n));
        parse(&nested(MAX_DEPTH)).expect("64 levels are fine");
        assert!(error(&nested(MAX_DEPTH + 1)).contains("position 65: nested more than 64"));
        let nots = format!("{}title pr{}", "not (".repeat(1000), ")".repeat(1000));
        assert!(error(&nots).contains("nested more than 64"));
        let long = format!("title eq \"{}\"", "a".repeat(MAX_LEN));
        assert!(error(&long).contains("longer than 8192 characters"));
        // Long flat chains are not nesting.
        let chain = vec![r#"id eq "x""#; 500].join(" or ");
        assert!(!parsed(&chain).matches(&REGISTRY.user, &bjensen()));
    }

    #[test]
    fn no_input_makes_the_parsers_panic() {
        let samples = [
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"emails[type eq "work" and value co "@example.com"] or not (ims[type eq "xmpp"])"#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x\u00e9\"""#,
            "title eq -1.5e3 and active eq true or x eq null",
            "é\u{1F600}[\"\\",
        ];
        for sample in samples {
            let chars: Vec<char> = sample.chars().collect();
            for end in 0..=chars.len() {
                for start in 0..end.min(4) {
                    let piece: String = chars[start..end].iter().collect();
                    let _ = parse(&piece);
                    let _ = parse_patch_path(&piece);
                }
            }
        }
    }

    #[test]
    fn patch_paths_cover_attr_paths_and_value_paths() {
        let p = parse_patch_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#)
            .expect("members");
        assert_eq!(p.attr, attr_path("members"));
        assert_eq!(
            p.filter,
            Some(cmp(
                "value",
                CompareOp::Eq,
                json!("2819c223-7f76-453a-919d-413861904646")
            ))
        );
        assert_eq!(p.sub, None);

        let p = parse_patch_path(r#"emails[type eq "work"].value"#).expect("emails");
        assert_eq!(p.attr, attr_path("emails"));
        assert_eq!(p.filter, Some(cmp("type", CompareOp::Eq, json!("work"))));
        assert_eq!(p.sub.as_deref(), Some("value"));

        let p = parse_patch_path("name.familyName").expect("name");
        assert_eq!(
            (p.attr.name.as_str(), p.attr.sub.as_deref()),
            ("name", Some("familyName"))
        );
        assert_eq!((p.filter, p.sub), (None, None));

        let p =
            parse_patch_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
                .expect("manager");
        assert_eq!(p.attr.schema.as_deref(), Some(ENTERPRISE_USER_SCHEMA));
        assert_eq!(p.attr.name, "manager");

        let p = parse_patch_path(&format!("{GROUP_SCHEMA}:members")).expect("qualified");
        assert_eq!(p.attr.schema.as_deref(), Some(GROUP_SCHEMA));
    }

    #[test]
    fn bad_patch_paths_are_invalid_path_errors_with_positions() {
        for (text, expected) in [
            (
                ENTERPRISE_USER_SCHEMA,
                "position 1: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' is not a valid attribute path",
            ),
            ("", "position 1: expected an attribute path"),
            ("emails[", "position 8: expected an attribute path"),
            (
                r#"emails[type eq "work""#,
                "position 22: expected 'and', 'or' or ']'",
            ),
            (
                r#"emails[type eq "work"]."#,
                "position 24: expected a sub-attribute name",
            ),
            (
                r#"emails[type eq "work"].value.x"#,
                "position 29: expected '.' followed by a sub-attribute",
            ),
            (r#"emails[type eq "work"]x"#, "position 23: expected '.'"),
            (
                "emails value",
                "position 8: expected '[' or the end of the path",
            ),
            (
                r#"emails[type xx "work"]"#,
                "position 13: expected an operator",
            ),
        ] {
            let message = path_error(text);
            assert!(message.starts_with("invalid path at "), "{text}: {message}");
            assert!(message.contains(expected), "{text}: {message}");
        }
    }

    #[test]
    fn compare_values_orders_by_attribute_type() {
        use Ordering::{Equal, Greater, Less};
        let text = scalar(AttrType::String, false);
        assert_eq!(
            compare_values(&text, &json!("abc"), &json!("ABD")),
            Some(Less)
        );
        assert_eq!(
            compare_values(&text, &json!("ABC"), &json!("abc")),
            Some(Equal)
        );
        let exact = scalar(AttrType::String, true);
        assert_eq!(
            compare_values(&exact, &json!("ABC"), &json!("abc")),
            Some(Less)
        );
        let when = scalar(AttrType::DateTime, false);
        assert_eq!(
            compare_values(
                &when,
                &json!("2011-05-13T06:00:00+02:00"),
                &json!("2011-05-13T04:00:00Z")
            ),
            Some(Equal)
        );
        assert_eq!(
            compare_values(
                &when,
                &json!("2011-05-13T04:00:01Z"),
                &json!("2011-05-13T04:00:00.999Z")
            ),
            Some(Greater)
        );
        assert_eq!(
            compare_values(&when, &json!("soon"), &json!("2011-05-13T04:00:00Z")),
            None
        );
        let number = scalar(AttrType::Integer, false);
        assert_eq!(compare_values(&number, &json!(9), &json!(10)), Some(Less));
        assert_eq!(
            compare_values(&number, &json!(2.5), &json!(-3)),
            Some(Greater)
        );
        assert_eq!(compare_values(&number, &json!("9"), &json!(10)), None);
        let flag = scalar(AttrType::Boolean, false);
        assert_eq!(
            compare_values(&flag, &json!(false), &json!(true)),
            Some(Less)
        );
        assert_eq!(compare_values(&flag, &json!(true), &json!("true")), None);
        let emails = REGISTRY.user.core_attribute("emails").expect("emails");
        assert_eq!(
            compare_values(emails, &json!({"value": "B@x"}), &json!({"value": "a@x"})),
            Some(Greater)
        );
        let name = REGISTRY.user.core_attribute("name").expect("name");
        assert_eq!(compare_values(name, &json!({}), &json!({})), None);
    }

    #[test]
    fn numeric_sub_attributes_compare_numerically() {
        let parent = Attribute {
            name: "scores",
            ty: AttrType::Complex,
            sub_attributes: vec![Attribute {
                name: "value",
                ..scalar(AttrType::Decimal, false)
            }],
            ..SCHEMAS.clone()
        };
        let element = json!({"value": 10});
        for (text, expected) in [
            ("value gt 9", true),
            ("value gt 9.5e0", true),
            ("value le -1", false),
            ("value eq 10.0", true),
            (r#"value eq "10""#, true),
            ("value co 1", false),
            ("value eq ten", false),
            ("value ne ten", true),
        ] {
            assert_eq!(
                parsed(text).matches_element(&parent, &element),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn values_at_reads_core_extension_and_sub_attribute_values() {
        let rt = &REGISTRY.user;
        let b = bjensen();
        assert_eq!(
            values_at(rt, &b, &attr_path("userName")),
            vec![&json!("bjensen")]
        );
        assert_eq!(
            values_at(rt, &b, &attr_path("emails.type")),
            vec![&json!("work"), &json!("home")]
        );
        assert_eq!(values_at(rt, &b, &attr_path("emails")).len(), 2);
        assert_eq!(
            values_at(rt, &b, &attr_path("department")),
            vec![&json!("Tour Operations")]
        );
        let manager = attr_path(&format!("{ENTERPRISE_USER_SCHEMA}:manager.value"));
        assert_eq!(
            values_at(rt, &b, &manager),
            vec![&json!("26118915-6090-4610-87e4-49d8ca9f808d")]
        );
        assert!(values_at(rt, &b, &attr_path("nickName")).is_empty());
        assert!(values_at(rt, &b, &attr_path("shoeSize")).is_empty());
        assert!(values_at(rt, &intern(), &attr_path("department")).is_empty());
    }
}
