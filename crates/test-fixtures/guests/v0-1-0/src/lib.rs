//! A handler of the first contract, `ferroserve:handler@0.1.0`, bound straight from
//! `wit/handler.wit` (the SDK is on 0.2.0): JSON floats in, an f32 tensor out; the outputs
//! back as JSON. The sandbox must keep loading and running components like this one.

wit_bindgen::generate!({ path: "../../../../wit/handler.wit", world: "handler-world" });

use exports::ferroserve::handler::handler::Guest;
use ferroserve::handler::types::{Dtype, HandlerError, Prepared, Request, Response, Tensor};

struct Legacy;

impl Guest for Legacy {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let values: Vec<f32> = serde_json::from_slice(&request.body)
            .map_err(|e| HandlerError::BadInput(format!("send a JSON array of numbers: {e}")))?;
        ferroserve::handler::log::log(ferroserve::handler::log::Level::Info, "0.1.0 preprocess");
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Ok(Prepared {
            inputs: vec![Tensor { name: "input".into(), dtype: Dtype::F32, shape: vec![values.len() as u64], data }],
            context: b"v0.1.0".to_vec(),
        })
    }

    fn postprocess(outputs: Vec<Tensor>, context: Vec<u8>) -> Result<Response, HandlerError> {
        let values: Vec<f32> = outputs[0].data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        let body = serde_json::json!({ "outputs": values, "context": String::from_utf8_lossy(&context) });
        Ok(Response { body: body.to_string().into_bytes(), content_type: "application/json".into(), status: 200 })
    }
}

export!(Legacy);
