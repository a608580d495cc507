//! Entry-name rules: relative, `/`-separated paths that stay inside the archive.

use crate::ArchiveError;

/// Check one entry name. Directory entries end with `/`.
pub(crate) fn check_name(name: &str) -> Result<(), ArchiveError> {
    let bad = |reason| {
        Err(ArchiveError::UnsafePath {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 1024 {
        return bad("it is longer than 1024 bytes");
    }
    if name.contains('\0') || name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    if name.contains('\\') {
        return bad("it contains a backslash");
    }
    if name.starts_with('/') {
        return bad("it is an absolute path");
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return bad("it starts with a drive letter");
    }
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    for part in trimmed.split('/') {
        match part {
            ".." => return bad("it has a `..` component"),
            "." => return bad("it has a `.` component"),
            "" => return bad("it has an empty component"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_name;

    fn reason(name: &str) -> &'static str {
        match check_name(name) {
            Err(crate::ArchiveError::UnsafePath { reason, .. }) => reason,
            other => panic!("{name:?}: {other:?}"),
        }
    }

    #[test]
    fn accepts_plain_relative_names() {
        for n in [
            "model.pt",
            "MAR-INF/MANIFEST.json",
            "vocab/en.txt",
            "dir/",
            "a..b",
        ] {
            check_name(n).unwrap();
        }
    }

    #[test]
    fn refuses_escaping_names() {
        assert_eq!(reason("../x"), "it has a `..` component");
        assert_eq!(reason("a/../../x"), "it has a `..` component");
        assert_eq!(reason("/etc/passwd"), "it is an absolute path");
        assert_eq!(reason("C:/x"), "it starts with a drive letter");
        assert_eq!(reason("a\\..\\x"), "it contains a backslash");
        assert_eq!(reason("a//b"), "it has an empty component");
        assert_eq!(reason("./a"), "it has a `.` component");
        assert_eq!(reason("a\0b"), "it contains a control character");
        assert_eq!(reason(""), "it is empty");
    }
}
