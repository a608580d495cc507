//! The parts of `/predictions` that the handler contract 0.2.0 added: which multipart
//! field is the handler's `body`, and the handler's own response headers (already checked
//! by the sandbox against its refused list, `ferroserve_sandbox::headers`).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use ferroserve_sandbox::FormField;

/// TorchServe's input field: `data`, else `body`, else the only field. With several
/// fields and neither name there is none: a 0.1.0 handler then gets a 400 naming the
/// fields, a 0.2.0 one reads `fields`.
pub(crate) fn input_field(fields: &[FormField]) -> Option<&FormField> {
    fields
        .iter()
        .find(|f| f.name == "data")
        .or_else(|| fields.iter().find(|f| f.name == "body"))
        .or(match fields {
            [only] => Some(only),
            _ => None,
        })
}

/// Appends the handler's headers. The sandbox has refused invalid and reserved ones; one
/// that still fails to parse here is dropped rather than failing a finished response.
pub(crate) fn add_handler_headers(map: &mut HeaderMap, headers: Vec<(String, String)>) {
    for (name, value) in headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(n), Ok(v)) => {
                map.append(n, v);
            }
            _ => tracing::warn!(header = %name, "dropping a handler header that does not parse"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> FormField {
        FormField {
            name: name.into(),
            ..FormField::default()
        }
    }

    #[test]
    fn data_then_body_then_the_only_field() {
        let f = [field("body"), field("data")];
        assert_eq!(input_field(&f).unwrap().name, "data");
        assert_eq!(
            input_field(&[field("x"), field("body")]).unwrap().name,
            "body"
        );
        assert_eq!(input_field(&[field("image")]).unwrap().name, "image");
        assert!(input_field(&[field("image"), field("question")]).is_none());
        assert!(input_field(&[]).is_none());
    }
}
