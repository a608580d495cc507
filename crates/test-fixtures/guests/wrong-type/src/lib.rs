//! The handler interface's function names with the wrong types: the sandbox must refuse it
//! at load time (a type check of the exports), not fail every call.

wit_bindgen::generate!({ path: "wit", world: "handler-world" });

use exports::ferroserve::handler::handler::Guest;

struct Wrong;

impl Guest for Wrong {
    fn preprocess(request: u32) -> u32 {
        request + 1
    }

    fn postprocess(_outputs: Vec<u8>, _context: Vec<u8>) -> String {
        "wrong".into()
    }
}

export!(Wrong);
