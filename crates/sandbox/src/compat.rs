//! A `ferroserve:handler@0.1.0` component's calls in the host's 0.2.0 types. 0.2.0 only
//! added fields, so the mapping drops them going in (`request.fields`) and fills them
//! empty coming out (`response.headers`); the shared types are copied field by field.

use crate::SandboxError;
use crate::bindings::{self as wit, v1};

/// The 0.1.0 request, or why this request cannot reach a 0.1.0 handler: a form whose
/// input field it cannot tell apart (0.1.0 sees only `body`).
pub(crate) fn request(r: &wit::Request) -> Result<v1::Request, SandboxError> {
    if r.body.is_empty() && !r.fields.is_empty() {
        let names: Vec<&str> = r.fields.iter().map(|f| f.name.as_str()).collect();
        return Err(SandboxError::BadInput(format!(
            "the form has fields {names:?}; this model's handler (ferroserve:handler@0.1.0) reads one field: name it \"data\" (or \"body\")"
        )));
    }
    Ok(v1::Request {
        body: r.body.clone(),
        content_type: r.content_type.clone(),
        headers: r.headers.clone(),
        parameters: r.parameters.clone(),
    })
}

pub(crate) fn tensor(t: &wit::Tensor) -> v1::Tensor {
    v1::Tensor {
        name: t.name.clone(),
        dtype: dtype(t.dtype),
        shape: t.shape.clone(),
        data: t.data.clone(),
    }
}

pub(crate) fn prepared(p: v1::Prepared) -> wit::Prepared {
    wit::Prepared {
        inputs: p
            .inputs
            .into_iter()
            .map(|t| wit::Tensor {
                name: t.name,
                dtype: dtype_back(t.dtype),
                shape: t.shape,
                data: t.data,
            })
            .collect(),
        context: p.context,
    }
}

pub(crate) fn response(r: v1::Response) -> wit::Response {
    wit::Response {
        body: r.body,
        content_type: r.content_type,
        status: r.status,
        headers: Vec::new(),
    }
}

pub(crate) fn error(e: v1::HandlerError) -> wit::HandlerError {
    match e {
        v1::HandlerError::BadInput(m) => wit::HandlerError::BadInput(m),
        v1::HandlerError::Internal(m) => wit::HandlerError::Internal(m),
    }
}

pub(crate) fn level(l: v1::ferroserve::handler::log::Level) -> wit::Level {
    use v1::ferroserve::handler::log::Level as L;
    match l {
        L::Trace => wit::Level::Trace,
        L::Debug => wit::Level::Debug,
        L::Info => wit::Level::Info,
        L::Warn => wit::Level::Warn,
        L::Error => wit::Level::Error,
    }
}

fn dtype(d: wit::Dtype) -> v1::Dtype {
    use wit::Dtype as D;
    match d {
        D::F32 => v1::Dtype::F32,
        D::F16 => v1::Dtype::F16,
        D::Bf16 => v1::Dtype::Bf16,
        D::F64 => v1::Dtype::F64,
        D::I64 => v1::Dtype::I64,
        D::I32 => v1::Dtype::I32,
        D::I8 => v1::Dtype::I8,
        D::U8 => v1::Dtype::U8,
        D::Boolean => v1::Dtype::Boolean,
    }
}

fn dtype_back(d: v1::Dtype) -> wit::Dtype {
    use v1::Dtype as D;
    match d {
        D::F32 => wit::Dtype::F32,
        D::F16 => wit::Dtype::F16,
        D::Bf16 => wit::Dtype::Bf16,
        D::F64 => wit::Dtype::F64,
        D::I64 => wit::Dtype::I64,
        D::I32 => wit::Dtype::I32,
        D::I8 => wit::Dtype::I8,
        D::U8 => wit::Dtype::U8,
        D::Boolean => wit::Dtype::Boolean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtypes_round_trip_through_0_1_0() {
        use wit::Dtype as D;
        for d in [
            D::F32,
            D::F16,
            D::Bf16,
            D::F64,
            D::I64,
            D::I32,
            D::I8,
            D::U8,
            D::Boolean,
        ] {
            assert_eq!(dtype_back(dtype(d)), d);
        }
    }

    #[test]
    fn a_form_without_an_input_field_is_bad_input_for_0_1_0() {
        let field = |name: &str| wit::FormField {
            name: name.into(),
            filename: None,
            content_type: None,
            data: b"x".to_vec(),
        };
        let r = wit::Request {
            body: Vec::new(),
            content_type: None,
            headers: Vec::new(),
            parameters: Vec::new(),
            fields: vec![field("image"), field("question")],
        };
        let err = request(&r).unwrap_err();
        assert_eq!(err.kind(), "HandlerBadInput");
        assert!(
            err.to_string().contains(r#"["image", "question"]"#),
            "{err}"
        );
    }
}
