//! The smallest handler: one scalar tensor out, a fixed response back. For measuring the
//! fixed cost of a call.

use ferroserve_handler::{Handler, HandlerError, Prepared, Request, Response, Tensor};

struct Noop;

impl Handler for Noop {
    fn preprocess(_request: Request) -> Result<Prepared, HandlerError> {
        let t = Tensor::from_slice("input", &[], &[1.0f32])?;
        Ok(Prepared { inputs: vec![t], context: Vec::new() })
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        Ok(Response { body: b"ok".to_vec(), content_type: "text/plain".into(), status: 200, headers: Vec::new() })
    }
}

ferroserve_handler::export!(Noop);
