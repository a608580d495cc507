//! Hostile: panics with a recognisable message.

use ferroserve_handler::{json, Handler, HandlerError, Prepared, Request, Response, Tensor};

struct Panic;

impl Handler for Panic {
    fn preprocess(_request: Request) -> Result<Prepared, HandlerError> {
        panic!("fixture panicked on purpose");
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        json::response("unreachable")
    }
}

ferroserve_handler::export!(Panic);
