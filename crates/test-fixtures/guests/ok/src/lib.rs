//! The well-behaved handler: JSON floats in, a tensor out; echoes the outputs back as JSON.

use ferroserve_handler::{json, Handler, HandlerError, Prepared, Request, Response, Tensor};

struct WellBehaved;

impl Handler for WellBehaved {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let values: Vec<f32> = json::from_body(&request)?;
        if values.is_empty() {
            return Err(HandlerError::bad_input("send a non-empty JSON array of numbers, e.g. [1, 2, 3]"));
        }
        ferroserve_handler::log::info(&format!("preprocess {} values", values.len()));
        // Readable archive files are optional here; their size goes into the context.
        let labels = std::fs::read_to_string("/labels.txt").unwrap_or_default();
        let input = Tensor::from_slice("input", &[values.len() as u64], &values)?;
        Ok(Prepared { inputs: vec![input], context: labels.into_bytes() })
    }

    fn postprocess(outputs: Vec<Tensor>, context: Vec<u8>) -> Result<Response, HandlerError> {
        let mut out = serde_json::Map::new();
        for t in &outputs {
            out.insert(t.name.clone(), serde_json::json!(t.to_vec::<f32>()?));
        }
        let labels = String::from_utf8_lossy(&context).lines().count();
        json::response(&serde_json::json!({ "outputs": out, "labels": labels }))
    }
}

ferroserve_handler::export!(WellBehaved);
