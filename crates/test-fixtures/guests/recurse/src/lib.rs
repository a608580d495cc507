//! Hostile: unbounded recursion (the wasm stack limit must stop it).

use ferroserve_handler::{json, Handler, HandlerError, Prepared, Request, Response, Tensor};

struct Recurse;

#[inline(never)]
#[allow(unconditional_recursion)]
fn deeper(n: u64, pad: [u64; 16]) -> u64 {
    let pad = std::hint::black_box(pad);
    deeper(n + 1, pad).wrapping_add(pad[(n % 16) as usize])
}

impl Handler for Recurse {
    fn preprocess(_request: Request) -> Result<Prepared, HandlerError> {
        let n = deeper(0, [1; 16]);
        Err(HandlerError::internal(format!("returned {n}")))
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        json::response("unreachable")
    }
}

ferroserve_handler::export!(Recurse);
