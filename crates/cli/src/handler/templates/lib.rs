//! The {{name}} handler: pre- and post-processing for one model, run by ferroserve in a
//! WebAssembly sandbox (a fresh instance per request). The model itself runs natively.
//!
//! The loop: edit this file, then `ferroserve handler build` and
//! `ferroserve handler test --model model.pt --input sample.json`.

use ferroserve_handler::{Handler, HandlerError, Prepared, Request, Response, Tensor, json};

/// ONE request's input tensor, without the batch dimension (the server stacks requests
/// into [N, ...INPUT_SHAPE] and passes tensors to forward() in the order returned here).
const INPUT_NAME: &str = "input";
const INPUT_SHAPE: [u64; 1] = [4];

struct MyHandler;

impl Handler for MyHandler {
    fn preprocess(request: Request) -> Result<Prepared, HandlerError> {
        let values: Vec<f32> = json::from_body(&request)?;
        let need = INPUT_SHAPE.iter().product::<u64>() as usize;
        if values.len() != need {
            return Err(HandlerError::bad_input(format!(
                "send {need} numbers as a JSON array (shape {INPUT_SHAPE:?}), got {}",
                values.len()
            )));
        }
        let input = Tensor::from_slice(INPUT_NAME, &INPUT_SHAPE, &values)?;
        Ok(Prepared { inputs: vec![input], context: Vec::new() })
    }

    fn postprocess(outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        let scores: Vec<f32> = outputs
            .first()
            .ok_or_else(|| HandlerError::internal("the model returned no output"))?
            .to_vec()?;
        let best = (0..scores.len()).fold(0, |b, i| if scores[i] > scores[b] { i } else { b });
        json::response(&serde_json::json!({ "class": best, "scores": scores }))
    }
}

ferroserve_handler::export!(MyHandler);
