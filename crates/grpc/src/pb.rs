//! The generated protobuf messages, servers and clients, one module per proto package
//! (prost's generated code names other packages by relative paths, so the tree mirrors
//! the packages).

#![allow(clippy::all, missing_docs, rustdoc::all)]

pub mod google {
    pub mod rpc {
        include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
    }
}

pub mod org {
    pub mod pytorch {
        pub mod serve {
            pub mod grpc {
                pub mod inference {
                    include!(concat!(
                        env!("OUT_DIR"),
                        "/org.pytorch.serve.grpc.inference.rs"
                    ));
                }
                pub mod management {
                    include!(concat!(
                        env!("OUT_DIR"),
                        "/org.pytorch.serve.grpc.management.rs"
                    ));
                }
            }
        }
    }
}

/// KServe v2 / Triton (`package inference`).
pub mod inference {
    include!(concat!(env!("OUT_DIR"), "/inference.rs"));
}

pub use org::pytorch::serve::grpc::{inference as ts_inference, management as ts_management};
