//! Hostile: returns a tensor whose bytes do not match its shape.

use ferroserve_handler::{json, Handler, HandlerError, Prepared, Request, Response, Tensor};
use ferroserve_handler::Dtype;

struct Malformed;

impl Handler for Malformed {
    fn preprocess(_request: Request) -> Result<Prepared, HandlerError> {
        let t = Tensor { name: "input".into(), dtype: Dtype::F32, shape: vec![4], data: vec![0u8; 3] };
        Ok(Prepared { inputs: vec![t], context: Vec::new() })
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        json::response("unreachable")
    }
}

ferroserve_handler::export!(Malformed);
