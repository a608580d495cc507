//! 0.2.0's additions: every multipart field reaches the handler and the response carries
//! headers. preprocess puts the body's bytes in a u8 tensor (a byte when empty) and a JSON
//! description of every field in the context; postprocess answers that description with
//! `x-fields: N`, plus the header named by the `header` parameter (for the host's refusals).

use ferroserve_handler::{json, Handler, HandlerError, Prepared, Request, Response, Tensor};

struct FormEcho;

impl Handler for FormEcho {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let fields: Vec<_> = request
            .fields
            .iter()
            .map(|f| serde_json::json!({
                "name": f.name, "filename": f.filename, "content_type": f.content_type,
                "text": String::from_utf8_lossy(&f.data),
            }))
            .collect();
        let extra = request.param("header").map(str::to_owned);
        let context = serde_json::json!({
            "body": String::from_utf8_lossy(&request.body), "fields": fields, "header": extra,
        });
        let body = if request.body.is_empty() { vec![0] } else { request.body.clone() };
        let input = Tensor::from_slice("input", &[body.len() as u64], &body)?;
        Ok(Prepared { inputs: vec![input], context: context.to_string().into_bytes() })
    }

    fn postprocess(_outputs: Vec<Tensor>, context: Vec<u8>) -> Result<Response, HandlerError> {
        let seen: serde_json::Value = serde_json::from_slice(&context).map_err(|e| HandlerError::internal(e.to_string()))?;
        let n = seen["fields"].as_array().map_or(0, Vec::len);
        let mut response = json::response(&seen)?.with_header("x-fields", n.to_string());
        if let Some(name) = seen["header"].as_str() {
            response = response.with_header(name, "from-the-handler");
        }
        Ok(response)
    }
}

ferroserve_handler::export!(FormEcho);
