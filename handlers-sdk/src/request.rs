//! Lookups on a [`Request`].

use crate::Request;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            body: Vec::new(),
            content_type: Some("Image/PNG; charset=binary".into()),
            headers: vec![("x-trace".into(), "abc".into())],
            parameters: vec![("topk".into(), "5".into()), ("topk".into(), "3".into())],
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
    fn media_type_drops_parameters() {
        assert_eq!(request().media_type().as_deref(), Some("image/png"));
    }
}
