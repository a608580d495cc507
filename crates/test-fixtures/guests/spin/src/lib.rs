//! Hostile: never returns from preprocess (the CPU deadline must stop it).

use ferroserve_handler::{json, Handler, HandlerError, Prepared, Request, Response, Tensor};

struct Spin;

impl Handler for Spin {
    fn preprocess(_request: Request) -> Result<Prepared, HandlerError> {
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        json::response("unreachable")
    }
}

ferroserve_handler::export!(Spin);
