//! Lookups on a [`Request`], and extra headers on a [`Response`].

use crate::{FormField, Request, Response};

impl Request {
    /// A parameter from the archive's `handler-params` or the query string (the query wins).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A request header by its lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first multipart form field called `name` (`fields` holds them all, in order).
    pub fn field(&self, name: &str) -> Option<&FormField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The media type of the body without parameters, lower-cased (`image/png`).
    pub fn media_type(&self) -> Option<String> {
        self.content_type.as_deref().map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }
}

impl Response {
    /// The response with one more header. The host refuses framing, cookie and server
    /// headers (`content-length`, `set-cookie`, `x-request-id`, ...; see the WIT file).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            body: Vec::new(),
            content_type: Some("Image/PNG; charset=binary".into()),
            headers: vec![("x-trace".into(), "abc".into())],
            parameters: vec![("topk".into(), "5".into()), ("topk".into(), "3".into())],
            fields: vec![FormField {
                name: "question".into(),
                filename: None,
                content_type: Some("text/plain".into()),
                data: b"why?".to_vec(),
            }],
        }
    }

    #[test]
    fn later_parameters_win() {
        assert_eq!(request().param("topk"), Some("3"));
        assert_eq!(request().param("missing"), None);
    }

    #[test]
    fn header_lookup_ignores_case_of_the_query() {
        assert_eq!(request().header("X-Trace"), Some("abc"));
    }

    #[test]
    fn form_fields_by_name() {
        assert_eq!(request().field("question").unwrap().data, b"why?");
        assert!(request().field("image").is_none());
    }

    #[test]
    fn media_type_drops_parameters() {
        assert_eq!(request().media_type().as_deref(), Some("image/png"));
    }
}
