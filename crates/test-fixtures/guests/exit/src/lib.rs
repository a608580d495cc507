//! Hostile: calls `exit(3)` in preprocess instead of returning an error (WASI 0.2 carries
//! only success or failure, so the host sees exit code 1).

use ferroserve_handler::{Handler, HandlerError, Prepared, Request, Response, Tensor};

struct Exit;

impl Handler for Exit {
    fn preprocess(_request: Request) -> Result<Prepared, HandlerError> {
        std::process::exit(3)
    }

    fn postprocess(_outputs: Vec<Tensor>, _context: Vec<u8>) -> Result<Response, HandlerError> {
        std::process::exit(4)
    }
}

ferroserve_handler::export!(Exit);
